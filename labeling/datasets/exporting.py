"""Export a project's annotations as a YOLO, COCO, Pascal VOC or CVAT dataset.

Boxes are original-image pixels, ``(x, y)`` top-left corner plus ``w``/``h``, here and in
:mod:`labeling.datasets.formats` (which does the file layouts).

Export (:func:`dataset_export`) takes the project's labeled and reviewed frames (negatives as
images without boxes), classes by their index, and copies each stored image under the name
:func:`labeling.datasets.exchange.export_file_names` gives: the image's own name and folder
for image sets and imported datasets, ``v{video_id}_f{frame_index:06d}`` for video frames
(importing it back updates those frames, see :mod:`labeling.datasets.importing`).
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from webapp.storage import local_copy, scratch_workdir

from ..annotations.skeletons import skeleton_spec
from ..models import Box, Frame, Project
from .exchange import EXPORT_SPLITS, check_format, export_file_names, problem_messages
from .formats import EXPORT_ONLY_FORMATS, FORMATS, Dataset, DatasetBox, DatasetImage, FormatError
from .formats.outputs import ZipOutput
from .selectors import dataset_frames

#: What an export reads of each frame (names, size, split, status, the stored image).
_EXPORT_FIELDS = (
    "id",
    "video_id",
    "frame_index",
    "image",
    "source_name",
    "status",
    "split",
    "width",
    "height",
)


@dataclass(frozen=True)
class ExportResult:
    fmt: str
    images: int
    boxes: int
    negatives: int
    path: Path
    unlabeled: int = 0  # unlabeled frames written (include_unlabeled)


def dataset_for_export(
    *,
    project: Project,
    split: str | None = None,
    include_unlabeled: bool = False,
    fmt: str = "",
) -> tuple[Dataset, dict[str, str]]:
    """The project's annotated frames as a :class:`Dataset`, and ``{file_name: stored image
    name}``. Class order is the classes' index (the YOLO class id). ``fmt`` is the format the
    names are for (YOLO renames an ``images`` folder inside a name)."""
    classes = list(project.classes.order_by("index").values_list("name", flat=True))
    images: list[DatasetImage] = []
    stored: dict[str, str] = {}
    selected = dataset_frames(project=project, split=split, include_unlabeled=include_unlabeled)
    frames = list(selected.only(*_EXPORT_FIELDS))
    # Boxes as plain rows in one query: model instances for 13,622 frames' boxes (and their
    # classes) took most of an export's time before the first image was written.
    boxes_of: dict[int, list[DatasetBox]] = defaultdict(list)
    rows = Box.objects.filter(frame__in=selected.values("pk")).order_by("frame_id", "id")
    for frame_id, name, x, y, w, h, points in rows.values_list(
        "frame_id", "label_class__name", "x", "y", "w", "h", "keypoints"
    ):
        boxes_of[frame_id].append(DatasetBox(name, x, y, w, h, points))
    names = export_file_names(frames, fmt)
    for frame in frames:
        boxes = boxes_of.get(frame.pk, [])
        name = names[frame.pk]
        unlabeled = frame.status == Frame.Status.UNLABELED
        images.append(
            DatasetImage(
                name,
                frame.width,
                frame.height,
                frame.split,
                boxes,
                is_negative=not boxes and not unlabeled,
                unlabeled=unlabeled,
            )
        )
        stored[name] = frame.image.name
    # Pose: the formats that can hold keypoints (COCO, YOLO) write them with the skeleton.
    skeleton = skeleton_spec(project=project)
    return Dataset(classes=classes, images=images, skeleton=skeleton), stored


class _StoredImages:
    """The writers' image source: a local file for each frame's stored image.

    Writers place one image before asking for the next, so each call releases the previous
    local copy (only a download from remote storage is a real copy)."""

    def __init__(
        self, stored: dict[str, str], progress: Callable[[str, int, int], None] | None = None
    ) -> None:
        self.stored = stored
        self.progress = progress
        self.done = 0
        self._stack = ExitStack()

    def __call__(self, image: DatasetImage) -> Path:
        if self.progress is not None:
            self.progress("writing", self.done, len(self.stored))
        self.done += 1
        self._stack.close()
        self._stack = ExitStack()
        return self._stack.enter_context(local_copy(self.stored[image.file_name]))

    def close(self) -> None:
        self._stack.close()


def dataset_export(
    *,
    project: Project,
    fmt: str,
    out_dir: Path | None = None,
    zip_path: Path | None = None,
    split: str | None = None,
    include_unlabeled: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> ExportResult:
    """Write the project's labeled/reviewed frames in ``fmt`` into ``out_dir`` (absent or
    empty) or as a new zip file ``zip_path`` (exactly one of them).

    ``split`` keeps one of train/val/test. Frames without a split go where the format puts
    unassigned images (YOLO: train; COCO and CVAT: the ``default`` subset; VOC: no ImageSets
    list). ``include_unlabeled`` adds unlabeled frames: VOC lists them in ImageSets/Main
    without an annotation file, as VOC means an image nobody annotated (imported back as
    unlabeled frames); the other formats cannot say so and write images without boxes, which
    they read as negatives (see the module docstring for what importing them back does).
    ValidationError names the problem; nothing is left behind on failure. ``progress(
    "writing", done, total)`` is called before each image is written; it may raise (a job's
    cancel) to stop the export.
    """
    check_format(fmt, allow_auto=False)
    if (out_dir is None) == (zip_path is None):
        raise ValueError("give exactly one of out_dir and zip_path")
    if split in ("", "all"):
        split = None
    if split is not None and split not in EXPORT_SPLITS:
        raise ValidationError({"split": f"Split must be one of {', '.join(EXPORT_SPLITS)}."})
    if zip_path is not None and Path(zip_path).exists():
        raise ValidationError({"out": f"{zip_path} already exists."})
    dataset, stored = dataset_for_export(
        project=project, split=split, include_unlabeled=include_unlabeled, fmt=fmt
    )
    if not dataset.images:
        which = f"in the {split} split" if split else "in this project"
        raise ValidationError({"split": f"There are no labeled frames {which} to export."})
    writer = {**FORMATS, **EXPORT_ONLY_FORMATS}[fmt]
    options: dict = {"absolute_path": zip_path is None} if fmt == "yolo" else {}
    source = _StoredImages(stored, progress)
    try:
        if out_dir is not None:
            writer.write(dataset, Path(out_dir), source, **options)
            path = Path(out_dir)
        else:
            writer.write(dataset, ZipOutput(Path(zip_path)), source, **options)
            path = Path(zip_path)
    except FormatError as exc:
        raise ValidationError(
            {"out": problem_messages(exc.problems, exc.total, what="nothing was exported")}
        ) from None
    except FileNotFoundError as exc:
        # A frame whose stored image vanished: the writers removed what they wrote.
        raise ValidationError({"out": f"A stored image is missing: {exc.filename}."}) from None
    finally:
        source.close()
    boxes = sum(len(im.boxes) for im in dataset.images)
    negatives = sum(1 for im in dataset.images if not im.boxes and not im.unlabeled)
    return ExportResult(
        fmt=fmt,
        images=len(dataset.images),
        boxes=boxes,
        negatives=negatives,
        path=path,
        unlabeled=sum(1 for im in dataset.images if im.unlabeled),
    )


def dataset_export_download(
    *, project: Project, fmt: str, split: str | None = None, include_unlabeled: bool = False
) -> tuple[BinaryIO, str]:
    """The export as an open zip file and a download name; the file has no name on disk any
    more (it vanishes once closed), so a dropped download leaves nothing behind."""
    work = scratch_workdir("exports", "download-")
    try:
        zip_path = work / "dataset.zip"
        dataset_export(
            project=project,
            fmt=fmt,
            zip_path=zip_path,
            split=split or None,
            include_unlabeled=include_unlabeled,
        )
        handle = open(zip_path, "rb")  # the response closes it
    finally:
        shutil.rmtree(work, ignore_errors=True)
    parts = [slugify(project.name) or f"project-{project.pk}", fmt]
    if split:
        parts.append(split)
    return handle, "-".join(parts) + ".zip"
