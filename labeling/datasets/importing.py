"""Import a YOLO, COCO, Pascal VOC or CVAT dataset into a project.

Boxes are original-image pixels, ``(x, y)`` top-left corner plus ``w``/``h``, here and in
:mod:`labeling.datasets.formats` (which does the file layouts). Export is
:mod:`labeling.datasets.exporting`; the file names that carry a frame's identity
(``v{video_id}_f{frame_index:06d}.<ext>``) are :mod:`labeling.datasets.exchange`'s.

Import (:func:`dataset_import`) is all or nothing. It unpacks a zip safely
(:mod:`labeling.datasets.archives`), reads and checks the whole dataset with the format's
reader, checks every image by decoding it, and maps class names to the project's classes; any
problem raises one ``ValidationError`` listing the first problems, and nothing is stored.
Images are then copied into storage (``store_folder``: an import job's own folder, so that
what a killed worker stored can be swept, see :mod:`labeling.datasets.job_services`), and
the rows are written in one transaction; if that fails, the stored files are deleted again.
The image checks (full decode, sizes, EXIF orientation, sha256, the polyglot rule) run in the
sandboxed checker (:mod:`labeling.datasets.import_images`). Each image either

- matches a frame of this project: by an exported name ``v{video_id}_f{frame_index}`` of one
  of the project's videos, or by content (imported images are stored under their sha256, so
  re-importing a third-party dataset also updates rather than duplicates). Its boxes, negative
  flag and split are replaced (status ``labeled``, annotation version + 1) unless they are
  already the same; or
- becomes a frame of a new image set (a ``Video`` of kind ``imageset``) made for this import,
  with status ``labeled``.

An image without boxes is a labeled negative, as every format defines it; except that it
leaves an *unlabeled* frame it matches unlabeled: formats cannot tell "not labeled yet" from
"no animal", and marking unlabeled frames as empty would teach a detector to miss mice. An image
the reader marks ``unlabeled`` (a VOC ImageSets id without annotation file) becomes an
unlabeled frame without split, and changes nothing in a frame it matches.

Each new frame remembers the image's name and folder in the dataset (``Frame.source_name``),
which exports use again; a re-imported export matches frames of image sets by that name when
the content is the same (sha256 of the stored file).

The result names the layout read (``ImportResult.layout``, e.g. "COCO as Roboflow exports it
(<split>/_annotations.coco.json)") and carries the reader's warnings.
"""

from __future__ import annotations

import io
import shutil
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, ImageOps

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from media.probe import VideoProbeError, VideoSampleError
from media.sampling import sample_indices
from webapp.storage import delete_quietly, scratch_workdir, store_file

from ..models import Box, Frame, Project, Video
from ..services import label_class_add
from ..videos.sampling_services import FRAME_JPEG_QUALITY
from . import archives
from .exchange import (
    AUTO,
    accepted_layouts_text,
    check_format,
    problem_messages,
)
from .formats import (
    FORMATS,
    LAYOUTS_BY_FORMAT,
    Dataset,
    FormatError,
    cvat,
    detect_layout,
)
from .formats.files import pillow_open
from .import_images import IncomingImage, Progress, inspect_images
from .import_matching import content_name, id_chunks, imported_folder, match_frames
from .pose_import import pose_import_plan, pose_skeleton_create

MAX_BOXES_PER_IMAGE = 1000  # as the editor allows per frame
MAX_CLASS_NAME_CHARS = 64
_ID_CHUNK = 500


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class ImportResult:
    fmt: str
    images: int
    frames_created: int
    frames_updated: int
    frames_unchanged: int
    frames_left_unlabeled: int
    boxes: int
    classes_created: list[str]
    imageset_id: int | None
    layout: str = ""
    warnings: tuple[str, ...] = ()


def import_archive_limits() -> archives.ArchiveLimits:
    default = archives.ArchiveLimits()
    return archives.ArchiveLimits(
        max_entries=getattr(settings, "DATASET_IMPORT_MAX_ENTRIES", default.max_entries),
        max_total_bytes=getattr(settings, "DATASET_IMPORT_MAX_BYTES", default.max_total_bytes),
        max_ratio=getattr(settings, "DATASET_IMPORT_MAX_RATIO", default.max_ratio),
    )


