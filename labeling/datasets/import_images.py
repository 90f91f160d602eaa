"""The images of a dataset on their way in: each decoded fully, checked (size, declared
size against the pixels, EXIF orientation, the polyglot rule) and hashed from one read, on a
few threads. Split from ``importing`` (which plans, matches and stores)."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from django.conf import settings

from ..models import Frame
from ..videos.imagesets import polyglot_problem
from .formats import DatasetImage
from .formats.files import pillow_open

#: Decoded size limit per image (an 8000x8000 RGB image is ~190 MB in memory).
MAX_IMAGE_PIXELS = 64_000_000
# Pillow types stored as they are (browsers show them); BMP and TIFF become PNG.
_KEPT_TYPES = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp"}
_ROTATING = (2, 3, 4, 5, 6, 7, 8)  # EXIF orientations that change the displayed pixels

#: ``progress(stage, done, total)``: called as images are checked (``"checking"``) and
#: stored (``"storing"``); it may raise (a job's cancel) to stop the import, which then
#: stores nothing, as on any failure.
Progress = Callable[[str, int, int], None]


@dataclass
class _Incoming:
    """One image of the dataset on its way in."""

    image: DatasetImage
    source: Path
    digest: str = ""
    size_bytes: int = 0
    ext: str = ""
    convert: bool = False  # re-encode: a type browsers cannot show, or an EXIF rotation
    transpose: bool = False  # apply the EXIF orientation while re-encoding
    movable: bool = False  # the import's own unpacked copy: storage may move it
    frame: Frame | None = None
    stored: str = ""
    boxes: list[tuple[int, float, float, float, float]] = field(default_factory=list)


def _check_threads() -> int:
    default = min(4, os.cpu_count() or 1)
    return max(1, int(getattr(settings, "DATASET_IMPORT_CHECK_THREADS", default)))


def _inspect_images(
    items: list[_Incoming], *, progress: Progress
) -> Iterator[tuple[_Incoming, str | None]]:
    """``(item, problem or None)`` for each item in order, :func:`_inspect_image` run on
    a few threads (Pillow decodes and hashlib hashes without holding the GIL, so decoding
    uses the worker's cores). ``progress`` is called here, in the caller's thread (it may
    write to the database or raise to cancel; pending checks are then dropped)."""
    total = len(items)
    threads = _check_threads()
    if threads == 1 or total < 2:
        for done, item in enumerate(items):
            progress("checking", done, total)
            yield item, _inspect_image(item)
        return
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="import-check")
    try:
        pending: deque[tuple[_Incoming, Future]] = deque()
        queued = iter(items)
        window = 4 * threads  # bounded look-ahead: results come back in order
        for item in itertools.islice(queued, window):
            pending.append((item, pool.submit(_inspect_image, item)))
        done = 0
        while pending:
            progress("checking", done, total)
            item, future = pending.popleft()
            reason = future.result()
            for following in itertools.islice(queued, 1):
                pending.append((following, pool.submit(_inspect_image, following)))
            done += 1
            yield item, reason
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _inspect_image(item: _Incoming) -> str | None:
    """Decode the image fully (a truncated file is a problem) and decide how to store it."""
    image = item.image
    try:
        # Read once: the bytes are decoded, scanned for markup and hashed from memory.
        data = item.source.read_bytes()
        with pillow_open()(io.BytesIO(data)) as img:
            kind = img.format
            raw = img.size
            if raw[0] * raw[1] > MAX_IMAGE_PIXELS:
                return f"image is too large ({raw[0]}x{raw[1]}; at most {MAX_IMAGE_PIXELS} pixels)"
            try:
                orientation = img.getexif().get(0x0112)
            except Exception:  # a broken EXIF block must not hide a readable image
                orientation = None
            img.load()
    except Image.DecompressionBombError:
        return "image is too large"
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        return f"image cannot be decoded ({type(exc).__name__}); it may be truncated"
    rotating = orientation in _ROTATING
    displayed = raw[::-1] if orientation in (5, 6, 7, 8) else raw
    size = (image.width, image.height)
    if size == displayed:
        item.transpose = rotating
    elif size == raw:
        item.transpose = False  # boxes drawn on the raw pixels: store those, without EXIF
    else:
        return (
            f"declared size {size[0]}x{size[1]} differs from the image's "
            f"{displayed[0]}x{displayed[1]}"
        )
    # The same polyglot check as image uploads: HTML or script inside an image is refused.
    problem = polyglot_problem(data, image_format=kind)
    if problem:
        return problem
    item.convert = rotating or kind not in _KEPT_TYPES
    item.ext = "jpg" if kind in ("JPEG", "MPO") else ("png" if item.convert else _KEPT_TYPES[kind])
    item.digest = hashlib.sha256(data).hexdigest()
    item.size_bytes = len(data)
    return None
