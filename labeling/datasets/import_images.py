"""The images of a dataset on their way in: each decoded fully, checked (size, declared
size against the pixels, EXIF orientation, the polyglot rule) and hashed from one read in
the sandboxed checker (:mod:`media.image_check`), never in this process. Split
from ``importing`` (which plans, matches and stores)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

from media.image_check import (
    CheckedImage,
    ImageCheckError,
    ImageLimits,
    check_images,
)

from ..models import Frame
from .formats import DatasetImage
from .formats.files import PIL_FORMATS

#: Decoded size limit per image (an 8000x8000 RGB image is ~190 MB in memory).
MAX_IMAGE_PIXELS = 64_000_000
# Pillow types stored as they are (browsers show them); BMP and TIFF become PNG.
_KEPT_TYPES = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp"}
_ROTATING = (2, 3, 4, 5, 6, 7, 8)  # EXIF orientations that change the displayed pixels
# The types the format readers accept (``formats.files.image_size``): the checker opens
# nothing else (no Ghostscript behind EPS, no rarely used parsers).
_CHECKED_FORMATS = tuple(sorted(PIL_FORMATS))

#: ``progress(stage, done, total)``: called as images are checked (``"checking"``) and
#: stored (``"storing"``); it may raise (a job's cancel) to stop the import, which then
#: stores nothing, as on any failure.
Progress = Callable[[str, int, int], None]


@dataclass
class IncomingImage:
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


def _memory_limit() -> int:
    return int(settings.IMAGE_CHECK_MEMORY_LIMIT_BYTES)


def inspect_images(
    items: list[IncomingImage], *, progress: Progress
) -> Iterator[tuple[IncomingImage, str | None]]:
    """``(item, problem or None)`` for each item in order, the images decoded in the
    sandboxed checker (:func:`media.image_check.check_images`: a child process
    per batch, a few decoding threads in it). ``progress`` is called here, in the caller's
    thread (it may write to the database or raise to cancel; the child is then stopped).

    When the checker dies or stalls on an image, that image comes back with the reason
    and nothing follows (the import fails on it, storing nothing)."""
    total = len(items)
    checks = check_images(
        [item.source for item in items],
        limits=ImageLimits(formats=_CHECKED_FORMATS, max_pixels=MAX_IMAGE_PIXELS),
        memory_limit_bytes=_memory_limit(),
        threads=_check_threads(),
    )
    try:
        for done, item in enumerate(items):
            progress("checking", done, total)
            try:
                checked = next(checks)
            except ImageCheckError as exc:
                if exc.index is None:  # it could not start: no image is to blame
                    raise ValidationError(
                        {"file": f"The images could not be checked: {exc}"}
                    ) from None
                yield items[exc.index], f"checking the image stopped: {exc}"
                return
            yield item, _judge(item, checked)
    finally:
        checks.close()


def _judge(item: IncomingImage, checked: CheckedImage) -> str | None:
    """The problem of the image the checker described, or None after deciding how to
    store it (``item``'s ``digest``, ``ext``, ``convert``, ``transpose``, ``size_bytes``)."""
    image = item.image
    problem = checked.problem
    raw = (checked.width, checked.height)
    if problem == "too_many_pixels":
        return f"image is too large ({raw[0]}x{raw[1]}; at most {MAX_IMAGE_PIXELS} pixels)"
    if problem == "memory":
        return (
            f"image needs more memory to decode than the {_memory_limit() // 1024**2} MiB allowed"
        )
    if problem not in (None, "polyglot"):
        return f"image cannot be decoded ({checked.error or 'error'}); it may be truncated"
    kind = checked.format or ""
    orientation = checked.orientation
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
    # The same polyglot check as image uploads (run in the checker): HTML or script inside
    # an image is refused.
    if problem == "polyglot":
        return checked.detail
    item.convert = rotating or kind not in _KEPT_TYPES
    item.ext = "jpg" if kind in ("JPEG", "MPO") else ("png" if item.convert else _KEPT_TYPES[kind])
    item.digest = checked.sha256
    item.size_bytes = checked.size_bytes
    return None
