"""Dataset versions: freezing a project's labeled frames into an immutable manifest, and
writing a version in the YOLO layout for training.

A version is created in one go: frames that are labeled (or reviewed) and have no split yet
get one (``labeling.datasets.split_services.frames_assign_splits``: the project's ratios, seed and
"keep each video in one split" setting; frames that already have a split keep it), then the
manifest (format: :class:`labeling.models.DatasetVersion`) is written to media storage and
the row records its sha256 and counts. Later edits to frames never change a version.

Boxes in the manifest are original-image pixels, (x, y) top-left corner, then w, h.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path, PurePosixPath

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from webapp.storage import delete_quietly, local_copy, scratch_tempdir, store_file

from ..annotations.skeletons import skeleton_spec
from ..models import Box, DatasetVersion, Frame, Project
from .formats import yolo
from .formats.base import Dataset, DatasetImage
from .formats.manifest import manifest_canonical_json, manifest_hash, manifest_to_dataset
from .split_services import frames_assign_splits

LABELED_STATUSES = (Frame.Status.LABELED, Frame.Status.REVIEWED)
# Splits a training run cannot do without: Ultralytics trains on one and validates on the other.
REQUIRED_SPLITS = ("train", "val")


def _build_manifest(*, project: Project) -> dict:
    classes = list(project.classes.order_by("index").values_list("name", "index"))
    index_of = {}
    for position, (_, index) in enumerate(classes):
        if index != position:
            # Class indices are kept 0..n-1 by the class services; anything else is a bug.
            raise ValidationError({"classes": "Class indices are not 0..n-1; fix the classes."})
        index_of[index] = position
    boxes: dict[int, list[dict]] = {}
    box_rows = Box.objects.filter(
        frame__project=project, frame__status__in=LABELED_STATUSES
    ).values_list("frame_id", "label_class__index", "x", "y", "w", "h", "keypoints")
    skeleton = skeleton_spec(project=project)
    for frame_id, class_index, x, y, w, h, points in box_rows.order_by("frame_id", "id"):
        box = {"class_index": index_of[class_index], "x": x, "y": y, "w": w, "h": h}
        if points and skeleton is not None:
            box["keypoints"] = points
        boxes.setdefault(frame_id, []).append(box)
    frames = []
    frame_rows = project.frames.filter(status__in=LABELED_STATUSES).order_by("id")
    for frame in frame_rows.only("id", "image", "width", "height", "split", "video_id"):
        frames.append(
            {
                "frame_id": frame.pk,
                "image": frame.image.name,
                "width": frame.width,
                "height": frame.height,
                "split": frame.split,
                "video_id": frame.video_id,
                "boxes": boxes.get(frame.pk, []),
            }
        )
    manifest = {"classes": [name for name, _ in classes], "frames": frames}
    if skeleton is not None:
        manifest["skeleton"] = skeleton.to_dict()
    return manifest


def _counts(manifest: dict) -> tuple[dict[str, int], int]:
    counts = {"train": 0, "val": 0, "test": 0}
    boxes = 0
    for frame in manifest["frames"]:
        counts[frame["split"]] = counts.get(frame["split"], 0) + 1
        boxes += len(frame["boxes"])
    return counts, boxes


def dataset_version_create(*, project: Project, name: str, created_by) -> DatasetVersion:
    """Freeze the project's labeled frames into a new :class:`DatasetVersion`.

    Raises ``ValidationError`` (nothing written) when no frame is labeled, or when the train
    or validation split would be empty.
    """
    name = (name or "").strip()
    if len(name) > 120:
        raise ValidationError({"name": "A version name has at most 120 characters."})
    stored = ""
    try:
        with transaction.atomic():
            # Lock the project row: two versions created at once assign splits one by one.
            Project.objects.select_for_update().filter(pk=project.pk).first()
            if not project.frames.filter(status__in=LABELED_STATUSES).exists():
                raise ValidationError(
                    {
                        "frames": "No frame is labeled yet: label some frames (or mark them as "
                        "negatives) first."
                    }
                )
            frames_assign_splits(project=project)
            manifest = _build_manifest(project=project)
            counts, box_count = _counts(manifest)
            empty = [split for split in REQUIRED_SPLITS if not counts[split]]
            if empty:
                raise ValidationError(
                    {
                        "split": f"The {' and '.join(empty)} split would be empty "
                        f"({counts['train']} train, {counts['val']} val, {counts['test']} test "
                        "frames): label more frames or change the split ratios."
                    }
                )
            if not name:
                number = project.dataset_versions.count() + 1
                name = f"v{number} · {timezone.now():%Y-%m-%d %H:%M}"
            stored = _store_manifest(project=project, manifest=manifest)
            return DatasetVersion.objects.create(
                project=project,
                name=name,
                manifest=stored,
                content_hash=manifest_hash(manifest),
                classes=manifest["classes"],
                frame_counts=counts,
                box_count=box_count,
                created_by=created_by,
            )
    except BaseException:
        delete_quietly(stored)
        raise


def _store_manifest(*, project: Project, manifest: dict) -> str:
    text = manifest_canonical_json(manifest)
    with scratch_tempdir() as tmp:
        path = Path(tmp) / "manifest.json"
        path.write_text(text, encoding="utf-8")
        return store_file(local_path=path, name=f"datasets/{project.pk}/{uuid.uuid4().hex}.json")


def dataset_version_manifest(*, version: DatasetVersion) -> dict:
    """The version's manifest as stored (see :class:`DatasetVersion` for the format)."""
    with local_copy(version.manifest.name, suffix=".json") as path:
        return json.loads(path.read_text(encoding="utf-8"))


