"""Read an image set safely: a zip of frames, or image files already uploaded one by one.

Pure module: no Django import. For labs that extracted frames themselves (DeepLabCut's
``labeled-data/<video>/img0042.png`` folders, ffmpeg output, camera software exports).

What a hostile archive cannot do here
- Anything the zip checks of :mod:`labeling.datasets.archives` stop (the one place they live): write
  outside the scratch folder (names that would escape, absolute, drive letters,
  backslashes, NUL, control and bidi characters such as the RTL mark; symlinks), hide
  behind encryption or duplicate names (equal but for case, here), or exhaust disk or
  memory (the entry count read from the end record before Python's zipfile parses the
  directory; each entry's and the total uncompressed size and compression ratios far
  beyond images' checked from the directory BEFORE anything is extracted; the bytes
  really inflated counted while extracting). On top of that, entries are written under
  generated names (``000001.img``), never the archive's, and only stored or deflated
  entries are accepted.
- Smuggle other files in as images: each file is decoded in full (Pillow, restricted to
  ``ALLOWED_IMAGE_FORMATS``, the decision made from the content, never the name), with
  limits on its dimensions checked before the pixels are decoded, and scanned for markup
  (``ImageEntry.markup``).
- Hurt the process reading it: the decoding happens in the sandboxed checker
  (:mod:`media.image_check`: a child process with memory, CPU and time limits);
  a file that crashes or exhausts it is named as the problem.

Every failure raises ``ImageSetError`` listing the first problems, and the scratch folder
is removed on every path (``open_zip_images`` is a context manager).

Order: entries come back in natural order of their names (``img2`` before ``img10``),
folder by folder, case-insensitively.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from media.image_check import (
    DEFAULT_MEMORY_LIMIT_BYTES,
    CheckedImage,
    ImageCheckError,
    ImageLimits,
    check_images,
)
from media.worker.images import (
    MARKUP_MARKERS,
    has_markup,
    polyglot_problem,
)

from ..datasets import archives

# Pillow's format names; a JPEG from a phone may come back as "MPO" (JPEG + extra views).
ALLOWED_IMAGE_FORMATS = ("JPEG", "PNG", "BMP", "TIFF", "WEBP")
_DRIVE = re.compile(r"^[A-Za-z]:")
_MAX_PROBLEMS = 10
# Images' ratios are judged from 64 KiB (archives' default, 1 MiB, suits mixed datasets).
_RATIO_MIN_BYTES = 64 * 1024
# Pillow's own decompression-bomb threshold (its MAX_IMAGE_PIXELS), which this module has
# always treated as fatal; the side limit usually refuses such images first anyway.
_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3


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
    reach tens; deflate bombs reach 1000). ``check_memory_bytes``: the address space of
    the sandboxed checker that decodes the images."""

    max_entries: int = 20_000
    max_entry_bytes: int = 64 * 1024**2
    max_total_bytes: int = 4 * 1024**3
    max_ratio: float = 200.0
    max_dimension: int = 8192
    min_dimension: int = 8
    check_memory_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES


@dataclass(frozen=True)
class ImageEntry:
    """One verified image. ``name`` is its path in the archive (or the name given with
    the file): display text only, never used as a file name. ``path`` is where the bytes
    are (a generated name inside the scratch folder for archives). ``markup``: what the
    markup scan found inside (:func:`polyglot_problem`'s words), None when nothing: such
    an image decodes, but must not be served (the caller refuses it)."""

    name: str
    path: Path
    width: int
    height: int
    format: str
    mode: str
    size_bytes: int
    markup: str | None = None


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
        tuple(_natural_chunk(p) for p in re.split(r"(\d+)", part) if p)
        for part in name.replace("\\", "/").casefold().split("/")
    )


def _natural_chunk(text: str) -> tuple[int, int | str]:
    # isdecimal, not isdigit: "²" is a digit int() refuses; and no int() of thousands of
    # digits (Python raises ValueError past 4,300), which only a hostile name would have.
    if text.isdecimal() and len(text) <= 100:
        return (0, int(text))
    return (1, text)


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
    scratch_prefix: str = "imageset-",
) -> Iterator[ImageSet]:
    """Check, extract and verify a zip of images; yield the ``ImageSet``.

    The images live in a fresh folder under ``scratch_dir`` (the system temp folder by
    default), named ``scratch_prefix…``, until the ``with`` block ends; copy what you keep
    before then. The folder is removed on every path, errors included.
    """
    directory = Path(tempfile.mkdtemp(prefix=scratch_prefix, dir=scratch_dir))
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
    problems = image_files_problems(files, names=shown, limits=limits)
    if problems:
        raise ImageSetError(problems)
    entries, problems = _verify_all(
        [(n, f, f.stat().st_size) for n, f in zip(shown, files, strict=True)], limits
    )
    if problems:
        raise ImageSetError(problems)
    return ImageSet(entries=entries)


