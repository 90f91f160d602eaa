"""Read an image set safely: a zip of frames, or image files already uploaded one by one.

Pure module: no Django import. For labs that extracted frames themselves (DeepLabCut's
``labeled-data/<video>/img0042.png`` folders, ffmpeg output, camera software exports).

What a hostile archive cannot do here
- Write outside the scratch folder: entries are written under generated names
  (``000001.img``), never the archive's, and names that would escape anyway (``..``,
  absolute, drive letters, backslashes, NUL, control and bidi characters such as the RTL
  mark) are refused, as are symlinks, encrypted entries and duplicate names.
- Exhaust disk or memory: the number of entries, each entry's and the total uncompressed
  size, and compression ratios far beyond images' (zip bombs) are checked from the
  archive's directory BEFORE anything is extracted; while extracting, the bytes really
  inflated are counted, so a directory that lies about sizes is caught too. The entry
  count is read from the end record before Python's zipfile parses the directory.
- Smuggle other files in as images: each file is decoded in full (Pillow, restricted to
  ``ALLOWED_IMAGE_FORMATS``, the decision made from the content, never the name), with
  limits on its dimensions checked before the pixels are decoded.

Every failure raises ``ImageSetError`` listing the first problems, and the scratch folder
is removed on every path (``open_zip_images`` is a context manager).

Order: entries come back in natural order of their names (``img2`` before ``img10``),
folder by folder, case-insensitively.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import tempfile
import unicodedata
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

# Pillow's format names; a JPEG from a phone may come back as "MPO" (JPEG + extra views).
ALLOWED_IMAGE_FORMATS = ("JPEG", "PNG", "BMP", "TIFF", "WEBP")
# Files that archivers and desktops add beside the images; skipped quietly.
_JUNK = re.compile(r"(^|/)(__MACOSX/|\._[^/]*$|\.DS_Store$|Thumbs\.db$|desktop\.ini$)", re.I)
_DRIVE = re.compile(r"^[A-Za-z]:")
_MAX_PROBLEMS = 10
_CHUNK = 1 << 20


class ImageSetError(Exception):
    """The image set was refused. ``problems`` lists what was wrong (the first ones);
    ``str(error)`` joins them into one message for a person."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)[:_MAX_PROBLEMS]
        more = len(problems) - len(self.problems)
        text = "; ".join(self.problems) + (f"; and {more} more" if more > 0 else "")
        super().__init__(text)


@dataclass(frozen=True)
class ImageSetLimits:
    """Limits for one image set. Sizes in bytes; ``max_ratio`` is uncompressed size over
    compressed size (JPEG/PNG barely compress, about 1.0-1.1; BMP/TIFF of a bright arena
    reach tens; deflate bombs reach 1000)."""

    max_entries: int = 20_000
    max_entry_bytes: int = 64 * 1024**2
    max_total_bytes: int = 4 * 1024**3
    max_ratio: float = 200.0
    max_dimension: int = 8192
    min_dimension: int = 8


@dataclass(frozen=True)
class ImageEntry:
    """One verified image. ``name`` is its path in the archive (or the name given with
    the file): display text only, never used as a file name. ``path`` is where the bytes
    are (a generated name inside the scratch folder for archives)."""

    name: str
    path: Path
    width: int
    height: int
    format: str
    mode: str
    size_bytes: int


@dataclass(frozen=True)
class ImageSet:
    """The verified images in natural order, and the junk entries skipped."""

    entries: tuple[ImageEntry, ...]
    skipped: tuple[str, ...] = ()
    directory: Path | None = field(default=None, repr=False)


def natural_key(name: str) -> tuple[tuple[tuple[int, int | str], ...], ...]:
    """Sort key: folder by folder; within a name, digit runs compare as numbers
    (``img2`` before ``img10``) and text case-insensitively."""
    return tuple(
        tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", part) if p)
        for part in name.replace("\\", "/").casefold().split("/")
    )


def name_problem(name: str) -> str | None:
    """Why ``name`` (from an archive or an upload) cannot be accepted, or None."""
    shown = ascii(name)[1:-1][:120]
    if not name or name in (".", ".."):
        return f"“{shown}”: empty name"
    if "\x00" in name:
        return f"“{shown}”: contains NUL"
    if "\\" in name:
        return f"“{shown}”: contains a backslash"
    if name.startswith("/") or _DRIVE.match(name):
        return f"“{shown}”: absolute path"
    if any(part == ".." for part in name.split("/")):
        return f"“{shown}”: climbs out of the folder (..)"
    # Control characters, and format characters such as U+202E (right-to-left override)
    # that make "gpj.exe" display as "exe.jpg".
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        return f"“{shown}”: contains control or text-direction characters"
    if len(name.encode("utf-8", "surrogateescape")) > 1024:
        return f"“{shown}...”: name too long"
    return None


