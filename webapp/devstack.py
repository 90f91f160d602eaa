"""`make run`: the embedded Redis (when REDIS_URL is unset), one Celery worker on the default
and gpu queues (with the beat that fails stale jobs), one on the live queue (this machine's
cameras), and the web server. Ctrl-C stops them all."""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

SERVE_THE_LAB = (
    "To serve the lab, run the production settings behind HTTPS instead: "
    "DJANGO_ENV=production SECRET_KEY=... ALLOWED_HOSTS=mousetrack.lab.example "
    "python manage.py collectstatic --noinput && gunicorn webapp.wsgi -b 0.0.0.0:8000, "
    "with `make worker` on the GPU machines (README: Production)."
)


def host_problem(host: str, *, debug: bool) -> str | None:
    """Why ``make run`` must not listen on ``host``: with DEBUG on, Django's development
    server shows tracebacks and settings to anyone who reaches it, so loopback only."""
    if not debug:
        return None
    name = host.strip("[]").lower()
    if name == "localhost":
        return None
    try:
        if ipaddress.ip_address(name).is_loopback:
            return None
    except ValueError:
        pass
    return (
        f"Refusing to serve on {host}: `make run` is the development server with DEBUG on, "
        f"which shows tracebacks and settings to anyone who can reach it; it listens on "
        f"127.0.0.1 only. {SERVE_THE_LAB}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8000")
    parser.add_argument("--concurrency", default="2")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from django.conf import settings

    problem = host_problem(args.host, debug=settings.DEBUG)
    if problem:
        print(problem, file=sys.stderr, flush=True)
        return 2

    from .embedded_redis import start_embedded_redis

    children: list[subprocess.Popen] = []
    redis_proc = None
    if settings.USING_EMBEDDED_REDIS:
        redis_proc = start_embedded_redis(settings.EMBEDDED_REDIS_SOCKET)
        if redis_proc is not None:
            children.append(redis_proc)
        print(f"Embedded Redis on {settings.EMBEDDED_REDIS_SOCKET}", flush=True)

    def spawn(cmd: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT)
        children.append(proc)
        return proc

    spawn(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "webapp",
            "worker",
            "-B",
            "-Q",
            "default,gpu",
            "-c",
            args.concurrency,
            "--prefetch-multiplier",
            "1",
            "-l",
            "INFO",
            "-s",
            str(settings.VAR_DIR / "celerybeat-schedule"),
        ]
    )
    # Live sessions hold their worker for the whole trial: their own worker (this machine's
    # cameras), so that tracking and sampling jobs do not wait behind one.
    spawn(
        [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", "live", "-c", "1",
         "--prefetch-multiplier", "1", "-n", "live@%h", "-l", "INFO"]
    )  # fmt: skip
    web = [sys.executable, "manage.py", "runserver", f"{args.host}:{args.port}", "--noreload"]
    spawn(web)
    print(
        f"MouseTrack Studio on http://{args.host}:{args.port}/  (Ctrl-C stops everything)",
        flush=True,
    )
    if settings.DEBUG:
        print(f"Development server, DEBUG on, this machine only. {SERVE_THE_LAB}", flush=True)

    stopping = False

    def stop(signum, frame):  # noqa: ARG001
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    status = 0
    while not stopping:
        for proc in children:
            if proc.poll() is not None:
                print(f"{proc.args[0:4]} exited with {proc.returncode}; stopping.", flush=True)
                stopping, status = True, 1
                break
        time.sleep(0.5)

    # Web and worker first (the worker finishes its current task's ack), Redis last.
    for proc in reversed(children):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    print("Stopped.", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
