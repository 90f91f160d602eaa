"""Run :mod:`media.worker` in a sandboxed child process and read its messages.

The parent half of the sandboxed decoder (:mod:`media.probe`,
:mod:`media.sampling` and, for images, :mod:`media.image_check` call
it). Uploaded videos and images are untrusted, and a crafted file can make a decoder
crash, loop or allocate without bound, so every decode of a file runs in a child Python
(``worker/__main__.py`` run as a script) under ``resource.setrlimit`` limits on address
space, CPU seconds, core files and written file size, with a wall-clock limit enforced
here: the child's process group is killed. A crash, a hang or an out-of-memory ends as an
exception of the class the caller names, carrying a message for a person, never as a dead
web or Celery worker.

Protocol: the request is one JSON object on the child's stdin; the child answers with
``[4-byte big-endian length][JSON header][payload of header["nbytes"] bytes]`` messages on
its stdout: ``progress``, ``alive``, ``info``, ``frame`` (``image`` for an image check),
then ``done`` or ``error`` (whose ``context``, if any, becomes keyword arguments of the
exception raised here).

Throughput: a frame is one write in the child and read straight into one new array here
(no zero-filling, no copy after), with the pipe enlarged to hold a whole VGA frame (the
default 64 KiB costs a dozen wake-ups of each process per frame). A stream also writes from
a thread in the child, a few frames ahead of the parent (``worker.child.MessageChannel``).
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import worker
from .worker import rules

# The child reports progress several times a second; silence this long means a hang.
STALL_TIMEOUT_S = 120.0
WORKER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(worker.__file__)), "__main__.py")

_MAX_HEADER_BYTES = 1 << 20
# The largest payload: one BGR frame of the largest size accepted.
_MAX_PAYLOAD_BYTES = rules.MAX_DIMENSION * rules.MAX_DIMENSION * 3

# Linux only; elsewhere the pipe keeps its size.
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", None)
# 1 MiB: the default /proc/sys/fs/pipe-max-size, and more than a 640x480 BGR frame.
_PIPE_BYTES = 1 << 20

#: An exception class built as ``cls(message_for_a_person, detail_for_logs, **context)``
#: (``context``: what the child's error message carries; usually nothing).
ErrorClass = Callable[..., Exception]


def _worker_command() -> list[str]:
    # -I: ignore PYTHON* variables, the user's site-packages and the script's folder, so
    # nothing beside the worker can shadow a module in the child.
    return [sys.executable, "-I", WORKER_SCRIPT, "--video-worker"]


def _worker_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        # Each glibc malloc arena reserves 64 MiB of address space per thread, and
        # OpenBLAS starts a thread per core: both would eat the RLIMIT_AS budget.
        "MALLOC_ARENA_MAX": "2",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }


def run_worker(
    request: dict[str, Any],
    *,
    timeout_s: float,
    memory_limit_bytes: int,
    error_class: ErrorClass,
    reject_class: ErrorClass,
    subject: str = "video",
) -> Iterator[tuple[dict[str, Any], np.ndarray | None]]:
    """Run one request in a limited child and yield its messages (JSON header, payload as
    a new 1-D ``uint8`` array, or None) as they come, up to the child's ``done``.

    Raises ``error_class(message, detail, **context)`` on an error message (``context``:
    what the message carries), a timeout, or a child that died (no context);
    ``reject_class`` when the child judged the file unacceptable. Closing the generator
    kills the child. ``subject`` is the word the messages of a timeout or a death use for
    what was being read (``"video"``, ``"image"``); those exceptions also carry
    ``child_failure``: ``"timeout"`` or ``"died"`` (an exception the child reported has
    none).
    """
    request = dict(
        request,
        memory_limit_bytes=int(memory_limit_bytes),
        # A CPU-time backstop in case the wall clock is not enforced (parent gone).
        cpu_limit_s=int(timeout_s * (_decode_threads() + 1)) + 10,
        threads=_decode_threads(),
    )
    stderr = tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen(
            _worker_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            bufsize=0,
            close_fds=True,
            start_new_session=True,  # its own process group: killed as one, threads and all
            env=_worker_env(),
            cwd="/",
        )
    except BaseException:
        stderr.close()
        raise
    reader = _MessageReader(proc, timeout_s)
    finished = False
    try:
        _enlarge_pipe(proc)
        try:
            assert proc.stdin is not None
            data = memoryview(json.dumps(request).encode())
            while data:
                data = data[proc.stdin.write(data) or 0 :]
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the child died at start; the read below reports how
        while True:
            try:
                message, payload = reader.read_message()
            except _ChildTimeout as exc:
                error = error_class(
                    f"Reading the {subject} {exc.what} {exc.limit:g} s allowed; the file "
                    "may be damaged or crafted.",
                    _stderr_tail(stderr),
                )
                error.child_failure = "timeout"
                raise error from None
            except _ChildGone:
                error = _death_error(proc, error_class, memory_limit_bytes, stderr, subject)
                error.child_failure = "died"
                raise error from None
            if message["type"] == "error":
                cls = reject_class if message.get("reject") else error_class
                raise cls(
                    message["message"], message.get("detail", ""), **message.get("context", {})
                )
            if message["type"] == "done":
                finished = True
                return
            yield message, payload
    finally:
        if finished:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _kill(proc)
        else:
            _kill(proc)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        stderr.close()


def _enlarge_pipe(proc: subprocess.Popen[bytes]) -> None:
    if _F_SETPIPE_SZ is None or proc.stdout is None:
        return
    try:
        fcntl.fcntl(proc.stdout.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)
    except OSError:
        pass  # a lower system limit: slower, not wrong


def _decode_threads() -> int:
    # Frame threading pays off up to a few threads for lab-sized video; more threads only
    # add address space and memory per decoder.
    return max(1, min(4, os.cpu_count() or 1))


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
        pass


def _stderr_tail(stderr: Any) -> str:
    try:
        stderr.seek(0, os.SEEK_END)
        size = stderr.tell()
        stderr.seek(max(0, size - 4000))
        return stderr.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return ""


def _death_error(
    proc: subprocess.Popen[bytes],
    error_class: ErrorClass,
    memory_limit_bytes: int,
    stderr: Any,
    subject: str = "video",
) -> Exception:
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        _kill(proc)
        code = proc.returncode
    detail = f"exit status {code}\n{_stderr_tail(stderr)}"
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        return error_class(
            f"Decoding the {subject} used more time or memory than allowed "
            f"({memory_limit_bytes // 1024**2} MiB); the file may be damaged or crafted.",
            detail,
        )
    if code is not None and code < 0:
        return error_class(
            f"The {subject} decoder crashed on this file; it is damaged or not supported.",
            detail,
        )
    if "MemoryError" in detail or "Cannot allocate memory" in detail:
        return error_class(
            f"Decoding the {subject} needed more than the "
            f"{memory_limit_bytes // 1024**2} MiB of memory allowed.",
            detail,
        )
    return error_class(f"The {subject} decoder stopped unexpectedly on this file.", detail)


class _ChildTimeout(Exception):
    def __init__(self, limit: float, *, stalled: bool = False) -> None:
        self.limit = limit
        self.what = "made no progress for the" if stalled else "took longer than the"


class _ChildGone(Exception):
    pass


class _MessageReader:
    """Reads ``[4-byte length][JSON header][payload]`` messages from the child's stdout
    with a total and a stall time limit, counting only time spent waiting on the child
    (the caller may spend as long as it likes between frames)."""

    def __init__(self, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
        assert proc.stdout is not None
        self._fd = proc.stdout.fileno()
        self._budget = timeout_s
        self._limit = timeout_s

    def read_message(self) -> tuple[dict[str, Any], np.ndarray | None]:
        (size,) = struct.unpack(">I", self._read_exact(4))
        if size > _MAX_HEADER_BYTES:
            raise _ChildGone
        header = json.loads(bytes(self._read_exact(size)))
        nbytes = int(header.get("nbytes", 0))
        if not 0 <= nbytes <= _MAX_PAYLOAD_BYTES:
            raise _ChildGone
        if not nbytes:
            return header, None
        # np.empty, not bytearray: a frame's 0.9 MB need not be zeroed before it is read.
        payload = np.empty(nbytes, dtype=np.uint8)
        self._read_into(memoryview(payload))
        return header, payload

    def _read_exact(self, n: int) -> bytearray:
        buf = bytearray(n)
        self._read_into(memoryview(buf))
        return buf

    def _read_into(self, view: memoryview) -> None:
        n = len(view)
        got = 0
        while got < n:
            wait = min(self._budget, STALL_TIMEOUT_S)
            if wait <= 0:
                raise _ChildTimeout(self._limit)
            started = time.monotonic()
            ready, _, _ = select.select([self._fd], [], [], wait)
            if not ready:
                self._budget -= time.monotonic() - started
                if self._budget <= 0:
                    raise _ChildTimeout(self._limit)
                raise _ChildTimeout(STALL_TIMEOUT_S, stalled=True)
            count = os.readv(self._fd, [view[got:]])
            self._budget -= time.monotonic() - started
            if count == 0:
                raise _ChildGone
            got += count