def dataset_versions_listing_frames(*, project_id: int, frame_ids) -> dict[str, set[int]]:
    """The project's dataset versions whose manifests list any of ``frame_ids``:
    {version name: the listed frame ids among them}. Deleting those frames would break
    the versions (and the models trained or evaluated on them)."""
    wanted = set(frame_ids)
    listing: dict[str, set[int]] = {}
    if not wanted:
        return listing
    for version in DatasetVersion.objects.filter(project_id=project_id).order_by("pk"):
        listed = wanted & {
            f["frame_id"] for f in dataset_version_manifest(version=version)["frames"]
        }
        if listed:
            listing.setdefault(version.name, set()).update(listed)
    return listing


def dataset_version_write_yolo(
    *, version: DatasetVersion, out_dir: Path, pose: bool = False
) -> Path:
    """Write ``version`` in the YOLO layout into ``out_dir`` (absent or empty); return
    its ``data.yaml``. ``pose``: with the keypoints and ``kpt_shape`` (a pose model's
    training); else boxes only, as a detector's training needs them (Ultralytics refuses
    label rows longer than 5 values there).

    Frame images are fetched through :func:`webapp.storage.local_copy`, so this works on a
    worker whose media live in object storage. Images are named ``<frame id><ext>``: stored
    names are not needed in the dataset, and a folder named ``images`` inside them would
    confuse Ultralytics' image-to-label path rule.
    """
    manifest = dataset_version_manifest(version=version)
    dataset = manifest_to_dataset(manifest)
    ids = {frame["image"]: frame["frame_id"] for frame in manifest["frames"]}
    stored_name: dict[str, str] = {}
    images = []
    for image in dataset.images:
        suffix = PurePosixPath(image.file_name).suffix.lower() or ".jpg"
        file_name = f"{ids[image.file_name]}{suffix}"
        stored_name[file_name] = image.file_name
        images.append(
            DatasetImage(
                file_name=file_name,
                width=image.width,
                height=image.height,
                split=image.split,
                boxes=[b if pose else replace(b, keypoints=[]) for b in image.boxes],
                is_negative=image.is_negative,
            )
        )

    def image_bytes(image: DatasetImage) -> bytes:
        # Bytes rather than a path: a temporary copy from object storage is gone once
        # local_copy's block ends.
        with local_copy(stored_name[image.file_name]) as path:
            return path.read_bytes()

    out_dir = Path(out_dir)
    skeleton = dataset.skeleton if pose else None
    yolo.write(Dataset(dataset.classes, images, skeleton=skeleton), out_dir, image_bytes)
    return out_dir / yolo.YAML_NAME


def dataset_version_for_user(*, user, version_id: int | str) -> DatasetVersion:
    """The version if ``user`` is a member of its project; 404 otherwise."""
    from ..selectors import object_for_user

    return object_for_user(
        DatasetVersion.objects.select_related("project", "created_by"),
        user=user,
        pk=version_id,
        what="dataset version",
    )
