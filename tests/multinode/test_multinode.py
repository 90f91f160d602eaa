"""Several machines, proven on one: a web node (gunicorn, production settings), a default
worker with the beat and two GPU-queue workers, each with its own var/ and scratch space,
sharing only the database, a Redis of their own and an S3 API (moto's server on localhost).
The nodes run the commands of deploy/docker-compose.yml, each under an audit hook that
records any file it opens in another node's folder (there must be none).

The lab's day goes through the web node's API alone: upload a recording and sample it,
label the frames, train a detector, its automatic evaluation, track the recording, and while
it tracks, SIGKILL the GPU worker doing it: the beat fails the run and queues it again, the
other GPU worker resumes it from the chunks in the bucket, and nobody presses Retry. Then the
per-frame CSV and the behaviour analysis of the run.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import OPENFIELD_VIDEO, PASSWORD, REPO_ROOT, database_url_for_workers
from tests.deploy.recipe import node_command

pytestmark = [pytest.mark.worker, pytest.mark.slow]

HTTPS = {"X-Forwarded-Proto": "https"}  # as the TLS proxy in front of the web node says
FRAMES = 900  # long enough that the tracking worker is still at it when it is killed


@dataclass
class Node:
    name: str
    var_dir: Path
    proc: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clip(path: Path) -> Path:
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(OPENFIELD_VIDEO),
         "-frames:v", str(FRAMES), "-an", "-c:v", "libx264", "-preset", "veryfast",
         "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _mouse_boxes(path: Path, indices: list[int]) -> dict[int, tuple[float, ...] | None]:
    """Boxes of the mouse in the frames ``indices`` (bench/train_tiny_openfield's labeler)."""
    import cv2

    from bench.train_tiny_openfield import mouse_box

    cap = cv2.VideoCapture(str(path))
    grays = {}
    for i in range(max(indices) + 1):
        ok, frame = cap.read()
        if not ok:
            break
        if i in indices:
            grays[i] = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    background = np.median(np.stack(list(grays.values())), axis=0).astype(np.uint8)
    background = cv2.GaussianBlur(background, (5, 5), 0)
    return {i: mouse_box(gray, background) for i, gray in grays.items()}


@pytest.fixture
def cluster(tmp_path, s3_endpoint):
    """Start the nodes; yield (base_url, nodes, audit_logs); stop them all."""
    from webapp.embedded_redis import start_embedded_redis

    sock_dir = Path(tempfile.mkdtemp(prefix="mt-", dir="/tmp"))  # unix sockets: short paths
    redis = start_embedded_redis(sock_dir / "redis.sock")
    root = tmp_path / "nodes"
    port = _free_port()
    common = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DJANGO_ENV": "production",
        "SECRET_KEY": "multinode-" + os.urandom(16).hex(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url_for_workers(),
        "REDIS_URL": f"redis+socket://{sock_dir / 'redis.sock'}",
        "STORAGE_BACKEND": "s3",
        "AWS_STORAGE_BUCKET_NAME": "lab-media",
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "JOB_HEARTBEAT_INTERVAL": "1",
        "JOB_STALE_AFTER": "8",
        "JOB_STALE_CHECK_INTERVAL": "3",
        "TRACKING_CHUNK_FRAMES": "30",
        "MOUSETRACK_NODES_ROOT": str(root),
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}",
    }
    nodes: dict[str, Node] = {}
    plan = {"web": "web", "default": "default-worker", "gpu-a": "gpu-worker", "gpu-b": "gpu-worker"}
    try:
        for name, service in plan.items():
            var_dir = root / name
            var_dir.mkdir(parents=True)
            env = {
                **common,
                "MOUSETRACK_VAR_DIR": str(var_dir),
                "MOUSETRACK_SCRATCH_DIR": str(var_dir / "scratch"),
                "MEDIA_ROOT": str(var_dir / "media"),  # unused with S3; never another's
                "MOUSETRACK_AUDIT_LOG": str(tmp_path / f"audit-{name}.log"),
            }
            env.pop("MOUSETRACK_REDIS_SOCKET", None)
            command = node_command(service)
            if service != "web":
                command = [*command, "-n", f"{name}@%h", "--without-gossip", "--without-mingle"]
            log = tmp_path / f"{name}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "tests.multinode.audited", *command],
                    cwd=REPO_ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            nodes[name] = Node(name, var_dir, proc, log)
        yield f"http://127.0.0.1:{port}", nodes, tmp_path
    finally:
        for node in nodes.values():
            node.stop()
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(sock_dir, ignore_errors=True)


