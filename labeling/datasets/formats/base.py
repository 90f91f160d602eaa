"""Dataset model shared by the annotation formats, validation and path safety.

Pure module: no Django import. Every format module converts between files on disk and a
:class:`Dataset`:

- ``write(dataset, out_dir, image_source, *, link=False)`` validates first (raising
  :class:`FormatError`, nothing written), then lays out annotation files and images.
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
"""

from __future__ import annotations

import math
import os
import shutil
import stat
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

SPLITS = ("train", "val", "test")
#: Allowed values of :attr:`DatasetImage.split`; ``""`` means not assigned.
SPLIT_VALUES = ("train", "val", "test", "")
COORD_DECIMALS = 2
EDGE_TOLERANCE_PX = 0.5
#: How many problems a FormatError message shows; ``problems`` holds up to MAX_PROBLEMS.
SHOWN_PROBLEMS = 10
MAX_PROBLEMS = 1000
#: Annotation files larger than this are refused before parsing (memory stays bounded).
MAX_ANNOTATION_BYTES = 256 * 1024 * 1024
MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255
#: Image types readers accept (extension, lower case) and the Pillow formats behind them.
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp"})
_PIL_FORMATS = frozenset({"JPEG", "MPO", "PNG", "BMP", "TIFF", "WEBP"})

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


@dataclass
class Dataset:
    """Class names (their order is the class index) and images."""

    classes: list[str]
    images: list[DatasetImage]


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
# Paths


def path_problem(name: object) -> str | None:
    """Why ``name`` is not a safe relative posix path inside a dataset folder, or None.

    Refused: non-strings, empty names, absolute paths, drive letters, backslashes, NUL and
    other control or format characters (RTL overrides hide the real extension), ``.``/``..``
    or empty components, components with leading/trailing whitespace, over-long names.
    """
    if not isinstance(name, str):
        return "is not a string"
    if not name:
        return "is empty"
    if len(name) > MAX_PATH_CHARS:
        return "is too long"
    if "\\" in name:
        return "contains a backslash"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        return "contains a control or invisible character"
    if name.startswith("/") or (len(name) >= 2 and name[1] == ":" and name[0].isalpha()):
        return "is an absolute path"
    for part in name.split("/"):
        if part in ("", ".", ".."):
            return "escapes or is not a plain relative path"
        if part != part.strip():
            return "has a component starting or ending with whitespace"
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            return "has a component that is too long"
    return None


def resolve_inside(root: Path, name: str) -> tuple[Path | None, str | None]:
    """``root/name`` if ``name`` is safe and no component on the way is a symlink.

    Returns ``(path, None)`` or ``(None, reason)``. The path may not exist; callers check.
    """
    reason = path_problem(name)
    if reason:
        return None, reason
    current = root
    for part in PurePosixPath(name).parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            break
        except OSError as exc:
            return None, f"cannot be read ({exc.strerror})"
        if stat.S_ISLNK(mode):
            return None, "is a symbolic link"
    return root / name, None


def find_inside(
    root: Path, candidates: Sequence[str], where: str, problems: Problems, missing: str
) -> Path | None:
    """The first of ``candidates`` (names under ``root``, tried in order) that exists.

    An unsafe candidate stops the search with its reason as a problem; when none exists,
    ``where: missing`` is the problem. Either way the answer is None.
    """
    for name in candidates:
        path, reason = resolve_inside(root, name)
        if path is None:
            problems.add(f"{where}: {reason}")
            return None
        if path.exists():
            return path
    problems.add(f"{where}: {missing}")
    return None


