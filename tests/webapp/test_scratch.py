"""What a killed process leaves in scratch is found by its name and removed (webapp.scratch).

Plain processes, no database: a child makes a tagged folder and is SIGKILLed, so no
``finally`` of its own could have removed it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from webapp import scratch, storage
from webapp.scratch import owner_tag, scratch_sweep

ROOT = Path(__file__).resolve().parents[2]


def killed_owner_folder(root: Path) -> Path:
    """A folder ``root/imports/import-<tag>…`` made by a child that was then SIGKILLed."""
    code = textwrap.dedent(
        f"""
        import os, signal, sys, tempfile
        sys.path.insert(0, {str(ROOT)!r})
        from webapp.scratch import owner_tag
        path = tempfile.mkdtemp(prefix="import-" + owner_tag(), dir={str(root / "imports")!r})
        open(os.path.join(path, "big.jpg"), "wb").write(b"x" * 1000)
        print(path, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr
    return Path(child.stdout.strip())


def test_the_sweep_removes_only_what_dead_processes_of_this_host_left(tmp_path):
    (tmp_path / "imports").mkdir()
    (tmp_path / "exports").mkdir()
    dead = killed_owner_folder(tmp_path)
    assert dead.is_dir() and (dead / "big.jpg").exists()
    mine = tmp_path / "exports" / f"export-job-{owner_tag()}abc"
    mine.mkdir()
    dead_file = tmp_path / "exports" / f"copy-{owner_tag().replace('t', 't1', 1)}x.jpg"
    dead_file.write_bytes(b"x")  # this pid, another start time: a reused pid
    other_host = tmp_path / "imports" / f"import-o1t1h{'0' * 8}-abc"
    other_host.mkdir()
    untagged = [tmp_path / "imports" / "import-abc", tmp_path / "training" / "job-3"]
    for path in untagged:
        path.mkdir(parents=True)
    (tmp_path / "chunked.part").write_bytes(b"top-level files are not areas")

    removed = scratch_sweep(tmp_path)

    assert sorted(removed) == sorted([dead, dead_file])
    assert not dead.exists() and not dead_file.exists()
    assert mine.is_dir() and all(p.is_dir() for p in untagged)
    assert other_host.is_dir() and (tmp_path / "chunked.part").exists()
    assert scratch_sweep(tmp_path) == []
    assert scratch_sweep(tmp_path / "absent") == []


def test_a_forked_child_tags_with_its_own_process(tmp_path):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its tag, then gone
        os.write(write, owner_tag().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    tag = os.read(read, 200).decode()
    assert tag != owner_tag() and tag.startswith(f"o{pid}t")
    (tmp_path / "tmp").mkdir()
    left = tmp_path / "tmp" / f"tmp-{tag}zz"
    left.mkdir()
    assert scratch_sweep(tmp_path) == [left]
    assert scratch._owner_gone(f"tmp-{owner_tag()}zz") is False


def test_the_workers_sweep_covers_scratch_and_the_web_uploads_temp_folder(settings, tmp_path):
    """What ``worker_ready`` and the stale check run: scratch areas, and the streamed
    uploads a gunicorn worker killed at its timeout left (when it shared the host)."""
    settings.SCRATCH_DIR = tmp_path / "scratch"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    (tmp_path / "upload-tmp").mkdir()
    (tmp_path / "scratch" / "imports").mkdir(parents=True)
    dead_tag = killed_owner_folder(tmp_path / "scratch").name.removeprefix("import-")[:-8]
    dead_upload = tmp_path / "upload-tmp" / f"upload-{dead_tag}abc.part"
    dead_upload.write_bytes(b"half a video")
    live_upload = tmp_path / "upload-tmp" / f"upload-{owner_tag()}def.part"
    live_upload.write_bytes(b"a request still streaming")

    removed = storage.scratch_sweep_dead()

    assert dead_upload in removed and not dead_upload.exists()
    assert len(removed) == 2 and not list((tmp_path / "scratch" / "imports").iterdir())
    assert live_upload.exists()
