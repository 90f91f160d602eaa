"""Scratch entries a killed process leaves behind, found by their names and removed.

Pure module: no Django import. A job's temporary folder (an extracted 800 MB dataset, an
export being zipped) is removed by a ``finally``, which a SIGKILL or the OOM killer never
runs. So such folders carry their owner in the name: :func:`owner_tag` (process id, the
process's start time, a hash of the host name). :func:`scratch_sweep` removes the tagged
entries whose owner is gone: a process of that id started at another time is another
process. Untagged entries (a training job's checkpoints, a resumable upload's bytes) are
never touched; neither are another host's, whose processes this one cannot see. The web
server's streamed uploads are named so too: a gunicorn worker killed at its timeout leaves
its request's temp file.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import shutil
import socket
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

_TAG = re.compile(r"(?:^|-)o(\d+)t(\d+)h([0-9a-f]{8})-")


@functools.cache
def _host() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _started(pid: int) -> int | None:
    """When process ``pid`` started (whole seconds), or None when there is none alive."""
    try:
        process = psutil.Process(pid)
        # A killed pool child whose parent died too waits as a zombie until something reaps
        # it (never, under a container's init that does not): it is gone all the same.
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return int(process.create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def owner_tag() -> str:
    """``o{pid}t{start}h{host}-``: put it in a scratch entry's name (after a prefix)."""
    pid = os.getpid()  # not cached: a forked pool child is another owner
    return f"o{pid}t{_started(pid)}h{_host()}-"


def _owner_gone(name: str) -> bool:
    match = _TAG.search(name)
    if match is None or match[3] != _host():
        return False
    started = _started(int(match[1]))
    return started is None or started != int(match[2])


def scratch_sweep(root: Path) -> list[Path]:
    """Remove the entries of ``root/<area>/`` whose owner process is gone; return them."""
    removed: list[Path] = []
    root = Path(root)
    if root.is_dir():
        for area in root.iterdir():
            if area.is_dir() and not area.is_symlink():
                removed += scratch_sweep_area(area)
    return removed


def scratch_sweep_area(area: Path) -> list[Path]:
    """Remove the entries directly in ``area`` whose owner process is gone; return them."""
    removed: list[Path] = []
    area = Path(area)
    if not area.is_dir():
        return removed
    for entry in area.iterdir():
        if not _owner_gone(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    if removed:
        log.info("removed %d entries of dead processes from %s", len(removed), area)
    return removed
