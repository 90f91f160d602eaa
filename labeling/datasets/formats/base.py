"""Dataset model shared by the annotation formats, and the read/write contract.

Pure module: no Django import. Every format module converts between files on disk and a
:class:`Dataset`:

- ``write(dataset, out, image_source, *, link=False)`` validates first (raising
  :class:`FormatError`, nothing written), then lays out annotation files and images in
  ``out``, a folder or a zip (:mod:`.outputs`).
- ``read(path, *, classes=None) -> (Dataset, resolver)`` parses and validates the whole
  folder, collecting every problem, and raises one :class:`FormatError` listing them; on
  success ``resolver(image)`` gives the checked path of that image's file inside ``path``.

Boxes (:class:`DatasetBox`) are in original-image pixels: ``(x, y)`` is the top-left corner
(origin at the image's top-left, x right, y down), ``w``/``h`` > 0, all floats.

Conventions every reader follows:

- Coordinates are snapped to :data:`COORD_DECIMALS` (0.01 px) on the box edges, so float noise
  from normalised or re-parsed values disappears and integer boxes come back exact.
- A box may overhang the image by at most :data:`EDGE_TOLERANCE_PX` (float noise from other
  tools); it is clipped to the image. Anything further out is a problem.
- An image without boxes is a labeled negative (``is_negative=True``).

Their helpers: :mod:`.files` (path safety, bounded reads, image headers, the output folder)
and :mod:`.checks` (numbers, boxes and whole-dataset checks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from labeling.annotations.keypoints import SkeletonSpec

SPLITS = ("train", "val", "test")
#: Allowed values of :attr:`DatasetImage.split`; ``""`` means not assigned.
SPLIT_VALUES = ("train", "val", "test", "")
COORD_DECIMALS = 2
EDGE_TOLERANCE_PX = 0.5
#: How many problems a FormatError message shows; ``problems`` holds up to MAX_PROBLEMS.
SHOWN_PROBLEMS = 10
MAX_PROBLEMS = 1000


ImageSource = Callable[["DatasetImage"], "Path | bytes"]
ImageResolver = Callable[["DatasetImage"], Path]


@dataclass
class DatasetBox:
    """One box in original-image pixels: top-left ``(x, y)`` and size ``(w, h)``."""

    class_name: str
    x: float
    y: float
    w: float
    h: float
    #: Pose: ``[[x, y, v], ...]`` in the dataset's skeleton order, image pixels; ``[]`` none
    #: (see :mod:`.pose`).
    keypoints: list = field(default_factory=list)


@dataclass
class DatasetImage:
    """One image of a dataset.

    ``file_name`` is a relative posix path (``"video3/000120.jpg"``), unique in the dataset;
    each format places the file under its own image folder. ``split`` is one of
    :data:`SPLIT_VALUES`. ``is_negative`` marks a reviewed image that has no object; readers
    set it for every image without boxes, and writers treat any image without boxes as one.
    """

    file_name: str
    width: int
    height: int
    split: str = ""
    boxes: list[DatasetBox] = field(default_factory=list)
    is_negative: bool = False
    #: Listed by the dataset but never annotated (a VOC ImageSets id without an annotation
    #: file): neither labeled nor a negative. Readers set it, and exports for unlabeled
    #: frames; VOC writes it so (listed, no annotation file), the other formats have no such
    #: notion and write an image without boxes.
    unlabeled: bool = False


@dataclass
class Dataset:
    """Class names (their order is the class index) and images.

    Readers also fill ``layout`` (which of the format's layouts they read, in words: shown to
    the user) and ``warnings`` (what they accepted but the user should know, e.g. images
    imported unlabeled); writers ignore both.
    """

    classes: list[str]
    images: list[DatasetImage]
    layout: str = ""
    warnings: list[str] = field(default_factory=list)
    #: Pose datasets: the keypoint names, edges and left/right pairs; None for boxes only.
    skeleton: SkeletonSpec | None = None


class FormatError(ValueError):
    """Invalid dataset or files. ``problems`` lists what was found (up to MAX_PROBLEMS);
    ``total`` counts all of them. The message shows the first SHOWN_PROBLEMS."""

    def __init__(self, problems: Iterable[str], total: int | None = None) -> None:
        self.problems = list(problems)[:MAX_PROBLEMS]
        self.total = max(total or 0, len(self.problems))
        shown = "; ".join(self.problems[:SHOWN_PROBLEMS])
        more = self.total - min(len(self.problems), SHOWN_PROBLEMS)
        suffix = f"; ... and {more} more" if more > 0 else ""
        noun = "problem" if self.total == 1 else "problems"
        super().__init__(f"{self.total} {noun}: {shown}{suffix}")


class Problems:
    """Collects problem messages (keeping the first MAX_PROBLEMS, counting all)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.total = 0

    def add(self, message: str) -> None:
        self.total += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(message)

    def extend(self, messages: Iterable[str]) -> None:
        for message in messages:
            self.add(message)

    def __bool__(self) -> bool:
        return self.total > 0

    def raise_if_any(self) -> None:
        if self.total:
            raise FormatError(self.items, self.total)


# ---------------------------------------------------------------------------------------------
# Split names


def split_folder(split: str) -> str:
    """Folder/subset name for a split; unassigned images go to ``default`` (CVAT's name)."""
    return split or "default"


def split_from_subset(subset: str) -> str:
    """Split for a subset name as other tools write it (``Train``, ``validation``...)."""
    # Trailing digits are a year or version (COCO's ``train2017``, MMDetection's layout).
    name = subset.strip().lower().rstrip("0123456789").rstrip("_-")
    if name in ("train", "training"):
        return "train"
    if name in ("val", "valid", "validation"):
        return "val"
    if name in ("test", "testing"):
        return "test"
    return ""