@contextmanager
def open_zip_images(
    path: str | os.PathLike[str],
    *,
    limits: ImageSetLimits = ImageSetLimits(),
    scratch_dir: str | os.PathLike[str] | None = None,
) -> Iterator[ImageSet]:
    """Check, extract and verify a zip of images; yield the ``ImageSet``.

    The images live in a fresh folder under ``scratch_dir`` (the system temp folder by
    default) until the ``with`` block ends; copy what you keep before then. The folder
    is removed on every path, errors included.
    """
    directory = Path(tempfile.mkdtemp(prefix="imageset-", dir=scratch_dir))
    try:
        yield _read_zip(Path(path), directory, limits)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def read_image_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    names: Sequence[str] | None = None,
    limits: ImageSetLimits = ImageSetLimits(),
) -> ImageSet:
    """Verify image files uploaded one by one. ``names`` are their original names (for
    order and display; the paths' own names by default). Nothing is copied."""
    files = [Path(p) for p in paths]
    shown = list(names) if names is not None else [p.name for p in files]
    if len(shown) != len(files):
        raise ValueError("names must match paths one to one")
    problems = _count_problems(len(files), limits)
    problems += [p for p in (name_problem(n) for n in shown) if p]
    problems += _duplicate_problems(shown)
    total = 0
    for name, file in zip(shown, files, strict=True):
        size = file.stat().st_size
        total += size
        if size > limits.max_entry_bytes:
            problems.append(f"“{name}”: {size:,} bytes, more than {limits.max_entry_bytes:,}")
    if total > limits.max_total_bytes:
        problems.append(f"{total:,} bytes in all, more than {limits.max_total_bytes:,}")
    if problems:
        raise ImageSetError(problems)
    entries, problems = _verify_all(
        [(n, f, f.stat().st_size) for n, f in zip(shown, files, strict=True)], limits
    )
    if problems:
        raise ImageSetError(problems)
    return ImageSet(entries=entries)


# --------------------------------------------------------------------------------------


def _count_problems(count: int, limits: ImageSetLimits) -> list[str]:
    if count == 0:
        return ["no images"]
    if count > limits.max_entries:
        return [f"{count:,} files, more than the {limits.max_entries:,} allowed"]
    return []


