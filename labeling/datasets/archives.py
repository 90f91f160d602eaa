"""Zip archives: the one place where uploaded zips are checked and unpacked, and dataset
export. Pure module: no Django import.

Used by dataset import (:func:`extract_zip`, which keeps the archive's folder tree) and by
image-set upload (:mod:`labeling.videos.imagesets`, which unpacks through :func:`open_checked_zip`
under generated names and then verifies each image).

:func:`open_checked_zip` checks the whole central directory before a byte is written, and
refuses (:class:`ArchiveError`, listing every problem):

- entry names that are not plain relative paths (``../x``, ``/etc/x``, ``C:x``, backslashes,
  NUL, control or bidi characters: :func:`labeling.datasets.formats.files.path_problem`);
- more entries than allowed, counted from the end record before :mod:`zipfile` parses the
  central directory (a crafted count could otherwise exhaust memory), and a central
  directory far larger than that many entries need;
- symbolic links and other non-regular entries (Unix mode bits in ``external_attr``);
- encrypted entries and compression methods not allowed (``ArchiveLimits.methods``);
- duplicate names (``fold_case``: also names equal but for case or Unicode normalisation),
  and a name that is both a file and a folder;
- more than ``max_entries`` entries, an entry over ``max_entry_bytes``, more than
  ``max_total_bytes`` uncompressed, and compression ratios far beyond what images reach
  (zip bombs): an entry of at least ``ratio_min_bytes`` compressed more than
  ``max_ratio`` : 1, or the archive as a whole.

While extracting it counts the bytes really inflated, per entry and in all, so a central
directory that understates sizes cannot fill the disk either. Files are created with
``O_EXCL | O_NOFOLLOW``. macOS and Windows litter (``__MACOSX/``, ``._*``, ``.DS_Store``,
``Thumbs.db``, ``desktop.ini``) is skipped, since it would otherwise be read as broken
images. The caller owns the destination folder and removes it on every path.
"""

from __future__ import annotations

import os
import stat
import struct
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .formats.base import SHOWN_PROBLEMS
from .formats.files import IMAGE_EXTENSIONS, path_problem

#: Ratios are only judged for entries at least this large (tiny files compress oddly).
RATIO_MIN_BYTES = 1024 * 1024
CHUNK_BYTES = 1024 * 1024
#: No central directory record is under 46 bytes; this allows generous names and extras.
MAX_DIRECTORY_BYTES_PER_ENTRY = 2048
# Not LZMA: zipfile sizes its dictionary from each entry's header, so a crafted entry could
# claim a huge one and exhaust memory before a single byte is counted.
_SUPPORTED_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2})
_JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}


@dataclass(frozen=True)
class ArchiveLimits:
    """What an uploaded archive may hold. Images hardly compress (JPEG/PNG ~1:1) and
    annotation text 5-30:1, so 100:1 leaves a wide margin while stopping zip bombs
    (1000:1 and more)."""

    max_entries: int = 250_000
    max_total_bytes: int = 20 * 1024**3
    max_ratio: float = 100.0
    #: None: entries are only bounded by ``max_total_bytes``.
    max_entry_bytes: int | None = None
    #: Entries smaller than this are not judged by their ratio (tiny files compress oddly).
    ratio_min_bytes: int = RATIO_MIN_BYTES
    #: Compression methods accepted (``zipfile.ZIP_*``).
    methods: frozenset[int] = field(default=_SUPPORTED_METHODS)
    #: Names equal but for case or Unicode normalisation count as duplicates.
    fold_case: bool = False


class ArchiveError(ValueError):
    """The archive is unreadable or unsafe. ``problems`` lists the reasons."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        shown = "; ".join(self.problems[:SHOWN_PROBLEMS])
        more = len(self.problems) - SHOWN_PROBLEMS
        super().__init__(shown + (f"; ... and {more} more" if more > 0 else ""))


def is_zip(path: Path) -> bool:
    """Whether the file starts like a zip archive (decided by content, never by name)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head in (b"PK\x03\x04", b"PK\x05\x06")


def is_junk(name: str) -> bool:
    """OS litter that is not part of a dataset (``__MACOSX/``, ``._a.jpg``, ``.DS_Store``)."""
    parts = PurePosixPath(name).parts
    if not parts:
        return False
    return (
        any(part.casefold() == "__macosx" for part in parts[:-1])
        or parts[-1].startswith("._")
        or parts[-1].casefold() in _JUNK_NAMES
    )


def _entry_kind(info: zipfile.ZipInfo) -> str:
    """The entry's kind: "file", "dir", "link" or "special", from the Unix file type bits
    when recorded."""
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix type recorded (zipfile, Windows)
    if kind == stat.S_IFLNK:
        return "link"
    if kind == stat.S_IFDIR or info.filename.endswith("/"):
        return "dir"
    if kind not in (0, stat.S_IFREG):
        return "special"
    return "file"


