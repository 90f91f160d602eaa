"""HTTP Range answers for media the pages play (``<video>`` seeks by asking for byte ranges;
Django's FileResponse ignores them), from a local file or from object storage.

A source says how big the file is and opens one byte range of it. On object storage that is
one ranged GET of the object: django-storages' ``S3File`` would download the whole object
into a temporary file before the first byte, for every seek of the player.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse

from .bounds import bounded_int

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class RangeSource:
    """A file of ``size`` bytes; ``open(start, length)`` gives a stream positioned at
    ``start`` that the response reads at most ``length`` bytes of."""

    size: int
    open: Callable[[int, int], BinaryIO]


def local_file_ranges(path: Path) -> RangeSource | None:
    """A file on this machine's disk, or None when it is gone."""
    try:
        size = path.stat().st_size
    except OSError:
        return None

    def open_range(start: int, length: int) -> BinaryIO:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the response
        handle.seek(start)
        return handle

    return RangeSource(size=size, open=open_range)


def stored_file_ranges(name: str) -> RangeSource | None:
    """A file in the default storage (filesystem or S3-compatible), or None when missing."""
    try:
        return local_file_ranges(Path(default_storage.path(name)))
    except NotImplementedError:
        pass  # object storage
    try:
        size = default_storage.size(name)
    except Exception:  # botocore raises ClientError (404) for a missing object
        return None

    def open_range(start: int, length: int) -> BinaryIO:
        if length <= 0:
            return io.BytesIO(b"")
        return object_range(name, start=start, length=length)

    return RangeSource(size=size, open=open_range)


def object_range(name: str, *, start: int, length: int) -> BinaryIO:
    """Bytes ``start`` .. ``start + length - 1`` of a stored object, streamed (one ranged GET)."""
    from storages.utils import clean_name, safe_join

    storage = default_storage
    key = safe_join(storage.location, clean_name(name))
    answer = storage.connection.meta.client.get_object(
        Bucket=storage.bucket_name, Key=key, Range=f"bytes={start}-{start + length - 1}"
    )
    return answer["Body"]


class _RangeReader(io.RawIOBase):
    """Reads at most ``length`` bytes of ``handle`` from where it stands (no fileno(), so
    a server cannot sendfile() past the range)."""

    def __init__(self, handle: BinaryIO, length: int) -> None:
        self.handle = handle
        self.left = length

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.handle.read(size)
        self.left -= len(data)
        return data

    def close(self) -> None:
        try:
            self.handle.close()
        finally:
            super().close()


def requested_range(header: str, size: int) -> tuple[int, int, bool] | None:
    """``(first, last, partial)`` of one ``Range: bytes=a-b`` header over ``size`` bytes;
    None when it cannot be satisfied (416). No header, or several ranges ("bytes=0-1,5-6",
    which may be answered with the whole file), is the whole file."""
    match = _RANGE.match(header.strip())
    if not (match and (match[1] or match[2])):
        return 0, size - 1, False
    # Bounds are parsed by bounded_int, never int() (5,000 digits raise ValueError): a
    # first byte past 2**63 is past the end (416), a last byte past it is the end.
    first = bounded_int(match[1]) if match[1] else None
    last = bounded_int(match[2]) if match[2] else None
    suffix = None
    if match[1]:
        start = size if first is None else first
        end = size - 1 if last is None else min(last, size - 1)
    else:  # "bytes=-500": the last 500 bytes
        suffix = size + 1 if last is None else last
        start, end = max(0, size - suffix), size - 1
    if start >= size or end < start or suffix == 0:
        return None
    return start, end, True


def ranged_response(
    request: HttpRequest, source: RangeSource, *, content_type: str, filename: str
) -> HttpResponse:
    """Serve ``source`` honouring one byte range (206), answering 416 to a range past the
    end, and the whole file (200) otherwise."""
    wanted = requested_range(request.headers.get("Range", ""), source.size)
    if wanted is None:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{source.size}"
        return response
    start, end, partial = wanted
    length = max(0, end - start + 1)
    response = FileResponse(
        _RangeReader(source.open(start, length), length),
        status=206 if partial else 200,
        content_type=content_type,
        as_attachment=False,
        filename=filename,
    )
    response.block_size = _CHUNK
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    if partial:
        response["Content-Range"] = f"bytes {start}-{end}/{source.size}"
    return response
