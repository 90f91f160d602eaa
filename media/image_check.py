"""Check untrusted images in the sandboxed decoder, as videos are: decoded in full, sized,
hashed and scanned for markup in a limited child process, never in the web or Celery one.

Pure module: no Django import. :func:`check_images` runs one child per batch of
:data:`IMAGES_PER_CHILD` images (starting a child costs tens of milliseconds, a 640x480 JPEG
about two to decode: a child per image would double the time), which decodes on a few
threads and answers one :class:`CheckedImage` per path, in order, as they come. What the
child does and the problems it reports: :mod:`media.worker.images`.

The child runs under :func:`media.sandbox.run_worker`'s limits (address space,
CPU seconds, no files written, a wall clock). When it dies (a crash, the memory limit, a
kill) or stalls, :class:`ImageCheckError` names the image being checked then: after a death
among several threads, the images in flight are checked again one at a time in a fresh
child first, so the image named is the one that kills a child on its own (a death that
does not come back on its own was the load of the others, and checking goes on).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .probe import DEFAULT_MEMORY_LIMIT_BYTES, MIN_MEMORY_LIMIT_BYTES
from .sandbox import run_worker
from .worker.images import PROBLEMS

__all__ = [
    "DEFAULT_MEMORY_LIMIT_BYTES",
    "IMAGES_PER_CHILD",
    "PROBLEMS",
    "CheckedImage",
    "ImageCheckError",
    "ImageLimits",
    "check_images",
]

#: Images one child checks; a dataset of 13,622 takes a few children.
IMAGES_PER_CHILD = 2000
# Time the parent waits on a batch: a start-up allowance plus a generous per-image one
# (about 2 ms per 640x480 JPEG, a second or two for an 8192x8192 PNG). Time the caller
# spends between results does not count; any silence past the sandbox's stall limit
# (``STALL_TIMEOUT_S``) ends the batch on its own.
_BATCH_TIMEOUT_S = 60.0
_TIMEOUT_PER_IMAGE_S = 2.0


class ImageCheckError(Exception):
    """The checker failed (died, ran out of time or memory) while checking ``path``, the
    ``index``-th path asked (None when it could not even start). ``str(error)`` is for a
    person (callers put the image's name first); ``detail`` is for logs."""

    def __init__(
        self, message: str, detail: str = "", *, index: int | None = None, path: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.index = index
        self.path = path


@dataclass(frozen=True)
class ImageLimits:
    """What the child refuses before decoding the pixels. ``formats``: Pillow format names
    accepted (None: any Pillow reads); sides and pixel counts in pixels (None: no limit)."""

    formats: tuple[str, ...] | None = None
    max_pixels: int | None = None
    max_dimension: int | None = None
    min_dimension: int | None = None


@dataclass(frozen=True)
class CheckedImage:
    """One image as the child found it. ``format``: Pillow's name (e.g. ``"JPEG"``, ``"MPO"``
    for a phone's JPEG), None when it is no image; ``width``/``height`` as stored (before the
    EXIF ``orientation``, 1-8 or None, is applied); ``sha256`` and ``size_bytes`` of the
    file's bytes. ``problem``: None, or one of :data:`PROBLEMS` (``error``: the exception's
    class name, ``detail``: its words, or for ``"polyglot"`` what was found)."""

    path: str
    format: str | None
    width: int
    height: int
    mode: str
    orientation: int | None
    sha256: str
    size_bytes: int
    problem: str | None = None
    error: str = ""
    detail: str = ""


class _ChildFailed(Exception):
    def __init__(self, message: str, detail: str = "", **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.at_start = bool(context.get("at_start"))


def default_threads() -> int:
    """Decoding threads in one child: a few, as the machine allows."""
    return max(1, min(4, os.cpu_count() or 1))


def check_images(
    paths: Sequence[str | os.PathLike[str]],
    *,
    limits: ImageLimits = ImageLimits(),
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
    threads: int | None = None,
) -> Iterator[CheckedImage]:
    """One :class:`CheckedImage` per path, in order, checked in sandboxed children.

    ``memory_limit_bytes``: each child's address space. Raises :class:`ImageCheckError`
    when a child dies or stalls (see the module docstring); closing the iterator early
    stops the child.
    """
    if memory_limit_bytes < MIN_MEMORY_LIMIT_BYTES:
        raise ValueError("memory_limit_bytes below 256 MiB cannot even start the checker")
    names = [os.path.abspath(os.fspath(p)) for p in paths]
    threads = max(1, threads if threads is not None else default_threads())
    for start in range(0, len(names), IMAGES_PER_CHILD):
        yield from _checked(
            names[start : start + IMAGES_PER_CHILD],
            offset=start,
            limits=limits,
            memory=memory_limit_bytes,
            threads=threads,
        )


def _checked(
    paths: list[str], *, offset: int, limits: ImageLimits, memory: int, threads: int
) -> Iterator[CheckedImage]:
    """Check ``paths`` in one child; after a death with several threads, check the images
    that were in flight alone, then the rest in a fresh child."""
    done = 0
    try:
        for message in _run(paths, limits=limits, memory=memory, threads=threads):
            if message.get("index") != done:  # pragma: no cover - the child keeps the order
                raise _ChildFailed("The image checker answered out of order.", repr(message))
            yield _result(paths[done], message)
            done += 1
        if done < len(paths):  # pragma: no cover - the child answers every path or fails
            raise _ChildFailed("The image checker stopped before the last image.")
    except _ChildFailed as exc:
        died = getattr(exc, "child_failure", None) == "died"
        if not died or threads == 1:
            at = None if exc.at_start or done >= len(paths) else done
            index = offset + at if at is not None else None
            path = paths[at] if at is not None else ""
            raise ImageCheckError(exc.message, exc.detail, index=index, path=path) from None
        in_flight = _window(threads)
        yield from _checked(
            paths[done : done + in_flight],
            offset=offset + done,
            limits=limits,
            memory=memory,
            threads=1,
        )
        if done + in_flight < len(paths):
            yield from _checked(
                paths[done + in_flight :],
                offset=offset + done + in_flight,
                limits=limits,
                memory=memory,
                threads=threads,
            )


def _window(threads: int) -> int:
    # The child's look-ahead (worker.images.check_images_in_child), plus the one in hand.
    return 4 * threads + 1


def _run(
    paths: list[str], *, limits: ImageLimits, memory: int, threads: int
) -> Iterator[dict[str, Any]]:
    request = {
        "op": "images",
        "paths": paths,
        "check_threads": threads,
        "limits": {
            "formats": list(limits.formats) if limits.formats is not None else None,
            "max_pixels": limits.max_pixels,
            "max_dimension": limits.max_dimension,
            "min_dimension": limits.min_dimension,
        },
    }
    for message, _ in run_worker(
        request,
        timeout_s=_BATCH_TIMEOUT_S + _TIMEOUT_PER_IMAGE_S * len(paths),
        memory_limit_bytes=memory,
        error_class=_ChildFailed,
        reject_class=_ChildFailed,
        subject="image",
    ):
        if message.get("type") == "image":
            yield message


def _result(path: str, message: dict[str, Any]) -> CheckedImage:
    problem = message.get("problem")
    return CheckedImage(
        path=path,
        format=message.get("format"),
        width=int(message.get("width") or 0),
        height=int(message.get("height") or 0),
        mode=str(message.get("mode") or ""),
        orientation=message.get("orientation"),
        sha256=str(message.get("sha256") or ""),
        size_bytes=int(message.get("size_bytes") or 0),
        problem=problem if problem in PROBLEMS else (None if problem is None else "undecodable"),
        error=str(message.get("error") or ""),
        detail=str(message.get("detail") or ""),
    )
