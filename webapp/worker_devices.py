"""Which compute devices the Celery workers have, as they report them themselves.

Each worker probes its GPUs once, when it is ready, in a child process (importing torch
and touching CUDA in the worker's parent process would break CUDA in the forked pool
children), and answers the ``mousetrack_devices`` inspect command with them and the queues
it consumes. The web side asks every worker at once (:func:`workers_report`, cached a few
seconds) to fill the training form's device list and to say whether a job will wait.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from celery.signals import worker_ready
from celery.worker.control import inspect_command

log = logging.getLogger(__name__)

COMMAND = "mousetrack_devices"
_PROBE_TIMEOUT_S = 120
# Run in a child: prints [{"index", "name", "memory_gb"}] for the GPUs torch can use.
_PROBE = """
import json
try:
    import torch
except Exception:
    print("[]")
    raise SystemExit(0)
gpus = []
if torch.cuda.is_available():
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        gpus.append({"index": i, "name": p.name, "memory_gb": round(p.total_memory / 2**30, 1)})
print(json.dumps(gpus))
"""

_reported: dict = {"probed": False, "gpus": []}


def probe_gpus() -> list[dict]:
    """The GPUs a training job on this machine could use (empty: CPU only)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
        gpus = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else []
        return [g for g in gpus if isinstance(g, dict) and "index" in g]
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        log.warning("could not probe the GPUs: %s", exc)
        return []


def _probe_in_background() -> None:
    _reported["gpus"] = probe_gpus()
    _reported["probed"] = True


@worker_ready.connect
def _on_worker_ready(**kwargs) -> None:
    threading.Thread(target=_probe_in_background, name="probe-gpus", daemon=True).start()


def readable_shared_roots() -> list[str]:
    """This machine's ``SHARED_VIDEO_ROOTS`` that it can list and read (resolved)."""
    import os
    from pathlib import Path

    from django.conf import settings

    readable = []
    for root in settings.SHARED_VIDEO_ROOTS:
        path = Path(root).resolve()
        if path.is_dir() and os.access(path, os.R_OK | os.X_OK):
            readable.append(str(path))
    return readable


@inspect_command()
def mousetrack_devices(state) -> dict:
    """This worker's queues, GPUs (``probed`` false while the probe still runs) and the
    shared video folders it can read (registered files are read in place from there)."""
    consumer = state.consumer.task_consumer
    queues = sorted(q.name for q in consumer.queues) if consumer else []
    return {
        "queues": queues,
        "gpus": list(_reported["gpus"]),
        "probed": _reported["probed"],
        "shared_roots": readable_shared_roots(),
    }


# --- the web side ------------------------------------------------------------------------
@dataclass(frozen=True)
class WorkerReport:
    name: str
    queues: tuple[str, ...]
    gpus: tuple[dict, ...]
    probed: bool
    shared_roots: tuple[str, ...] = ()

    def can_read(self, path: str) -> bool:
        """Whether ``path`` (resolved) is inside a shared folder this worker can read."""
        return any(
            path == root or path.startswith(root.rstrip("/") + "/") for root in self.shared_roots
        )


@dataclass(frozen=True)
class WorkersReport:
    reachable: bool  # False: the broker could not be asked
    workers: tuple[WorkerReport, ...] = field(default=())

    def consuming(self, queue: str) -> list[WorkerReport]:
        return [w for w in self.workers if queue in w.queues]


def workers_report(*, timeout: float = 1.0, cache_s: int = 10) -> WorkersReport:
    """Every running worker's queues and GPUs (cached ``cache_s`` seconds)."""
    from django.core.cache import cache

    from .celery import app

    key = "mousetrack:workers-report"
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        replies = app.control.broadcast(COMMAND, reply=True, timeout=timeout) or []
    except Exception as exc:  # a broker that is down: say so, never crash the page
        log.warning("could not ask the workers: %s", exc)
        return WorkersReport(reachable=False)
    workers = []
    for reply in replies:
        for name, answer in reply.items():
            if not isinstance(answer, dict) or "queues" not in answer:
                continue  # a worker of an older version of the app
            workers.append(
                WorkerReport(
                    name=name,
                    queues=tuple(answer.get("queues") or ()),
                    gpus=tuple(answer.get("gpus") or ()),
                    probed=bool(answer.get("probed")),
                    shared_roots=tuple(answer.get("shared_roots") or ()),
                )
            )
    report = WorkersReport(reachable=True, workers=tuple(sorted(workers, key=lambda w: w.name)))
    cache.set(key, report, cache_s)
    return report


def queues_unable_to_read(path: str, queues: tuple[str, ...]) -> list[str] | None:
    """Of ``queues``, those whose running workers all lack ``path`` (resolved) in their
    readable shared folders; a queue with no worker running is not counted (nothing can be
    said of it). None when the broker cannot be asked."""
    report = workers_report()
    if not report.reachable:
        return None
    return [
        queue
        for queue in queues
        if report.consuming(queue) and not any(w.can_read(path) for w in report.consuming(queue))
    ]


def queue_consumers(queue: str, *, timeout: float = 1.0) -> list[str] | None:
    """The workers consuming ``queue`` now (as ``/healthz`` reports them), or None when the
    broker cannot be asked."""
    from .celery import app

    try:
        replies = app.control.inspect(timeout=timeout).active_queues() or {}
    except Exception as exc:
        log.warning("could not ask the workers: %s", exc)
        return None
    return sorted(w for w, queues in replies.items() if any(q["name"] == queue for q in queues))


def no_worker_hint(queue: str) -> str | None:
    """What to tell someone whose job went to ``queue`` when no worker listens there."""
    workers = queue_consumers(queue)
    if workers:
        return None
    if workers is None:
        return "The broker could not be asked which workers are running (see /healthz)."
    start = (
        "`make worker` (on a GPU machine; QUEUES=gpu by default)"
        if queue == "gpu"
        else "`make worker QUEUES=default`"
    )
    return (
        f"No worker is listening on the '{queue}' queue, so the job waits until one starts: "
        f"run {start}, or `make run` for both queues, with the same DATABASE_URL and REDIS_URL."
    )
