"""Checking untrusted images in the child (the ``images`` request), and the markup scan that
every way images come in shares.

The request names a batch of files; each is read once, hashed (sha256), decoded in full with
Pillow (a truncated or corrupt file fails here, not in a browser or a trainer), its size
checked against the request's limits before its pixels are allocated, and its bytes scanned
for markup (:func:`polyglot_problem`). A few threads decode at once (Pillow and hashlib
release the GIL), and one small ``image`` message per file goes to the parent in the
request's order::

    {"type": "image", "index": i, "format": "JPEG" | None, "width": w, "height": h,
     "mode": "RGB", "orientation": 1..8 | None (EXIF), "sha256": hex, "size_bytes": n,
     "problem": None | PROBLEM, "error": exception class name, "detail": text}

``PROBLEM`` is one of :data:`PROBLEMS`; the parent words it for a person. Checks stop at the
first problem, in this order: the file cannot be read; it is no image of the allowed formats;
too many pixels; a side too long or too short; the pixels cannot be decoded (or need more
memory than the child may use); markup inside (``"polyglot"``, ``detail`` says what).

Memory: threads share a budget of decoded bytes (estimated from the size in the header), so
that several large images are not decoded at once; an image that ran out of memory beside
others is decoded again alone before it counts as a problem.

This module imports only the standard library, and Pillow inside functions (the web and
Celery processes import it for the markup scan). The child imports neither numpy nor PyAV
for this request (see ``child.worker_main``): a batch starts in a few tens of milliseconds.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import struct
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .child import MessageChannel

PROBLEMS = (
    "unreadable",  # the file could not be read (detail: why)
    "unidentified",  # not an image, or not of the allowed formats
    "too_many_pixels",  # width x height over the limit
    "too_large",  # a side longer than the limit
    "too_small",  # a side shorter than the limit
    "undecodable",  # damaged or truncated pixel data (error, detail: Pillow's words)
    "memory",  # decoding it alone needed more memory than the child may use
    "polyglot",  # markup inside the image (detail: polyglot_problem's words)
)

# Bytes one decoded pixel may cost while decoding (the image, a conversion, a progressive
# JPEG's coefficients): the budget's unit estimate.
_BYTES_PER_PIXEL = 8
# What the child itself maps besides the images (Python, Pillow, thread stacks, arenas).
_BASELINE_BYTES = 320 * 1024**2
_MIN_BUDGET_BYTES = 64 * 1024**2


# --------------------------------------------------------------------------------------
# The markup scan (pure: bytes in)

# What a browser would take for markup if it ever sniffed the file: an image carrying any
# of these, or bytes after its end, is an image/HTML (or PHP) polyglot and is refused.
# Shared by image-set uploads and dataset imports (one check for every way images come in).
MARKUP_MARKERS = (
    b"<html",
    b"<script",
    b"<body",
    b"<iframe",
    b"<svg",
    b"<!doctype",
    b"<?php",
    b"<object",
    b"<embed",
    b"javascript:",
)

# A marker counts only as a tag would: followed by what ends an HTML tag name (whitespace
# as HTML defines it, "/" or ">"), or PHP's opening tag by whitespace. Compressed pixel data
# is random bytes, and a bare 4-letter "<svg" (any case) turns up by chance in about one
# noisy 640x480 JPEG in 3,500 (4 of the 13,622 images of bench/lab_scale.py); with the
# delimiter, about one in a few hundred thousand, while a real tag still always matches.
_HTML_TAG_END = rb"[\t\n\x0c\r />]"
_MARKUP = re.compile(
    b"|".join(re.escape(m) + (b"" if m.endswith(b":") else _HTML_TAG_END) for m in MARKUP_MARKERS),
    re.IGNORECASE,
)
# The same test, fast (it runs on every byte of every image imported): on the ASCII-lowered
# bytes (what IGNORECASE means for a bytes pattern), the tags as one pattern behind their
# common "<", which the regex engine scans for in C, and the other markers as plain
# substrings. About 20x faster than ``_MARKUP`` on noisy JPEGs, where the case-insensitive
# alternation has no literal prefix to skip ahead with; the tests check both agree.
_TAGS_LOWER = re.compile(
    b"<(?:"
    + b"|".join(re.escape(m[1:]) for m in MARKUP_MARKERS if m.startswith(b"<"))
    + b")"
    + _HTML_TAG_END
)
# Markers that are no tag ("javascript:") count without a delimiter, as in ``_MARKUP``.
_OTHER_MARKERS = tuple(m.lower() for m in MARKUP_MARKERS if not m.startswith(b"<"))


def has_markup(data: bytes) -> bool:
    """Whether ``data`` holds one of the markup markers as a tag would (``_MARKUP``)."""
    lowered = data.lower()
    return _TAGS_LOWER.search(lowered) is not None or any(m in lowered for m in _OTHER_MARKERS)


def polyglot_problem(data: bytes, *, image_format: str) -> str | None:
    """Why the bytes of a decoded image (Pillow ``format``) are unsafe to serve, or None."""
    if has_markup(data):
        return "carries HTML or script inside the image (an image/HTML polyglot?)"
    if image_format == "PNG":
        end = data.rfind(b"IEND")
        if end < 0 or len(data) > end + 8:
            return "has data after the end of the PNG image"
    return None


# --------------------------------------------------------------------------------------
# The request


class _Budget:
    """Bytes of decoding the threads may have in flight; an image needing more than the
    whole budget waits until it has it all (it is decoded alone)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._free = total
        self._room = threading.Condition()

    def take(self, need: int) -> int:
        need = max(1, min(need, self.total))
        with self._room:
            while self._free < need:
                self._room.wait()
            self._free -= need
        return need

    def give(self, amount: int) -> None:
        with self._room:
            self._free += amount
            self._room.notify_all()