def _shown(name: str) -> str:
    return repr(name) if len(name) <= 120 else repr(name[:120] + "...")


def _too_many(entries: int, limits: ArchiveLimits) -> ArchiveError:
    return ArchiveError(
        [f"the archive has {entries} entries, more than the {limits.max_entries} allowed"]
    )


def declared_entries(path: Path) -> tuple[int, int]:
    """The entry count and the central directory's size in bytes, from the end record
    (zip64 aware), read before :mod:`zipfile` parses the directory: a small crafted archive
    can declare millions of entries, and zipfile would build an object for each.
    ArchiveError if there is no end record."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        tail_size = min(size, 22 + 65535)  # the record plus the longest comment
        fh.seek(size - tail_size)
        tail = fh.read(tail_size)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise ArchiveError(
                ["not a zip archive, or not a readable one (no end of central directory)"]
            )
        entries, directory_bytes = struct.unpack("<HL", tail[at + 10 : at + 16])
        if entries != 0xFFFF and directory_bytes != 0xFFFFFFFF:
            return entries, directory_bytes
        # Zip64: the real numbers are in the zip64 end record, found through its locator.
        locator = tail[at - 20 : at] if at >= 20 else b""
        if len(locator) != 20 or locator[:4] != b"PK\x06\x07":
            raise ArchiveError(["not a readable zip archive (damaged zip64 record)"])
        record_at = struct.unpack("<Q", locator[8:16])[0]
        if record_at > size - 56:
            raise ArchiveError(["not a readable zip archive (damaged zip64 record)"])
        fh.seek(record_at)
        record = fh.read(56)
        if record[:4] != b"PK\x06\x06":
            raise ArchiveError(["not a readable zip archive (damaged zip64 record)"])
        entries, directory_bytes = struct.unpack("<QQ", record[32:48])
        return entries, directory_bytes


@dataclass(frozen=True)
class ZipContents:
    """What :func:`check_zip` accepted: the file entries to extract, in archive order, and
    the names of the OS litter entries skipped."""

    members: tuple[zipfile.ZipInfo, ...]
    skipped: tuple[str, ...] = ()


def check_zip(zf: zipfile.ZipFile, limits: ArchiveLimits) -> ZipContents:
    """Check every entry of ``zf``; ArchiveError lists every problem."""
    problems: list[str] = []
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise _too_many(len(infos), limits)
    files: list[zipfile.ZipInfo] = []
    skipped: list[str] = []
    file_names: set[str] = set()
    dir_names: set[str] = set()
    folded: set[str] = set()
    total = compressed = 0
    for info in infos:
        raw = info.orig_filename  # zipfile cuts ``filename`` at a NUL, hiding the trick
        shown = _shown(raw)
        kind = _entry_kind(info)
        name = raw.rstrip("/") if kind == "dir" else raw
        if "\x00" in name:
            reason = "contains NUL, a control or invisible character zipfile would cut it at"
        else:
            reason = path_problem(name)
        if reason:
            problems.append(f"{shown}: entry name {reason}")
            continue
        if kind == "link":
            problems.append(f"{shown}: is a symbolic link")
            continue
        if kind == "special":
            problems.append(f"{shown}: is not a regular file")
            continue
        if is_junk(name):
            if kind == "file":
                skipped.append(name)
            continue
        if info.flag_bits & 0x1:
            problems.append(f"{shown}: is encrypted")
            continue
        parents = {p.as_posix() for p in PurePosixPath(name).parents if p.as_posix() != "."}
        if kind == "dir":
            if name in file_names:
                problems.append(f"{shown}: is both a file and a folder")
            dir_names.add(name)
            continue
        if info.compress_type not in limits.methods:
            problems.append(f"{shown}: unsupported compression method {info.compress_type}")
            continue
        if name in file_names:
            problems.append(f"{shown}: appears more than once")
            continue
        key = unicodedata.normalize("NFC", name).casefold()
        if limits.fold_case and key in folded:
            problems.append(f"{shown}: appears twice (names differing only in case)")
            continue
        if name in dir_names or parents & file_names:
            problems.append(f"{shown}: is both a file and a folder")
            continue
        file_names.add(name)
        folded.add(key)
        dir_names |= parents
        if limits.max_entry_bytes is not None and info.file_size > limits.max_entry_bytes:
            problems.append(
                f"{shown}: {info.file_size:,} bytes, more than {limits.max_entry_bytes:,}"
            )
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= limits.ratio_min_bytes and ratio > limits.max_ratio:
            problems.append(
                f"{shown}: compressed {ratio:.0f}:1, which looks like a zip bomb "
                f"(at most {limits.max_ratio:g}:1 allowed)"
            )
            continue
        total += info.file_size
        compressed += info.compress_size
        files.append(info)
    if total > limits.max_total_bytes:
        problems.append(
            f"the archive unpacks to {total:,} bytes in all, more than the "
            f"{limits.max_total_bytes:,} allowed"
        )
    elif total >= RATIO_MIN_BYTES and total > limits.max_ratio * max(compressed, 1):
        problems.append(
            f"the archive is compressed {total / max(compressed, 1):.0f}:1, which looks "
            f"like a zip bomb (at most {limits.max_ratio:g}:1 allowed)"
        )
    if problems:
        raise ArchiveError(problems)
    return ZipContents(members=tuple(files), skipped=tuple(skipped))


class CheckedZip:
    """An archive whose directory passed :func:`check_zip` (``members``, ``skipped``),
    open for extraction; see :func:`open_checked_zip`."""

    def __init__(self, zf: zipfile.ZipFile, contents: ZipContents, limits: ArchiveLimits):
        self.members = contents.members
        self.skipped = contents.skipped
        self._zf = zf
        self._limits = limits
        self._inflated = 0

    def extract(self, info: zipfile.ZipInfo, target: Path) -> int:
        """Write member ``info`` to the new file ``target`` (never overwriting, never
        through a symlink); return its size. Stops with ArchiveError as soon as the
        entry, or all entries so far, inflate beyond their declared sizes."""
        written = 0
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out, self._zf.open(info) as src:
                while chunk := src.read(CHUNK_BYTES):
                    written += len(chunk)
                    self._inflated += len(chunk)
                    if written > info.file_size or self._inflated > self._limits.max_total_bytes:
                        raise ArchiveError(
                            [f"{_shown(info.filename)}: unpacks to more than its declared size"]
                        )
                    out.write(chunk)
        except ArchiveError:
            raise
        except (zipfile.BadZipFile, EOFError, NotImplementedError, OSError, ValueError) as exc:
            raise ArchiveError(
                [f"{_shown(info.filename)}: cannot be extracted ({type(exc).__name__}: {exc})"]
            ) from None
        return written


@contextmanager
def open_checked_zip(path: Path, limits: ArchiveLimits | None = None) -> Iterator[CheckedZip]:
    """Open the zip at ``path`` after checking its end record and its whole directory
    (ArchiveError otherwise); extract with ``CheckedZip.extract``."""
    limits = limits or ArchiveLimits()
    try:
        entries, directory_bytes = declared_entries(Path(path))
        if entries > limits.max_entries:
            raise _too_many(entries, limits)
        if directory_bytes > limits.max_entries * MAX_DIRECTORY_BYTES_PER_ENTRY:
            raise ArchiveError(
                [f"the archive's directory is {directory_bytes:,} bytes, far too large"]
            )
        zf = zipfile.ZipFile(path)
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise ArchiveError([f"not a readable zip archive ({exc})"]) from None
    with zf:
        yield CheckedZip(zf, check_zip(zf, limits), limits)


def extract_zip(path: Path, dest: Path, limits: ArchiveLimits | None = None) -> int:
    """Extract the zip at ``path`` into the existing empty folder ``dest``, keeping its
    folder tree; return the number of files written. ArchiveError when the archive is
    unreadable or unsafe (nothing is written for a refused archive; a failure midway
    leaves partial files for the caller's cleanup of ``dest``)."""
    dest = Path(dest)
    with open_checked_zip(path, limits) as archive:
        for info in archive.members:
            target = dest.joinpath(*PurePosixPath(info.filename).parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ArchiveError(
                    [f"the archive cannot be unpacked ({type(exc).__name__}: {exc})"]
                ) from None
            archive.extract(info, target)
        return len(archive.members)


def write_zip(src_dir: Path, zip_path: Path) -> int:
    """Zip the regular files under ``src_dir`` (sorted, posix names relative to it) into
    ``zip_path``; images are stored (they do not compress), text is deflated. Returns the
    number of files. A failure removes the partial zip."""
    src_dir, zip_path = Path(src_dir), Path(zip_path)
    count = 0
    zf = zipfile.ZipFile(zip_path, "x", allowZip64=True)  # never overwrites an existing file
    try:
        with zf:
            for dirpath, dirnames, filenames in os.walk(src_dir):
                dirnames.sort()
                for name in sorted(filenames):
                    file = Path(dirpath) / name
                    if not file.is_file() or file.is_symlink():
                        continue
                    arcname = file.relative_to(src_dir).as_posix()
                    ext = file.suffix.lower().lstrip(".")
                    method = zipfile.ZIP_STORED if ext in IMAGE_EXTENSIONS else zipfile.ZIP_DEFLATED
                    zf.write(file, arcname, compress_type=method)
                    count += 1
    except BaseException:
        zip_path.unlink(missing_ok=True)
        raise
    return count