def _dataset_root(root: Path) -> Path:
    """Look into folders that hold nothing but one folder: zips often wrap the dataset."""
    for _ in range(3):
        if detect_layout(root) is not None:
            break
        entries = [p for p in root.iterdir() if not archives.is_junk(p.name)]
        if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
            root = entries[0]
        else:
            break
    return root


def dataset_display_name(name: str) -> str:
    """Display text: no control or invisible characters (RTL overrides hide extensions)."""
    cleaned = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return cleaned[:200] or "dataset"


def dataset_import(
    *,
    project: Project,
    fmt: str,
    path: Path,
    created_by,
    create_missing_classes: bool = False,
    source_name: str = "",
    progress: Progress | None = None,
    store_folder: str | None = None,
    before_commit: Callable[[], None] | None = None,
) -> ImportResult:
    """Import the dataset at ``path`` (a zip file or a folder) in format ``fmt`` (or
    ``"auto"``) into ``project``; see the module docstring. ``source_name`` is display text
    for the new image set (defaults to the file or folder name). ``progress`` (see
    :data:`Progress`) reports how far it got.

    ``store_folder``: the storage folder new images go to (a job's own, so that what a
    killed attempt stored can be found again; the project's imported folder by default).
    ``before_commit`` runs inside the transaction that writes the rows, before them; it may
    raise to abandon the import (a job checks it is still the one running).

    ValidationError (``format``, ``file`` or ``classes``) lists the problems; then no row
    and no stored file was added.
    """
    check_format(fmt, allow_auto=True)
    progress = progress or _no_progress
    path = Path(path)
    source_name = dataset_display_name(source_name or path.name)
    work: Path | None = None
    decoded: Path | None = None
    try:
        if path.is_dir():
            root = path
        elif path.is_file():
            if not archives.is_zip(path):
                raise ValidationError({"file": "The dataset must be a zip archive."})
            work = scratch_workdir("imports", "import-")
            try:
                archives.extract_zip(path, work, import_archive_limits())
            except archives.ArchiveError as exc:
                raise ValidationError(
                    {"file": problem_messages([f"archive: {p}" for p in exc.problems])}
                ) from None
            root = work
        else:
            raise ValidationError({"file": f"{path} is neither a zip file nor a folder."})
        root = _dataset_root(root)
        layout = detect_layout(root)
        detected = layout.fmt if layout else None
        if fmt == AUTO:
            if detected is None:
                raise ValidationError(
                    {
                        "format": (
                            "Could not tell the dataset format: no layout it accepts was found "
                            "at the top of the archive. Accepted layouts: "
                            f"{accepted_layouts_text()}."
                        )
                    }
                )
            fmt = detected
        # CVAT for video without its frame images: decode them from the video beside it.
        decoded = _decode_cvat_video_frames(root) if fmt == "cvat" else None
        options = {"frames_dir": decoded} if decoded is not None else {}
        try:
            dataset, resolve = FORMATS[fmt].read(root, **options)
        except FormatError as exc:
            problems = list(exc.problems)
            if detected and detected != fmt:
                problems.insert(
                    0, f"this looks like a {detected.upper()} dataset, not {fmt.upper()}"
                )
            elif detected is None:
                problems.append(
                    f"{fmt.upper()} layouts accepted: {'; '.join(LAYOUTS_BY_FORMAT[fmt])}"
                )
            raise ValidationError({"file": problem_messages(problems, exc.total)}) from None
        new_skeleton = pose_import_plan(project=project, dataset=dataset)
        incoming, to_create = _plan(
            project=project,
            dataset=dataset,
            resolve=resolve,
            create_missing_classes=create_missing_classes,
            progress=progress,
        )
        result = _apply(
            project=project,
            fmt=fmt,
            incoming=incoming,
            to_create=to_create,
            created_by=created_by,
            source_name=source_name,
            progress=progress,
            scratch_folders=tuple(f for f in (work, decoded) if f is not None),
            store_folder=store_folder or imported_folder(project),
            before_commit=before_commit,
            new_skeleton=new_skeleton,
        )
        return replace(result, layout=dataset.layout, warnings=tuple(dataset.warnings))
    finally:
        for folder in (work, decoded):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)


