"""Runs a node's program (``python -m tests.multinode.audited celery -A webapp worker ...``)
with an audit hook that records every file it opens under ``MOUSETRACK_NODES_ROOT`` outside
its own ``MOUSETRACK_VAR_DIR``: a node must reach another node's data only through the
database, the broker and object storage. Forked children (Celery's pool, gunicorn's
workers) inherit the hook."""

from __future__ import annotations

import os
import runpy
import sys

ROOT = os.path.realpath(os.environ["MOUSETRACK_NODES_ROOT"])
OWN = os.path.realpath(os.environ["MOUSETRACK_VAR_DIR"])
LOG = os.environ["MOUSETRACK_AUDIT_LOG"]
_busy = False


def _record(event: str, args: tuple) -> None:
    global _busy
    if event != "open" or _busy or isinstance(args[0], int):
        return
    path = os.path.realpath(os.fsdecode(args[0]))
    if not path.startswith(ROOT + os.sep) or path == OWN or path.startswith(OWN + os.sep):
        return
    _busy = True  # the log's own open() raises the event again
    try:
        with open(LOG, "a") as log:
            log.write(f"{os.getpid()} {path}\n")
    finally:
        _busy = False


if __name__ == "__main__":
    sys.addaudithook(_record)
    program, *rest = sys.argv[1:]
    sys.argv = [program, *rest]
    runpy.run_module(program, run_name="__main__", alter_sys=True)