def relative_posix(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def walk_files(root: Path, problems: Problems, label: str) -> list[Path]:
    """Regular files under ``root`` (sorted); symlinks and special files are problems."""
    found: list[Path] = []
    if not root.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in list(dirnames):
            if (base / name).is_symlink():
                problems.add(f"{label}/{relative_posix(base / name, root)}: is a symbolic link")
                dirnames.remove(name)
        dirnames.sort()
        for name in sorted(filenames):
            path = base / name
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                problems.add(f"{label}/{relative_posix(path, root)}: is a symbolic link")
            elif not stat.S_ISREG(mode):
                problems.add(f"{label}/{relative_posix(path, root)}: is not a regular file")
            else:
                found.append(path)
    return found


def check_root(path: Path) -> Path:
    """The dataset folder to read; a missing folder is a FormatError."""
    path = Path(path)
    if not path.is_dir():
        raise FormatError([f"{path.name or path}: is not a folder"])
    return path


def read_limited(path: Path, label: str, problems: Problems) -> bytes | None:
    """File bytes, or None with a problem when it is missing, a link or too large."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        problems.add(f"{label}: missing")
        return None
    except OSError as exc:
        problems.add(f"{label}: cannot be read ({exc.strerror})")
        return None
    if not stat.S_ISREG(info.st_mode):
        problems.add(f"{label}: is not a regular file")
        return None
    if info.st_size > MAX_ANNOTATION_BYTES:
        problems.add(f"{label}: larger than {MAX_ANNOTATION_BYTES // (1024 * 1024)} MiB")
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        problems.add(f"{label}: cannot be read ({exc.strerror})")
        return None


def _pillow_open() -> Callable:
    """Pillow's own ``Image.open``.

    Importing Ultralytics replaces ``PIL.Image.open`` with a wrapper that, on the first file
    Pillow cannot identify, runs ``check_requirements("pi-heif")`` (which may pip-install) and
    retries. An unreadable upload must be a plain problem, so bypass that wrapper.
    """
    from PIL import Image

    opener = Image.open
    if getattr(opener, "__module__", "PIL.Image") != "PIL.Image":
        original = getattr(opener, "__globals__", {}).get("_image_open")
        if callable(original) and getattr(original, "__module__", None) == "PIL.Image":
            return original
    return opener


def image_size(path: Path) -> tuple[tuple[int, int] | None, str | None]:
    """``((width, height), None)`` from the image header, or ``(None, reason)``.

    Only the header is read. The size is EXIF-orientation corrected, as Ultralytics does, so
    boxes drawn on the displayed (rotated) image line up.
    """
    from PIL import Image, UnidentifiedImageError  # local: only readers need Pillow

    try:
        with _pillow_open()(path) as img:
            if img.format not in _PIL_FORMATS:
                return None, f"unsupported image type {img.format}"
            width, height = img.size
            try:
                orientation = img.getexif().get(274)
            except Exception:  # a broken EXIF block must not hide a readable image
                orientation = None
    except (UnidentifiedImageError, Image.DecompressionBombError):
        return None, "is not a readable image"
    except (OSError, ValueError, SyntaxError) as exc:
        return None, f"is not a readable image ({type(exc).__name__})"
    if width <= 0 or height <= 0:
        return None, "has an empty size"
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return (width, height), None


def has_image_extension(name: str) -> bool:
    return PurePosixPath(name).suffix.lower().lstrip(".") in IMAGE_EXTENSIONS


# ---------------------------------------------------------------------------------------------
# Numbers and boxes


def is_number(value: object) -> bool:
    """A finite int or float (bools are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def parse_number(text: str | None) -> float | None:
    """A finite float from text, or None."""
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_int(text: str | None) -> int | None:
    """A positive-or-zero integer from text such as ``"640"`` or ``"640.0"``, or None."""
    value = parse_number(text)
    if value is None or value != int(value) or value < 0:
        return None
    return int(value)


def snap(value: float) -> float:
    return round(value, COORD_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def box_from_edges(
    class_name: str,
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    width: int,
    height: int,
    where: str,
    problems: Problems,
    tolerance: float = EDGE_TOLERANCE_PX,
) -> DatasetBox | None:
    """A checked, clipped and snapped box from its edges in pixels, or None with a problem."""
    values = (x1, y1, x2, y2)
    if not all(is_number(v) for v in values):
        problems.add(f"{where}: coordinates are not finite numbers")
        return None
    if x2 <= x1 or y2 <= y1:
        problems.add(f"{where}: zero or negative size")
        return None
    if x1 < -tolerance or y1 < -tolerance or x2 > width + tolerance or y2 > height + tolerance:
        problems.add(
            f"{where}: outside the {width}x{height} image (x {x1:g}..{x2:g}, y {y1:g}..{y2:g})"
        )
        return None
    x1, y1 = snap(min(max(x1, 0.0), width)), snap(min(max(y1, 0.0), height))
    x2, y2 = snap(min(max(x2, 0.0), width)), snap(min(max(y2, 0.0), height))
    if x2 <= x1 or y2 <= y1:
        problems.add(f"{where}: zero size after clipping to the image")
        return None
    return DatasetBox(class_name, x1, y1, snap(x2 - x1), snap(y2 - y1))


# ---------------------------------------------------------------------------------------------
# Dataset validation


def class_name_problem(name: object) -> str | None:
    if not isinstance(name, str):
        return "is not a string"
    if not name.strip():
        return "is empty"
    if len(name) > 200:
        return "is too long"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        return "contains a control or invisible character"
    return None


def check_classes(classes: object, problems: Problems, label: str = "classes") -> list[str]:
    """Valid, unique class names (problems for the others)."""
    if not isinstance(classes, list):
        problems.add(f"{label}: not a list")
        return []
    seen: set[str] = set()
    for i, name in enumerate(classes):
        reason = class_name_problem(name)
        if reason:
            problems.add(f"{label}[{i}]: class name {reason}")
        elif name in seen:
            problems.add(f"{label}[{i}]: duplicate class name {name!r}")
        else:
            seen.add(name)
    return [c for c in classes if isinstance(c, str)]


def dataset_problems(dataset: Dataset, tolerance: float = EDGE_TOLERANCE_PX) -> Problems:
    """Everything wrong with ``dataset``: classes, names, sizes, splits and boxes."""
    problems = Problems()
    classes = set(check_classes(dataset.classes, problems))
    seen: set[str] = set()
    for image in dataset.images:
        name = image.file_name
        reason = path_problem(name)
        if reason:
            problems.add(f"image {name!r}: file name {reason}")
            continue
        if name in seen:
            problems.add(f"{name}: duplicate file name")
        seen.add(name)
        if not (is_positive_int(image.width) and is_positive_int(image.height)):
            problems.add(f"{name}: width and height must be positive integers")
            continue
        if image.split not in SPLIT_VALUES:
            problems.add(f"{name}: split {image.split!r} is not one of train, val, test or ''")
        if image.is_negative and image.boxes:
            problems.add(f"{name}: marked negative but has boxes")
        for i, box in enumerate(image.boxes):
            where = f"{name}: box {i + 1}"
            if box.class_name not in classes:
                problems.add(f"{where}: unknown class {box.class_name!r}")
            if not all(is_number(v) for v in (box.x, box.y, box.w, box.h)):
                problems.add(f"{where}: coordinates are not finite numbers")
                continue
            box_from_edges(
                box.class_name,
                box.x,
                box.y,
                box.x + box.w,
                box.y + box.h,
                image.width,
                image.height,
                where,
                problems,
                tolerance,
            )
    return problems


def validated(dataset: Dataset) -> Dataset:
    """A copy of ``dataset`` with boxes clipped to their images; FormatError if invalid."""
    dataset_problems(dataset).raise_if_any()
    images = []
    for image in dataset.images:
        boxes = []
        for box in image.boxes:
            x1, y1 = max(box.x, 0.0), max(box.y, 0.0)
            x2 = min(box.x + box.w, float(image.width))
            y2 = min(box.y + box.h, float(image.height))
            boxes.append(DatasetBox(box.class_name, x1, y1, x2 - x1, y2 - y1))
        images.append(replace(image, boxes=boxes, is_negative=not boxes))
    return Dataset(classes=list(dataset.classes), images=images)


def finish_read(
    file_classes: list[str],
    images: list[DatasetImage],
    imposed: list[str] | None,
    problems: Problems,
) -> Dataset:
    """Apply an imposed class list, check duplicates, sort, raise if anything was wrong."""
    classes = list(file_classes)
    if imposed is not None:
        classes = check_classes(list(imposed), problems, "imposed classes")
        allowed = set(classes)
        for image in images:
            for i, box in enumerate(image.boxes):
                if box.class_name not in allowed:
                    problems.add(
                        f"{image.file_name}: box {i + 1}: class {box.class_name!r} "
                        "is not one of the project's classes"
                    )
    seen: set[str] = set()
    for image in images:
        if image.file_name in seen:
            problems.add(f"{image.file_name}: listed more than once")
        seen.add(image.file_name)
        image.is_negative = not image.boxes
    problems.raise_if_any()
    images.sort(key=lambda im: im.file_name)
    return Dataset(classes=classes, images=images)


def make_resolver(paths: dict[str, Path]) -> ImageResolver:
    """A resolver for the images read: ``resolver(image) -> Path`` (KeyError if unknown)."""
    table = dict(paths)

    def resolve(image: DatasetImage) -> Path:
        return table[image.file_name]

    return resolve


def check_image_file(
    path: Path | None,
    label: str,
    problems: Problems,
    declared: tuple[int | None, int | None] = (None, None),
) -> tuple[int, int] | None:
    """The image size at ``path``; problems when missing, unreadable or not as declared.

    A declared size matching either the stored or the EXIF-rotated size is accepted.
    """
    if path is None:
        return None
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        problems.add(f"{label}: image file missing")
        return None
    except OSError as exc:
        problems.add(f"{label}: image cannot be read ({exc.strerror})")
        return None
    if not stat.S_ISREG(mode):
        problems.add(f"{label}: image is not a regular file")
        return None
    size, reason = image_size(path)
    if size is None:
        problems.add(f"{label}: image {reason}")
        return None
    dw, dh = declared
    if dw is None or dh is None:
        return size
    if (dw, dh) not in (size, size[::-1]):
        problems.add(
            f"{label}: declared size {dw}x{dh} differs from the image's {size[0]}x{size[1]}"
        )
        return None
    return dw, dh


# ---------------------------------------------------------------------------------------------
# Writing


class OutputFolder:
    """Context manager for a writer's output folder.

    The folder must be absent or empty; on any exception everything written is removed, so a
    failed export leaves nothing half-written behind.
    """

    def __init__(self, out_dir: Path) -> None:
        self.root = Path(out_dir)

    def __enter__(self) -> OutputFolder:
        if self.root.exists():
            if not self.root.is_dir() or self.root.is_symlink():
                raise FormatError([f"{self.root}: output exists and is not a folder"])
            if any(self.root.iterdir()):
                raise FormatError([f"{self.root}: output folder is not empty"])
            self._created = False
        else:
            self.root.mkdir(parents=True)
            self._created = True
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            return
        if self._created:
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            for child in self.root.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)

    def path(self, rel: str) -> Path:
        """``root/rel`` for a name already checked by :func:`path_problem`; parents created."""
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def mkdir(self, rel: str) -> None:
        (self.root / rel).mkdir(parents=True, exist_ok=True)

    def write_text(self, rel: str, text: str) -> None:
        self.path(rel).write_text(text, encoding="utf-8")

    def write_bytes(self, rel: str, data: bytes) -> None:
        self.path(rel).write_bytes(data)

    def place_image(
        self, rel: str, image: DatasetImage, image_source: ImageSource, link: bool
    ) -> None:
        """Copy (or hard-link, when ``link``) the image ``image_source`` gives to ``rel``."""
        target = self.path(rel)
        source = image_source(image)
        if isinstance(source, bytes | bytearray | memoryview):
            target.write_bytes(bytes(source))
            return
        source = Path(source)
        if link:
            try:
                os.link(source, target)
                return
            except OSError:  # another filesystem, or links not allowed: copy instead
                pass
        shutil.copyfile(source, target)


def split_folder(split: str) -> str:
    """Folder/subset name for a split; unassigned images go to ``default`` (CVAT's name)."""
    return split or "default"


def split_from_subset(subset: str) -> str:
    """Split for a subset name as other tools write it (``Train``, ``validation``...)."""
    name = subset.strip().lower()
    if name in ("train", "training"):
        return "train"
    if name in ("val", "valid", "validation"):
        return "val"
    if name in ("test", "testing"):
        return "test"
    return ""
