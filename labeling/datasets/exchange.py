"""What dataset export and import share: the format names, the frame-identity file names
and the problem lists their ``ValidationError``s carry.

Export (:mod:`labeling.datasets.exporting`) copies each stored image under the name
``v{video_id}_f{frame_index:06d}.<ext>``. Those names carry the frame's identity, so importing
(:mod:`labeling.datasets.importing`) the export back into the same project updates those
frames instead of duplicating them.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError

from ..models import Frame
from .formats import FORMATS

FORMAT_NAMES = tuple(FORMATS)  # ("yolo", "coco", "voc", "cvat")
AUTO = "auto"
FORMAT_LABELS = {
    "yolo": "YOLO (Ultralytics)",
    "coco": "COCO JSON",
    "voc": "Pascal VOC XML",
    "cvat": "CVAT for images 1.1",
}
EXPORT_SPLITS = ("train", "val", "test")
#: How many problems an import or export error lists (the count of all comes first).
SHOWN_PROBLEMS = 20
_FRAME_NAME = re.compile(r"v(\d{1,12})_f(\d{1,12})\.[A-Za-z]{3,4}")


def export_file_name(frame: Frame) -> str:
    """``v{video_id}_f{frame_index:06d}.<ext>``: the frame's identity survives a round trip."""
    ext = PurePosixPath(frame.image.name).suffix.lower() or ".jpg"
    return f"v{frame.video_id}_f{frame.frame_index:06d}{ext}"


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
    allowed = (*FORMAT_NAMES, AUTO) if allow_auto else FORMAT_NAMES
    if fmt not in allowed:
        raise ValidationError({"format": f"Format must be one of {', '.join(allowed)}."})
