"""Files of a dataset: path safety, bounded reads and image headers.

Pure module: no Django import. Readers never follow a symbolic link or leave the dataset
folder, and never read an annotation file larger than :data:`MAX_ANNOTATION_BYTES`. Writers
write through :mod:`.outputs`.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from .base import FormatError, Problems

#: Annotation files larger than this are refused before parsing (memory stays bounded).
MAX_ANNOTATION_BYTES = 256 * 1024 * 1024
MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255
#: Image types readers accept (extension, lower case) and the Pillow formats behind them.
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp"})
PIL_FORMATS = frozenset({"JPEG", "MPO", "PNG", "BMP", "TIFF", "WEBP"})


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


def pillow_open() -> Callable:
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
        with pillow_open()(path) as img:
            if img.format not in PIL_FORMATS:
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
