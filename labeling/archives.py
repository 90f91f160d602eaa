"""Zip archives for dataset import and export. Pure module: no Django import.

:func:`extract_zip` checks the whole central directory before it writes a byte, and refuses
(:class:`ArchiveError`, listing every problem):

- entry names that are not plain relative paths (``../x``, ``/etc/x``, ``C:x``, backslashes,
  NUL, control or bidi characters: :func:`labeling.formats.base.path_problem`);
- more entries than allowed, counted from the end record before :mod:`zipfile` parses the
  central directory (a crafted count could otherwise exhaust memory);
- symbolic links and other non-regular entries (Unix mode bits in ``external_attr``);
- encrypted entries and compression methods :mod:`zipfile` cannot read;
- duplicate names, and a name that is both a file and a folder;
- more than ``max_entries`` entries, more than ``max_total_bytes`` uncompressed, and
  compression ratios far beyond what images reach (zip bombs): an entry above
  :data:`RATIO_MIN_BYTES` compressed more than ``max_ratio`` : 1, or the archive as a whole.

While extracting it counts the bytes really written, so a central directory that understates
sizes cannot fill the disk either. Files are created with ``O_EXCL | O_NOFOLLOW`` inside a
folder that only this function populates. macOS and Windows litter (``__MACOSX/``,
``._*``, ``.DS_Store``, ``Thumbs.db``) is skipped, since it would otherwise be read as broken
images. The caller owns ``dest`` and removes it on every path.
"""

from __future__ import annotations

import os
import stat
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .formats.base import IMAGE_EXTENSIONS, SHOWN_PROBLEMS, path_problem

#: Ratios are only judged for entries at least this large (tiny files compress oddly).
RATIO_MIN_BYTES = 1024 * 1024
CHUNK_BYTES = 1024 * 1024
_SUPPORTED_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


@dataclass(frozen=True)
class ArchiveLimits:
    """What an uploaded archive may hold. Images hardly compress (JPEG/PNG ~1:1) and
    annotation text 5-30:1, so 100:1 leaves a wide margin while stopping zip bombs
    (1000:1 and more)."""

    max_entries: int = 250_000
    max_total_bytes: int = 20 * 1024**3
    max_ratio: float = 100.0


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
    return parts[0] == "__MACOSX" or parts[-1].startswith("._") or parts[-1] in _JUNK_NAMES


def _entry_kind(info: zipfile.ZipInfo) -> str:
    """"file", "dir", "link" or "special" from the Unix file type bits, if recorded."""
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix type recorded (zipfile, Windows)
    if kind == stat.S_IFLNK:
        return "link"
    if kind == stat.S_IFDIR or info.filename.endswith("/"):
        return "dir"
    if kind not in (0, stat.S_IFREG):
        return "special"
    return "file"


def declared_entries(path: Path) -> int:
    """The entry count from the end-of-central-directory record (zip64 aware), read before
    :mod:`zipfile` parses the directory: a small crafted archive can declare millions of
    entries, and zipfile would build an object for each. ArchiveError if there is none."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        tail_size = min(size, 22 + 65535)  # the record plus the longest comment
        fh.seek(size - tail_size)
        tail = fh.read(tail_size)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise ArchiveError(["not a readable zip archive (no end of central directory)"])
        entries = struct.unpack("<H", tail[at + 10:at + 12])[0]
        if entries != 0xFFFF:
            return entries
        locator = tail[at - 20:at] if at >= 20 else b""
        if len(locator) != 20 or locator[:4] != b"PK\x06\x07":
            raise ArchiveError(["not a readable zip archive (damaged zip64 record)"])
        record_at = struct.unpack("<Q", locator[8:16])[0]
        if record_at > size - 56:
            raise ArchiveError(["not a readable zip archive (damaged zip64 record)"])
        fh.seek(record_at)
        record = fh.read(56)
        if record[:4] != b"PK\x06\x06":
            raise ArchiveError(["not a readable zip archive (damaged zip64 record)"])
        return struct.unpack("<Q", record[32:40])[0]


def check_zip(zf: zipfile.ZipFile, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """The file entries to extract, in archive order; ArchiveError lists every problem."""
    problems: list[str] = []
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise ArchiveError([f"the archive has {len(infos)} entries (at most "
                            f"{limits.max_entries} allowed)"])
    files: list[zipfile.ZipInfo] = []
    file_names: set[str] = set()
    dir_names: set[str] = set()
    total = compressed = 0
    for info in infos:
        raw = info.orig_filename  # zipfile cuts ``filename`` at a NUL, hiding the trick
        shown = repr(raw) if len(raw) <= 120 else repr(raw[:120] + "...")
        kind = _entry_kind(info)
        name = raw.rstrip("/") if kind == "dir" else raw
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
        if info.compress_type not in _SUPPORTED_METHODS:
            problems.append(f"{shown}: unsupported compression method {info.compress_type}")
            continue
        if name in file_names:
            problems.append(f"{shown}: appears more than once")
            continue
        if name in dir_names or parents & file_names:
            problems.append(f"{shown}: is both a file and a folder")
            continue
        file_names.add(name)
        dir_names |= parents
        if (
            info.file_size >= RATIO_MIN_BYTES
            and info.file_size > limits.max_ratio * max(info.compress_size, 1)
        ):
            ratio = info.file_size / max(info.compress_size, 1)
            problems.append(f"{shown}: compressed {ratio:.0f}:1, which looks like a zip bomb "
                            f"(at most {limits.max_ratio:g}:1 allowed)")
            continue
        total += info.file_size
        compressed += info.compress_size
        files.append(info)
    if total > limits.max_total_bytes:
        problems.append(f"the archive unpacks to {total} bytes (at most "
                        f"{limits.max_total_bytes} allowed)")
    elif total >= RATIO_MIN_BYTES and total > limits.max_ratio * max(compressed, 1):
        problems.append(f"the archive is compressed {total / max(compressed, 1):.0f}:1, which "
                        f"looks like a zip bomb (at most {limits.max_ratio:g}:1 allowed)")
    if problems:
        raise ArchiveError(problems)
    return files


def extract_zip(path: Path, dest: Path, limits: ArchiveLimits | None = None) -> int:
    """Extract the zip at ``path`` into the existing empty folder ``dest``; return the number
    of files written. ArchiveError when the archive is unreadable or unsafe (nothing is
    written for a refused archive; a failure midway leaves partial files for the caller's
    cleanup of ``dest``)."""
    limits = limits or ArchiveLimits()
    dest = Path(dest)
    try:
        entries = declared_entries(Path(path))
        if entries > limits.max_entries:
            raise ArchiveError([f"the archive has {entries} entries (at most "
                                f"{limits.max_entries} allowed)"])
        with zipfile.ZipFile(path) as zf:
            members = check_zip(zf, limits)
            written_total = 0
            for info in members:
                target = dest.joinpath(*PurePosixPath(info.filename).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                written = 0
                with os.fdopen(fd, "wb") as out, zf.open(info) as src:
                    while chunk := src.read(CHUNK_BYTES):
                        written += len(chunk)
                        written_total += len(chunk)
                        if written > info.file_size or written_total > limits.max_total_bytes:
                            raise ArchiveError([f"{info.filename!r}: unpacks to more than its "
                                                "declared size"])
                        out.write(chunk)
            return len(members)
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise ArchiveError([f"not a readable zip archive ({exc})"]) from None
    except (OSError, ValueError) as exc:
        raise ArchiveError([f"the archive cannot be unpacked ({type(exc).__name__}: {exc})"]) \
            from None


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