class _Problem(Exception):
    def __init__(self, kind: str, detail: str = "", error: str = "") -> None:
        super().__init__(kind)
        self.kind, self.detail, self.error = kind, detail, error


def check_images_in_child(request: dict[str, Any], out: MessageChannel) -> None:
    """Answer an ``images`` request: one ``image`` message per path, in order."""
    from PIL import Image

    # Our own pixel limit is checked with the size at hand (for the message); Pillow's
    # decompression-bomb check would stop an image before we know it.
    Image.MAX_IMAGE_PIXELS = None
    limits = dict(request["limits"], formats=_load_plugins(request["limits"].get("formats")))
    paths: list[str] = request["paths"]
    threads = max(1, int(request.get("check_threads") or 1))
    budget = _Budget(max(_MIN_BUDGET_BYTES, int(request["memory_limit_bytes"]) - _BASELINE_BYTES))
    if threads == 1:
        for index, path in enumerate(paths):
            out.send(_message(index, path, limits, budget))
        return
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="check")
    try:
        pending: deque[Future] = deque()
        queued = iter(enumerate(paths))
        # A bounded look-ahead: results go out in order, and memory stays bounded.
        for index, path in itertools.islice(queued, 4 * threads):
            pending.append(pool.submit(_message, index, path, limits, budget))
        while pending:
            message = pending.popleft().result()
            for index, path in itertools.islice(queued, 1):
                pending.append(pool.submit(_message, index, path, limits, budget))
            out.send(message)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _message(index: int, path: str, limits: dict[str, Any], budget: _Budget) -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": "image",
        "index": index,
        "format": None,
        "width": 0,
        "height": 0,
        "mode": "",
        "orientation": None,
        "sha256": "",
        "size_bytes": 0,
        "problem": None,
        "error": "",
        "detail": "",
    }
    try:
        _check_one(path, limits, budget, result)
    except _Problem as problem:
        result.update(problem=problem.kind, detail=problem.detail[:500], error=problem.error)
    except MemoryError:
        result.update(problem="memory")
    except Exception as exc:  # noqa: BLE001 - whatever a decoder raises is the file's fault
        result.update(problem="undecodable", detail=str(exc)[:500], error=type(exc).__name__)
    return result


def _check_one(path: str, limits: dict[str, Any], budget: _Budget, result: dict) -> None:
    from PIL import Image

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except MemoryError:
        raise _Problem("memory") from None
    except OSError as exc:
        raise _Problem("unreadable", exc.strerror or str(exc), type(exc).__name__) from None
    result["size_bytes"] = len(data)
    result["sha256"] = hashlib.sha256(data).hexdigest()
    formats = limits.get("formats")
    try:
        image = _open(data, formats)
    except Image.UnidentifiedImageError as exc:
        raise _Problem("unidentified", str(exc), type(exc).__name__) from None
    except MemoryError:
        raise _Problem("memory") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise _Problem("undecodable", str(exc), type(exc).__name__) from None
    with image:
        width, height = image.size
        result.update(format=image.format, width=width, height=height, mode=image.mode)
        if limits.get("max_pixels") and width * height > limits["max_pixels"]:
            raise _Problem("too_many_pixels")
        if limits.get("max_dimension") and max(width, height) > limits["max_dimension"]:
            raise _Problem("too_large")
        if limits.get("min_dimension") and min(width, height) < limits["min_dimension"]:
            raise _Problem("too_small")
        try:
            orientation = image.getexif().get(0x0112)
        except Exception:  # noqa: BLE001 - a broken EXIF block must not hide a readable image
            orientation = None
        result["orientation"] = orientation if isinstance(orientation, int) else None
        _load(image, data, formats, budget, alone=False)
    problem = polyglot_problem(data, image_format=result["format"] or "")
    if problem:
        raise _Problem("polyglot", problem)


# Pillow's plugin of each format the callers name, loaded before the first file (Pillow
# itself preloads only a few, and refuses a format whose plugin is not loaded yet).
_PLUGINS = {
    "BMP": "BmpImagePlugin",
    "JPEG": "JpegImagePlugin",
    "MPO": "MpoImagePlugin",
    "PNG": "PngImagePlugin",
    "TIFF": "TiffImagePlugin",
    "WEBP": "WebPImagePlugin",
}


def _load_plugins(formats: list[str] | None) -> list[str] | None:
    """Load the plugins of ``formats``; return the names ``Image.open`` takes (an MPO
    file is opened by the JPEG plugin, which has no name of its own to open with)."""
    import importlib

    from PIL import Image

    if formats is None:
        return None
    Image.preinit()
    for name in formats:
        if name in _PLUGINS:
            importlib.import_module(f"PIL.{_PLUGINS[name]}")
        else:
            Image.init()  # any other format: every plugin
    return [name for name in formats if name in Image.OPEN]


def _open(data: bytes, formats: list[str] | None) -> Any:
    import io

    from PIL import Image

    return Image.open(io.BytesIO(data), formats=formats)


def _load(image: Any, data: bytes, formats: list[str] | None, budget: _Budget, *, alone: bool):
    """Decode every pixel within the budget (all of it when ``alone``); an image that ran
    out of memory beside others is opened and decoded again alone."""
    need = budget.total if alone else image.width * image.height * _BYTES_PER_PIXEL
    taken = budget.take(need)
    try:
        image.load()
    except MemoryError:
        if alone or taken == budget.total:
            raise _Problem("memory") from None
        retry = True
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise _Problem("undecodable", str(exc), type(exc).__name__) from None
    else:
        retry = False
    finally:
        budget.give(taken)
    if retry:
        image.close()
        with _open(data, formats) as again:
            _load(again, data, formats, budget, alone=True)