def _decode_cvat_video_frames(root: Path) -> Path | None:
    """A scratch folder of the frames a CVAT for video dataset covers but holds no image
    of, decoded (in the sandboxed decoder) from the video beside its annotations.xml; None
    when nothing needs decoding. The caller removes the folder."""
    video, needed = cvat.video_frames_needed(root)
    if video is None or not needed:
        return None
    target = scratch_workdir("imports", "cvat-frames-")
    try:
        for sampled in sample_indices(video, needed):
            Image.fromarray(sampled.image[:, :, ::-1]).save(
                target / f"frame_{sampled.index:06d}.jpg", "JPEG", quality=FRAME_JPEG_QUALITY
            )
    except (VideoProbeError, VideoSampleError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise ValidationError(
            {"file": f"{video.name}: the frames the tracks cover cannot be decoded: {exc}"}
        ) from None
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def _plan(
    *,
    project: Project,
    dataset: Dataset,
    resolve,
    create_missing_classes: bool,
    progress: Progress = _no_progress,
) -> tuple[list[IncomingImage], list[str]]:
    """Check everything the database and storage will need; ValidationError lists problems."""
    problems: list[str] = []
    if not dataset.images:
        raise ValidationError({"file": "The dataset holds no images."})
    to_create = _plan_classes(
        project=project,
        dataset=dataset,
        create_missing_classes=create_missing_classes,
        problems=problems,
    )
    incoming = [IncomingImage(image=image, source=resolve(image)) for image in dataset.images]
    for item, reason in inspect_images(incoming, progress=progress):
        image = item.image
        if len(image.boxes) > MAX_BOXES_PER_IMAGE:
            problems.append(
                f"{image.file_name}: {len(image.boxes)} boxes (at most "
                f"{MAX_BOXES_PER_IMAGE} per image)"
            )
        if reason:
            problems.append(f"{image.file_name}: {reason}")
    if not problems:
        match_frames(project=project, incoming=incoming, problems=problems)
    if problems:
        raise ValidationError({"file": problem_messages(problems)})
    return incoming, to_create


def _plan_classes(
    *, project: Project, dataset: Dataset, create_missing_classes: bool, problems: list[str]
) -> list[str]:
    """Names of classes to create; class names match the project's ignoring case."""
    known = {c.casefold(): c for c in project.classes.values_list("name", flat=True)}
    used: Counter[str] = Counter()
    first_use: dict[str, str] = {}
    for image in dataset.images:
        for box in image.boxes:
            used[box.class_name] += 1
            first_use.setdefault(box.class_name, image.file_name)
    to_create: list[str] = []
    for name in [*dataset.classes, *used]:
        key = name.strip().casefold()
        if key in known:
            continue
        if name in used and not create_missing_classes:
            listed = ", ".join(sorted(known.values())) or "none"
            problems.append(
                f"class {name!r} ({used[name]} box{'es' if used[name] != 1 else ''}, e.g. in "
                f"{first_use[name]}) is not one of the project's classes ({listed})"
            )
            known[key] = name  # reported once
            continue
        if not create_missing_classes:
            continue  # declared but unused: nothing needs it
        if not name.strip() or len(name.strip()) > MAX_CLASS_NAME_CHARS:
            problems.append(
                f"class {name[:80]!r}: a class name needs 1 to {MAX_CLASS_NAME_CHARS} characters"
            )
        to_create.append(name.strip())
        known[key] = name
    return to_create


def _store_image(folder: str, item: IncomingImage) -> str:
    name = content_name(folder, item)
    if not item.convert:
        return store_file(local_path=item.source, name=name, move=item.movable)
    with pillow_open()(item.source) as img:
        out = ImageOps.exif_transpose(img) if item.transpose else img.copy()
    buffer = io.BytesIO()
    if item.ext == "jpg":
        if out.mode not in ("RGB", "L", "CMYK"):
            out = out.convert("RGB")
        out.save(buffer, "JPEG", quality=95)
    else:
        if out.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
            out = out.convert("RGBA" if "A" in out.getbands() else "RGB")
        out.save(buffer, "PNG")
    return default_storage.save(name, ContentFile(buffer.getvalue()))


def _apply(
    *,
    project: Project,
    fmt: str,
    incoming: list[IncomingImage],
    to_create: list[str],
    created_by,
    source_name: str,
    progress: Progress = _no_progress,
    scratch_folders: tuple[Path, ...] = (),
    store_folder: str,
    before_commit: Callable[[], None] | None = None,
    new_skeleton=None,
) -> ImportResult:
    new = [item for item in incoming if item.frame is None]
    # Files the import unpacked itself (not a caller's folder) are moved into storage rather
    # than copied, when no other image of the dataset reads the same file.
    real = {id(item): item.source.resolve() for item in incoming}
    uses = Counter(real.values())
    folders = [folder.resolve() for folder in scratch_folders]
    stored: list[str] = []
    try:
        for done, item in enumerate(new):
            progress("storing", done, len(new))
            source = real[id(item)]
            item.movable = uses[source] == 1 and any(source.is_relative_to(f) for f in folders)
            item.stored = _store_image(store_folder, item)
            stored.append(item.stored)
        progress("saving", len(new), len(new))
        with transaction.atomic():
            if before_commit is not None:
                before_commit()
            pose_skeleton_create(project=project, skeleton=new_skeleton)
            result = _write_rows(
                project=project,
                fmt=fmt,
                incoming=incoming,
                new=new,
                to_create=to_create,
                created_by=created_by,
                source_name=source_name,
            )
    except BaseException:
        delete_quietly(*stored)
        raise
    return result


def _write_rows(
    *,
    project: Project,
    fmt: str,
    incoming: list[IncomingImage],
    new: list[IncomingImage],
    to_create: list[str],
    created_by,
    source_name: str,
) -> ImportResult:
    for name in to_create:
        label_class_add(project=project, name=name)
    class_ids = {c.casefold(): pk for pk, c in project.classes.values_list("pk", "name")}
    for item in incoming:
        item.boxes = sorted(
            (class_ids[b.class_name.strip().casefold()], b.x, b.y, b.w, b.h, b.keypoints)
            for b in item.image.boxes
        )
    now = timezone.now()
    imageset = None
    if new:
        first = new[0].image
        imageset = Video.objects.create(
            project=project,
            kind=Video.Kind.IMAGE_SET,
            original_name=f"{source_name} ({fmt.upper()} import)"[:255],
            frame_count=len(new),
            width=first.width,
            height=first.height,
            size_bytes=sum(item.size_bytes for item in new),
            created_by=created_by,
        )
        frames = Frame.objects.bulk_create(
            [
                _new_frame(imageset, i, item, created_by=created_by, now=now)
                for i, item in enumerate(new)
            ],
            batch_size=_ID_CHUNK,
        )
        Box.objects.bulk_create(
            [
                Box(frame=frame, label_class_id=c, x=x, y=y, w=w, h=h, keypoints=kp)
                for frame, item in zip(frames, new, strict=True)
                for c, x, y, w, h, kp in item.boxes
            ],
            batch_size=_ID_CHUNK,
        )
    updated, unchanged, left_unlabeled = _update_frames(
        incoming=[item for item in incoming if item.frame is not None],
        created_by=created_by,
        now=now,
    )
    return ImportResult(
        fmt=fmt,
        images=len(incoming),
        frames_created=len(new),
        frames_updated=updated,
        frames_unchanged=unchanged,
        frames_left_unlabeled=left_unlabeled,
        boxes=sum(len(item.boxes) for item in incoming),
        classes_created=to_create,
        imageset_id=imageset.pk if imageset else None,
    )


def _new_frame(imageset: Video, index: int, item: IncomingImage, *, created_by, now) -> Frame:
    """The row of a new frame of the import's image set (not saved)."""
    frame = Frame(
        project_id=imageset.project_id,
        video=imageset,
        frame_index=index,
        image=item.stored,
        source_name=item.image.file_name[:1024],
        width=item.image.width,
        height=item.image.height,
    )
    if item.image.unlabeled:
        # Nobody annotated it: an unlabeled frame, without split (assigned once labeled).
        frame.status, frame.is_negative, frame.split = Frame.Status.UNLABELED, False, ""
        return frame
    frame.status = Frame.Status.LABELED
    frame.is_negative = not item.boxes
    frame.split = item.image.split
    frame.annotation_version = 1
    frame.annotated_by = created_by
    frame.annotated_at = now
    return frame


def _box_key(box: tuple) -> tuple:
    """(class, x, y, w, h rounded, keypoints)."""
    return (box[0], *(round(v, 2) for v in box[1:5]), box[5])


def _update_frames(*, incoming: list[IncomingImage], created_by, now) -> tuple[int, int, int]:
    """Replace matched frames' annotations where they differ; (updated, unchanged, left
    unlabeled). Locked rows: a save from the editor meanwhile either lands before (and is
    replaced, its version bumped so the editor reloads) or waits and gets a conflict."""
    ids = [item.frame.pk for item in incoming]
    locked: dict[int, Frame] = {}
    current: dict[int, list[tuple]] = defaultdict(list)
    for chunk in id_chunks(ids):
        locked.update(Frame.objects.select_for_update().in_bulk(chunk))
        for row in Box.objects.filter(frame_id__in=chunk).values_list(
            "frame_id", "label_class_id", "x", "y", "w", "h", "keypoints"
        ):
            current[row[0]].append(row[1:])
    replaced: list[Frame] = []
    split_only: list[Frame] = []
    new_boxes: list[Box] = []
    unchanged = left_unlabeled = 0
    for item in incoming:
        frame = locked.get(item.frame.pk)
        if frame is None:
            raise ValidationError(
                {
                    "file": f"{item.image.file_name}: its frame was deleted "
                    "during the import; nothing was imported."
                }
            )
        if not item.boxes and frame.status == Frame.Status.UNLABELED:
            left_unlabeled += 1
            continue
        if item.image.unlabeled:
            unchanged += 1  # not annotated in the dataset: it says nothing about the frame
            continue
        same = (
            frame.status != Frame.Status.UNLABELED
            and frame.is_negative == (not item.boxes)
            and sorted(map(_box_key, current[frame.pk])) == sorted(map(_box_key, item.boxes))
        )
        new_split = item.image.split or frame.split
        if same:
            if new_split != frame.split:
                frame.split = new_split
                split_only.append(frame)
            else:
                unchanged += 1
            continue
        frame.split = new_split
        frame.status = Frame.Status.LABELED
        frame.is_negative = not item.boxes
        frame.annotation_version += 1
        frame.last_request_id = ""
        frame.annotated_by = created_by
        frame.annotated_at = now
        replaced.append(frame)
        new_boxes += [
            Box(frame=frame, label_class_id=c, x=x, y=y, w=w, h=h, keypoints=kp)
            for c, x, y, w, h, kp in item.boxes
        ]
    for chunk in id_chunks([f.pk for f in replaced]):
        Box.objects.filter(frame_id__in=chunk).delete()
    Box.objects.bulk_create(new_boxes, batch_size=_ID_CHUNK)
    Frame.objects.bulk_update(
        replaced,
        [
            "split",
            "status",
            "is_negative",
            "annotation_version",
            "last_request_id",
            "annotated_by",
            "annotated_at",
        ],
        batch_size=_ID_CHUNK,
    )
    Frame.objects.bulk_update(split_only, ["split"], batch_size=_ID_CHUNK)
    return len(replaced) + len(split_only), unchanged, left_unlabeled