def _duplicate_problems(names: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for name in names:
        key = unicodedata.normalize("NFC", name).casefold()
        if key in seen:
            problems.append(f"“{ascii(name)[1:-1]}”: appears twice")
        seen.add(key)
    return problems


def _zip_entry_count(path: Path) -> tuple[int, int]:
    """(entries, central directory bytes) from the end record, read without parsing the
    directory, so a crafted count cannot make zipfile build millions of objects."""
    size = path.stat().st_size
    with path.open("rb") as fp:
        tail_size = min(size, 22 + 65535)
        fp.seek(size - tail_size)
        tail = fp.read(tail_size)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise ImageSetError(["not a zip archive"])
        _, _, _, _, entries, cd_size, _, _ = struct.unpack("<4s4H2LH", tail[at : at + 22])
        if entries == 0xFFFF or cd_size == 0xFFFFFFFF:
            # Zip64: the real numbers are in the zip64 end record, found via its locator.
            locator = tail[at - 20 : at] if at >= 20 else b""
            if len(locator) != 20 or locator[:4] != b"PK\x06\x07":
                raise ImageSetError(["damaged zip64 archive"])
            (record_at,) = struct.unpack("<Q", locator[8:16])
            if record_at > size - 56:
                raise ImageSetError(["damaged zip64 archive"])
            fp.seek(record_at)
            record = fp.read(56)
            if record[:4] != b"PK\x06\x06":
                raise ImageSetError(["damaged zip64 archive"])
            entries, cd_size = struct.unpack("<QQ", record[32:48])
    return entries, cd_size


def _read_zip(path: Path, directory: Path, limits: ImageSetLimits) -> ImageSet:
    try:
        entries_claimed, cd_size = _zip_entry_count(path)
    except OSError as exc:
        raise ImageSetError([f"cannot read the archive ({exc.strerror})"]) from None
    problems = _count_problems(entries_claimed, limits)
    # No directory record is under 46 bytes; allow generous names and extras beyond that.
    if not problems and cd_size > limits.max_entries * 2048:
        problems = [f"the archive's directory is {cd_size:,} bytes, far too large"]
    if problems:
        raise ImageSetError(problems)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise ImageSetError([f"not a readable zip archive ({exc})"]) from None
    with archive:
        infos = archive.infolist()
        problems = _count_problems(len(infos), limits) if len(infos) > limits.max_entries else []
        wanted: list[zipfile.ZipInfo] = []
        skipped: list[str] = []
        for info in infos:
            problem = _entry_problem(info, limits)
            if problem:
                problems.append(problem)
            elif info.is_dir():
                continue
            elif _JUNK.search(info.filename):
                skipped.append(info.filename)
            else:
                wanted.append(info)
        problems += _duplicate_problems([i.filename for i in wanted])
        total = sum(i.file_size for i in wanted)
        if total > limits.max_total_bytes:
            problems.append(
                f"{total:,} bytes uncompressed in all, more than {limits.max_total_bytes:,}"
            )
        packed = max(1, path.stat().st_size)
        if total > _CHUNK and total / packed > limits.max_ratio:
            problems.append(
                f"the archive expands {total / packed:,.0f} times, more than images do "
                "(a zip bomb?)"
            )
        if not wanted and not problems:
            problems.append("no images in the archive")
        if problems:
            raise ImageSetError(problems)
        # Only now is anything written.
        extracted = []
        for number, info in enumerate(wanted, start=1):
            target = directory / f"{number:06d}.img"
            _extract(archive, info, target)
            extracted.append((info.filename, target, info.file_size))
    entries, problems = _verify_all(extracted, limits)
    if problems:
        raise ImageSetError(problems)
    return ImageSet(
        entries=entries,
        skipped=tuple(sorted(skipped, key=natural_key)),
        directory=directory,
    )


def _entry_problem(info: zipfile.ZipInfo, limits: ImageSetLimits) -> str | None:
    # orig_filename: zipfile cuts ``filename`` at a NUL, hiding the trick.
    name = info.orig_filename
    problem = name_problem(name.rstrip("/") if info.is_dir() else name)
    if problem:
        return problem
    shown = ascii(name)[1:-1][:120]
    # Unix file type bits; many archivers leave them 0, which reads as a plain file.
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return f"“{shown}”: a symbolic link"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return f"“{shown}”: not a regular file"
    if info.is_dir():
        return None
    if info.flag_bits & 0x1:
        return f"“{shown}”: encrypted"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"“{shown}”: unsupported compression method {info.compress_type}"
    if info.file_size > limits.max_entry_bytes:
        return f"“{shown}”: {info.file_size:,} bytes, more than {limits.max_entry_bytes:,}"
    ratio = info.file_size / max(1, info.compress_size)
    # Tiny entries are left to the total limits: a ratio means nothing for 300 bytes.
    if info.file_size > 64 * 1024 and ratio > limits.max_ratio:
        return f"“{shown}”: expands {ratio:,.0f} times, more than images do (a zip bomb?)"
    return None


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    """Copy one entry, counting the bytes really inflated against its declared size."""
    shown = ascii(info.filename)[1:-1][:120]
    written = 0
    try:
        with archive.open(info) as source, target.open("xb") as sink:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > info.file_size:
                    raise ImageSetError([f"“{shown}”: larger than the archive says"])
                sink.write(chunk)
    except ImageSetError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ImageSetError([f"“{shown}”: cannot be extracted ({exc})"]) from None


def _verify_all(
    files: Sequence[tuple[str, Path, int]], limits: ImageSetLimits
) -> tuple[tuple[ImageEntry, ...], list[str]]:
    entries = []
    problems = []
    for name, file, size in files:
        entry = _verify_image(name, file, size, limits)
        if isinstance(entry, str):
            problems.append(entry)
        else:
            entries.append(entry)
    entries.sort(key=lambda e: natural_key(e.name))
    return tuple(entries), problems


def _verify_image(name: str, file: Path, size: int, limits: ImageSetLimits) -> ImageEntry | str:
    shown = ascii(name)[1:-1][:120]
    try:
        with warnings.catch_warnings():
            # Our own dimension limit is checked below; make Pillow's bomb warning fatal
            # rather than printing it.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file, formats=ALLOWED_IMAGE_FORMATS) as image:
                width, height = image.size
                if max(width, height) > limits.max_dimension:
                    return (
                        f"“{shown}”: {width}×{height} pixels, more than "
                        f"{limits.max_dimension} on a side"
                    )
                if min(width, height) < limits.min_dimension:
                    return f"“{shown}”: {width}×{height} pixels, too small"
                image.load()  # decodes every pixel: truncated or corrupt data fails here
                return ImageEntry(
                    name=name,
                    path=file,
                    width=width,
                    height=height,
                    format=image.format or "",
                    mode=image.mode,
                    size_bytes=size,
                )
    except Image.UnidentifiedImageError:
        return f"“{shown}”: not an image (or not {', '.join(ALLOWED_IMAGE_FORMATS)})"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return f"“{shown}”: too many pixels"
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        return f"“{shown}”: damaged image ({exc})"
