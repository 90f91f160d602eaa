"""The child process: its limits, its message channel and the dispatch of one request.

:mod:`media.sandbox` starts the child (``__main__.py``) and reads what it sends.
The modules a request needs are imported only once it is known (under the limits): an
``images`` request loads Pillow and ``images`` alone, a video request PyAV, numpy and
``ops``.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import struct
import sys
import threading
import time
from typing import Any

_PROGRESS_INTERVAL_S = 0.2
_STDERR_LIMIT_BYTES = 1 << 20


def _apply_limits(memory_limit_bytes: int, cpu_limit_s: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit_s, cpu_limit_s + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # The child writes no files; stderr (a temp file) is capped, and going over the cap
    # fails the write instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (_STDERR_LIMIT_BYTES, _STDERR_LIMIT_BYTES))


class MessageChannel:
    """The child's message channel: a private copy of stdout, so that a C library
    printing to fd 1 cannot corrupt the protocol.

    Messages are written as they are sent, unless :meth:`write_ahead` hands the writing to
    a thread: then the caller goes on decoding while up to that many bytes of messages wait
    for the parent (a parent busy elsewhere no longer stalls the decoder at once), and
    blocks beyond that, so memory stays bounded: backpressure still reaches the decoder.
    """

    def __init__(self) -> None:
        self._file = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
        self._last_progress = 0.0
        self._ahead = 0
        self._queue: queue.SimpleQueue[tuple[bytes, Any, int] | None] = queue.SimpleQueue()
        self._room = threading.Condition()
        self._pending = 0  # bytes queued or being written
        self._broken = False
        self._writer: threading.Thread | None = None

    def write_ahead(self, limit_bytes: int) -> None:
        """Write from a thread, letting up to ``limit_bytes`` (always at least one
        message) wait for the parent."""
        self._ahead = limit_bytes
        self._writer = threading.Thread(target=self._write_queued, daemon=True)
        self._writer.start()

    def send(self, header: dict[str, Any], payload: Any = None) -> None:
        nbytes = 0
        if payload is not None:
            nbytes = header["nbytes"] = memoryview(payload).nbytes
        data = json.dumps(header).encode()
        data = struct.pack(">I", len(data)) + data
        if self._writer is None:
            self._write(data, payload)
            return
        size = len(data) + nbytes
        with self._room:
            while self._pending and self._pending + size > self._ahead and not self._broken:
                self._room.wait()
            if self._broken:
                raise BrokenPipeError
            self._pending += size
        self._queue.put((data, payload, size))  # the payload stays alive until written

    def close(self) -> None:
        """Wait until every message sent is written (or the parent has gone)."""
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None

    def _write(self, data: bytes, payload: Any) -> None:
        self._file.write(data)
        if payload is not None:
            self._file.write(payload)
        self._file.flush()

    def _write_queued(self) -> None:
        while (item := self._queue.get()) is not None:
            data, payload, size = item
            try:
                self._write(data, payload)
            except Exception:  # the parent stopped listening: the sender hears of it
                with self._room:
                    self._broken = True
                    self._room.notify_all()
                return
            with self._room:
                self._pending -= size
                self._room.notify_all()

    def alive(self) -> None:
        """Tell the parent the child is working (it ignores the message)."""
        now = time.monotonic()
        if now - self._last_progress >= _PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.send({"type": "alive"})

    def progress(self, force: bool = False, **values: int) -> None:
        now = time.monotonic()
        if force or now - self._last_progress >= _PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.send({"type": "progress", "progress": values})


def worker_main() -> int:
    """Serve one request read from stdin (see :func:`media.sandbox.run_worker`)."""
    request = json.loads(sys.stdin.buffer.read())
    _apply_limits(request["memory_limit_bytes"], request["cpu_limit_s"])
    out = MessageChannel()
    try:
        if request["op"] == "images":
            return _serve_images(request, out)
        return _serve_video(request, out)
    finally:
        out.close()


def _could_not_start(
    out: MessageChannel, request: dict[str, Any], what: str, exc: BaseException, **context: Any
) -> None:
    out.send(
        {
            "type": "error",
            "message": f"The {what} could not start within its memory limit "
            f"({request['memory_limit_bytes'] // 1024**2} MiB); raise the limit.",
            "detail": repr(exc),
            **({"context": context} if context else {}),
        }
    )


def _serve_images(request: dict[str, Any], out: MessageChannel) -> int:
    """The ``images`` request: Pillow only (no numpy, no PyAV: a batch starts fast)."""
    try:
        from PIL import Image  # noqa: F401 - loaded under the limits, before any file

        from .images import check_images_in_child
    except (ImportError, MemoryError, OSError) as exc:
        _could_not_start(out, request, "image checker", exc, at_start=True)
        return 0
    try:
        check_images_in_child(request, out)
        out.send({"type": "done"})
    except BrokenPipeError:
        return 1  # the parent stopped listening (generator closed)
    except Exception as exc:  # noqa: BLE001 - reported, not raised: the parent decides
        import traceback

        out.send(
            {
                "type": "error",
                "message": "The images could not be checked.",
                "detail": "".join(traceback.format_exception(exc))[-4000:],
            }
        )
    return 0


def _serve_video(request: dict[str, Any], out: MessageChannel) -> int:
    try:
        import av  # noqa: F401 - loaded under the limits, before the file is touched

        from .ops import probe_in_child, sample_in_child, stream_in_child
        from .rules import DecodeFailed, FileRejected
    except (ImportError, MemoryError, OSError) as exc:
        _could_not_start(out, request, "video decoder", exc)
        return 0
    try:
        if request["op"] == "probe":
            info = probe_in_child(
                request["path"], request["threads"], strict=request["strict"], out=out
            )
            out.send({"type": "info", "info": info})
        elif request["op"] == "stream":
            stream_in_child(request, out)
        else:
            sample_in_child(request, out)
        out.send({"type": "done"})
    except FileRejected as exc:
        out.send({"type": "error", "reject": True, "message": str(exc)})
    except DecodeFailed as exc:
        out.send({"type": "error", "message": str(exc), "context": exc.context})
    except MemoryError:
        out.send(
            {
                "type": "error",
                "message": "Decoding the video needed more than the "
                f"{request['memory_limit_bytes'] // 1024**2} MiB of memory allowed.",
            }
        )
    except BrokenPipeError:
        return 1  # the parent stopped listening (generator closed)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the file's fault
        import traceback

        out.send(
            {
                "type": "error",
                "message": "The video could not be decoded; it is damaged or not supported.",
                "detail": "".join(traceback.format_exception(exc))[-4000:],
            }
        )
    return 0