class Api:
    def __init__(self, base: str, nodes: dict[str, Node]):
        import requests

        self.base, self.nodes, self.http = base, nodes, requests.Session()
        self.http.headers.update(HTTPS)

    def call(self, method: str, path: str, expect: int | tuple = (200, 201, 202), **kw):
        response = self.http.request(method, self.base + path, timeout=120, **kw)
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in expected, (
            f"{method} {path}: {response.status_code} {response.text[:2000]}\n"
            + "\n".join(f"--- {n}\n{node.tail()}" for n, node in self.nodes.items())
        )
        return response

    def json(self, method: str, path: str, **kw):
        return self.call(method, path, **kw).json()

    def until(self, what: str, predicate, timeout: float = 600.0, show=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            dead = [n for n, node in self.nodes.items() if not node.alive() and n != "killed"]
            assert not dead or "gpu" in "".join(dead), f"nodes died: {dead}"
            time.sleep(1.0)
        logs = "\n".join(f"--- {n}\n{node.tail()}" for n, node in self.nodes.items())
        state = show() if show else ""
        raise AssertionError(f"timed out waiting for {what}\n{state}\n{logs}")


def _ended(job: dict, what: str) -> dict | None:
    if job["status"] in ("failed", "cancelled", "timed_out"):
        raise AssertionError(f"{what} ended {job['status']}: {job.get('error')}")
    return job if job["status"] == "succeeded" else None


@pytest.mark.timeout(1800)  # four nodes on two cores: minutes, not the suite's 600 s
@pytest.mark.django_db(transaction=True)
def test_a_lab_day_across_nodes_that_share_only_the_database_redis_and_s3(
    cluster, owner, project, tmp_path
):
    if not OPENFIELD_VIDEO.exists():
        pytest.skip(f"the shared open-field video is absent ({OPENFIELD_VIDEO})")
    base, nodes, logs = cluster
    api = Api(base, nodes)
    api.until("the web node", lambda: _healthy(api))
    token = api.json(
        "POST", "/api/auth/token/", data={"username": owner.username, "password": PASSWORD}
    )
    api.http.headers["Authorization"] = f"Token {token['token']}"
    pid = project.pk

    # Upload and sample (default worker): the bytes go to the bucket through the web node.
    clip = _clip(tmp_path / "day1.mp4")
    with open(clip, "rb") as fh:
        video = api.json(
            "POST", f"/api/projects/{pid}/videos/", files={"file": ("day1.mp4", fh, "video/mp4")},
            data={"sample_every": "1.5"},
        )  # fmt: skip
    frames = api.until(
        "sampled frames",
        lambda: (
            (_listed(api.json("GET", f"/api/projects/{pid}/frames/?limit=100")) or None)
            if api.json("GET", f"/api/sampling-jobs/{video['sampling_job']}/")["status"]
            == "succeeded"
            else None
        ),
    )
    assert len(frames) >= 15

    # Label every sampled frame (the mouse's box, found as the bench's labeler finds it).
    class_id = project.classes.get().pk
    boxes = _mouse_boxes(clip, [f["frame_index"] for f in frames])
    labeled = 0
    for frame in frames:
        box = boxes.get(frame["frame_index"])
        if box is None:
            continue
        x, y, w, h = box
        api.call("PUT", f"/api/frames/{frame['id']}/annotation/", json={
            "version": frame["version"],
            "boxes": [{"class_id": class_id, "x": x, "y": y, "w": w, "h": h}],
        })  # fmt: skip
        labeled += 1
    assert labeled >= 10

    # Train on a GPU-queue worker; its evaluation follows on the gpu queue too.
    job = api.json("POST", f"/api/projects/{pid}/training-jobs/", json={
        "preset": "yolo11n", "name": "multinode",
        "epochs": 1, "imgsz": 160, "batch": 4, "device": "cpu",
    })  # fmt: skip
    job = api.until(
        "training", lambda: _ended(api.json("GET", f"/api/training-jobs/{job['id']}/"), "training")
    )
    assert job["epochs_total"] == 1, job["hyperparameters"]
    model_id = job["model"]["id"]
    api.until(
        "the evaluation",
        lambda: [e for e in _listed(api.json("GET", f"/api/models/{model_id}/evaluations/"))
                 if e["status"] == "succeeded"],
    )  # fmt: skip

    # Track, and kill the GPU worker that is tracking while it is at it.
    runs = api.json("POST", f"/api/projects/{pid}/tracking-runs/", json={
        "model": model_id, "videos": [video["id"]],
    })  # fmt: skip
    run_id = runs["runs"][0]["id"]
    run = api.until(
        "tracking under way",
        lambda: (r := api.json("GET", f"/api/tracking-runs/{run_id}/"))["frames_done"] >= 60 and r,
    )
    assert run["frames_done"] < FRAMES, "tracking finished before the kill"
    tracking = [
        n
        for n in ("gpu-a", "gpu-b")
        if (nodes[n].var_dir / "scratch" / "tracking" / str(run_id)).exists()
    ]
    assert len(tracking) == 1, tracking
    nodes[tracking[0]].kill()
    nodes["killed"] = nodes.pop(tracking[0])
    run = api.until(
        "the run, finished by the other node",
        lambda: _ended(api.json("GET", f"/api/tracking-runs/{run_id}/"), "tracking"),
        timeout=900,
    )
    attempts = [(a["attempt"], a["outcome"], a.get("requeued", False)) for a in run["attempt_log"]]
    assert attempts == [(1, "worker lost", True), (2, "succeeded", False)], run["attempt_log"]
    assert run["frames_done"] == FRAMES

    # The per-frame CSV: one row per frame for the one animal; the analysis of the run.
    csv = api.call("GET", f"/api/tracking-runs/{run_id}/trajectory.csv").content
    table = pd.read_csv(io.BytesIO(csv))
    assert list(table.frame) == list(range(FRAMES)) and set(table.animal) == {1}
    analysis = api.json("GET", f"/api/tracking-runs/{run_id}/analysis/")
    assert analysis["animals"] and "distance" in analysis["animals"][0]

    # No node opened a file in another node's folder.
    for name in ("web", "default", "gpu-a", "gpu-b"):
        audit = logs / f"audit-{name}.log"
        assert not audit.exists() or not audit.read_text(), audit.read_text()[:2000]


def _listed(body) -> list:
    return body if isinstance(body, list) else body["results"]


def _healthy(api: Api) -> bool:
    import requests

    try:
        body = api.http.get(api.base + "/healthz", timeout=10).json()
    except (requests.RequestException, ValueError):
        return False
    queues = body.get("queues", {})
    return (
        bool(
            body.get("ok")
            and queues.get("gpu", {}).get("ok")
            and queues.get("default", {}).get("ok")
        )
        and len(queues["gpu"]["workers"]) >= 2
    )
