"""Telling a file cut short from a damaged one (stdlib only: it runs in the sandbox).

A camera's MP4/MOV writes its index (the ``moov`` box) at the end, so a copy or upload
that stopped early has no index and FFmpeg refuses it as "invalid data", which alone would
read as "not a video". ISO base media files are a chain of top-level boxes, each starting
with its size and a four-letter type: the file was cut short when it starts as one (an
``ftyp`` box) and either a box claims more bytes than the file has or the index is missing.
"""

from __future__ import annotations

import os
import struct

INCOMPLETE = (
    "The video is an incomplete file (the upload or copy was cut short): it is truncated, "
    "{detail}. Copy or upload the whole recording again."
)
# Far more than any real file holds at the top level; a bound on a crafted one.
_MAX_BOXES = 100_000


def _box_type_ok(kind: bytes) -> bool:
    return all(32 <= c < 127 for c in kind)


def cut_short(path: str) -> str | None:
    """Why ``path`` is an ISO media file cut short, or None (whole, or not such a file)."""
    try:
        with open(path, "rb") as fh:
            total = os.fstat(fh.fileno()).st_size
            pos, seen = 0, set()
            for _ in range(_MAX_BOXES):
                if pos >= total:
                    break
                fh.seek(pos)
                header = fh.read(8)
                if len(header) < 8:
                    return f"it ends inside a box header at byte {pos:,}" if seen else None
                size, kind = struct.unpack(">I4s", header)
                if not _box_type_ok(kind) or (pos == 0 and kind != b"ftyp"):
                    return None  # not (or no longer) an ISO media file: damaged, not cut
                if size == 1:  # a 64-bit size follows
                    wide = fh.read(8)
                    if len(wide) < 8:
                        return f"it ends inside a box header at byte {pos:,}"
                    size = struct.unpack(">Q", wide)[0]
                elif size == 0:  # the box runs to the end of the file
                    size = total - pos
                if size < 8:
                    return None
                seen.add(kind)
                if pos + size > total:
                    return (
                        f"its “{kind.decode('ascii')}” box declares {pos + size:,} bytes but "
                        f"the file has {total:,}"
                    )
                pos += size
    except OSError:
        return None
    if seen and b"moov" not in seen and b"moof" not in seen:
        return "its index (the moov box, written last by cameras) is missing"
    return None


def incomplete_message(path: str) -> str | None:
    """The message for a person when ``path`` was cut short, else None."""
    detail = cut_short(path)
    return INCOMPLETE.format(detail=detail) if detail else None
