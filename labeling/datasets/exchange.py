"""What dataset export and import share: the format names, the exported file names and the
problem lists their ``ValidationError``s carry.

Export (:mod:`labeling.datasets.exporting`) names each image (:func:`export_file_names`):

- a frame of an image set or of an imported dataset keeps the name (and relative folder) it
  came with (``Frame.source_name``, e.g. ``cage1/img0042.png``), so a lab can match the labels
  back to its own files;
- a frame taken from a video is ``v{video_id}_f{frame_index:06d}.<ext>``.

Where two frames would get the same name (two image sets both holding ``img0001.jpg``), each
of them is ``<name>__v{video_id}_f{frame_index:06d}.<ext>`` instead: deterministic, and still
unique. Names ending in ``v{video_id}_f{frame_index}`` carry the frame's identity, so importing
(:mod:`labeling.datasets.importing`) the export back into the same project updates those
frames instead of duplicating them; kept original names are matched back by name and content.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError

from ..models import Frame
from .formats import ACCEPTED_LAYOUTS, EXPORT_ONLY_FORMATS, FORMATS
from .formats.files import path_problem

FORMAT_NAMES = tuple(FORMATS)  # ("yolo", "coco", "voc", "cvat")
#: What an export may write: the formats read, and DeepLabCut (pose, single animal).
EXPORT_FORMAT_NAMES = (*FORMAT_NAMES, *EXPORT_ONLY_FORMATS)
AUTO = "auto"
FORMAT_LABELS = {
    "yolo": "YOLO (Ultralytics)",
    "coco": "COCO JSON",
    "voc": "Pascal VOC XML",
    "cvat": "CVAT for images 1.1",
    "dlc": "DeepLabCut project (pose, single animal; export only)",
}
EXPORT_SPLITS = ("train", "val", "test")
#: How many problems an import or export error lists (the count of all comes first).
SHOWN_PROBLEMS = 20
_FRAME_NAME = re.compile(r"(?:.*__)?v(\d{1,12})_f(\d{1,12})\.[A-Za-z]{3,4}")
_EQUIVALENT_SUFFIXES = {".jpeg": ".jpg", ".jpe": ".jpg", ".tiff": ".tif"}


def accepted_layouts_text() -> str:
    return "; ".join(ACCEPTED_LAYOUTS)


def _stored_suffix(frame: Frame) -> str:
    return PurePosixPath(frame.image.name).suffix.lower() or ".jpg"


def export_file_name(frame: Frame) -> str:
    """``v{video_id}_f{frame_index:06d}.<ext>``: the name of a frame taken from a video."""
    return f"v{frame.video_id}_f{frame.frame_index:06d}{_stored_suffix(frame)}"


def _kept_name(frame: Frame, fmt: str) -> str | None:
    """The frame's own name fit for an export in ``fmt``, or None when it has none usable."""
    name = frame.source_name
    if not name or path_problem(name):
        return None
    path = PurePosixPath(name)
    suffix, stored = path.suffix.lower(), _stored_suffix(frame)
    if _EQUIVALENT_SUFFIXES.get(suffix, suffix) != _EQUIVALENT_SUFFIXES.get(stored, stored):
        # The stored file is another type (a TIFF kept as PNG): the name says what it holds.
        path = path.with_name(path.name + stored) if not path.suffix else path.with_suffix(stored)
    if fmt == "yolo" and "images" in path.parts[:-1]:
        # Ultralytics maps the last "images" folder of a path to "labels".
        path = PurePosixPath(*("images_" if p == "images" else p for p in path.parts))
    text = str(path)
    return None if path_problem(text) else text


def export_file_names(frames: Iterable[Frame], fmt: str = "") -> dict[int, str]:
    """``{frame.pk: file name}`` for an export in ``fmt`` (see the module docstring).

    Two names collide when they are equal ignoring case and extension (``a.jpg`` and
    ``A.png`` would share a VOC id, a YOLO label file, or a file on macOS).
    """
    names: dict[int, str] = {}
    groups: dict[str, list[Frame]] = defaultdict(list)
    for frame in frames:
        name = _kept_name(frame, fmt) or export_file_name(frame)
        names[frame.pk] = name
        groups[str(PurePosixPath(name).with_suffix("")).casefold()].append(frame)
    for group in groups.values():
        if len(group) < 2:
            continue
        for frame in group:
            path = PurePosixPath(names[frame.pk])
            tag = f"v{frame.video_id}_f{frame.frame_index:06d}"
            names[frame.pk] = str(path.with_name(f"{path.stem}__{tag}{path.suffix}"))
    return names


def frame_key_from_name(file_name: str) -> tuple[int, int] | None:
    """``(video_id, frame_index)`` from an exported image name (any folder), or None."""
    match = _FRAME_NAME.fullmatch(PurePosixPath(file_name).name)
    return (int(match[1]), int(match[2])) if match else None


def problem_messages(
    problems: list[str], total: int | None = None, *, what: str = "nothing was imported"
) -> list[str]:
    total = max(total or 0, len(problems))
    noun = "problem" if total == 1 else "problems"
    head = f"{total} {noun} found; {what}."
    more = total - min(len(problems), SHOWN_PROBLEMS)
    tail = [f"... and {more} more."] if more > 0 else []
    return [head, *problems[:SHOWN_PROBLEMS], *tail]


def check_format(fmt: str, *, allow_auto: bool) -> None:
    allowed = (*FORMAT_NAMES, AUTO) if allow_auto else EXPORT_FORMAT_NAMES
    if fmt not in allowed:
        raise ValidationError({"format": f"Format must be one of {', '.join(allowed)}."})