def image_files_problems(
    paths: Sequence[str | os.PathLike[str]],
    *,
    names: Sequence[str],
    limits: ImageSetLimits = ImageSetLimits(),
) -> list[str]:
    """What is wrong with image files before any is decoded: their count, names (unsafe,
    or the same twice) and sizes. Cheap: a request can answer with it."""
    files = [Path(p) for p in paths]
    if len(names) != len(files):
        raise ValueError("names must match paths one to one")
    problems = _count_problems(len(files), limits)
    problems += [p for p in (name_problem(n) for n in names) if p]
    problems += _duplicate_problems(names)
    total = 0
    for name, file in zip(names, files, strict=True):
        size = file.stat().st_size
        total += size
        if size > limits.max_entry_bytes:
            problems.append(f"“{name}”: {size:,} bytes, more than {limits.max_entry_bytes:,}")
    if total > limits.max_total_bytes:
        problems.append(f"{total:,} bytes in all, more than {limits.max_total_bytes:,}")
    return problems


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


def archive_limits(limits: ImageSetLimits) -> archives.ArchiveLimits:
    """The zip checks of an image-set upload: ``limits``' entry count, sizes and ratio."""
    return archives.ArchiveLimits(
        max_entries=limits.max_entries,
        max_total_bytes=limits.max_total_bytes,
        max_ratio=limits.max_ratio,
        max_entry_bytes=limits.max_entry_bytes,
        ratio_min_bytes=_RATIO_MIN_BYTES,
        methods=frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}),
        # Names are only shown to people: two that read the same are one too many.
        fold_case=True,
    )


def _read_zip(path: Path, directory: Path, limits: ImageSetLimits) -> ImageSet:
    extracted = []
    try:
        with archives.open_checked_zip(path, archive_limits(limits)) as archive:
            if not archive.members:
                raise ImageSetError(["no images in the archive"])
            for number, info in enumerate(archive.members, start=1):
                target = directory / f"{number:06d}.img"
                size = archive.extract(info, target)
                extracted.append((info.filename, target, size))
            skipped = archive.skipped
    except archives.ArchiveError as exc:
        raise ImageSetError(exc.problems) from None
    entries, problems = _verify_all(extracted, limits)
    if problems:
        raise ImageSetError(problems)
    return ImageSet(
        entries=entries,
        skipped=tuple(sorted(skipped, key=natural_key)),
        directory=directory,
    )


def _verify_all(
    files: Sequence[tuple[str, Path, int]], limits: ImageSetLimits
) -> tuple[tuple[ImageEntry, ...], list[str]]:
    """Decode every file in the sandboxed checker; the entries and the problems found."""
    entries = []
    problems = []
    checks = check_images(
        [file for _, file, _ in files],
        limits=ImageLimits(
            formats=ALLOWED_IMAGE_FORMATS,
            max_pixels=_MAX_PIXELS,
            max_dimension=limits.max_dimension,
            min_dimension=limits.min_dimension,
        ),
        memory_limit_bytes=limits.check_memory_bytes,
    )
    try:
        for name, file, size in files:
            try:
                checked = next(checks)
            except ImageCheckError as exc:
                if exc.index is None:
                    raise ImageSetError([f"the images could not be checked: {exc}"]) from None
                name = files[exc.index][0]
                problems.append(f"“{_shown(name)}”: checking the image stopped: {exc}")
                break
            entry = _entry(name, file, size, checked, limits)
            if isinstance(entry, str):
                problems.append(entry)
            else:
                entries.append(entry)
    finally:
        checks.close()
    entries.sort(key=lambda e: natural_key(e.name))
    return tuple(entries), problems


def _shown(name: str) -> str:
    return ascii(name)[1:-1][:120]


def _entry(
    name: str, file: Path, size: int, checked: CheckedImage, limits: ImageSetLimits
) -> ImageEntry | str:
    """The entry of an image the checker found sound (its markup, if any, carried for
    the caller to refuse), or the problem for a person."""
    shown = _shown(name)
    width, height = checked.width, checked.height
    problem = checked.problem
    if problem == "unidentified":
        return f"“{shown}”: not an image (or not {', '.join(ALLOWED_IMAGE_FORMATS)})"
    if problem == "too_many_pixels":
        return f"“{shown}”: too many pixels"
    if problem == "too_large":
        return f"“{shown}”: {width}×{height} pixels, more than {limits.max_dimension} on a side"
    if problem == "too_small":
        return f"“{shown}”: {width}×{height} pixels, too small"
    if problem == "memory":
        return (
            f"“{shown}”: needs more memory to decode than the "
            f"{limits.check_memory_bytes // 1024**2} MiB allowed"
        )
    if problem not in (None, "polyglot"):
        return f"“{shown}”: damaged image ({checked.detail or checked.error})"
    return ImageEntry(
        name=name,
        path=file,
        width=width,
        height=height,
        format=checked.format or "",
        mode=checked.mode,
        size_bytes=size,
        markup=checked.detail if problem == "polyglot" else None,
    )


# The markup scan runs in the checker (it reads every byte anyway); its names stay
# importable from here, where image uploads and dataset imports first shared them.
__all__ = [
    "ALLOWED_IMAGE_FORMATS",
    "MARKUP_MARKERS",
    "ImageEntry",
    "ImageSet",
    "ImageSetError",
    "ImageSetLimits",
    "has_markup",
    "image_files_problems",
    "name_problem",
    "natural_key",
    "open_zip_images",
    "polyglot_problem",
    "read_image_files",
]
