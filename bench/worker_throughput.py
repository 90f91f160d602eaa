"""Videos per hour across GPU-queue workers: one worker, then two, on the same batch.

    .venv/bin/python bench/worker_throughput.py [--videos 6] [--frames 450] [--weights best.pt]

A batch of ``--videos`` recordings (clips of ``--frames`` frames cut from the shared
open-field video at different starts, so none is a duplicate of another) is queued for
tracking as one batch, in a fresh SQLite database and media folder of its own
(var/bench/worker-throughput/) with an embedded Redis, first with one ``gpu``-queue worker,
then with two (each ``-c 1 --prefetch-multiplier 1``, the deployment's command, each with
``MOUSETRACK_CPU_THREADS=--threads``). It prints each batch's wall time, videos per hour and
the ratio two/one. On this 2-core machine each worker gets one thread: the ratio says how
much a second worker adds when the cores are the limit (decoding in the sandboxed child,
detection and the database compete for the same two cores).

Without ``--weights`` it trains YOLO11n for 20 epochs at 160 px on 24 auto-labeled frames
first (a minute or two). No GPU needed; on a GPU machine pass ``--device 0``-trained weights.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.train_tiny_openfield import SOURCE, build_dataset, sample_frames  # noqa: E402

RUN = ROOT / "var" / "bench" / "worker-throughput"


def clips(n: int, frames: int) -> list[Path]:
    import imageio_ffmpeg

    out = []
    for i in range(n):
        path = RUN / "clips" / f"clip{i}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        start = f"{(i * 7.3) % 60:.2f}"
        subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(SOURCE), "-ss",
             start, "-frames:v", str(frames), "-an", "-c:v", "libx264", "-preset", "veryfast",
             "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)],
            check=True,
        )  # fmt: skip
        out.append(path)
    return out


def weights(args: argparse.Namespace) -> Path:
    if args.weights:
        return args.weights
    from training import trainer
    from training.presets import Hyperparameters
    from training.ultralytics_setup import configure_offline

    configure_offline(ROOT / "var")
    data_yaml, _ = build_dataset(sample_frames(SOURCE, 24), RUN / "detector")
    result = trainer.train(
        data_yaml=data_yaml,
        preset_or_model="yolo11n.yaml",
        hyperparameters=Hyperparameters(epochs=20, imgsz=160, batch=4, workers=0, device="cpu"),
        project_dir=RUN / "detector" / "run",
    )
    return Path(result.best)


def prepare_django() -> None:
    os.environ.pop("REDIS_URL", None)
    os.environ.update(
        {
            "MOUSETRACK_VAR_DIR": str(RUN / "var"),
            "DATABASE_URL": f"sqlite:///{RUN / 'db.sqlite3'}",
            "MEDIA_ROOT": str(RUN / "media"),
            "MOUSETRACK_SCRATCH_DIR": str(RUN / "scratch"),
            "DJANGO_DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start_workers(n: int, threads: int) -> list[subprocess.Popen]:
    from tests.deploy.recipe import node_command

    procs = []
    for i in range(n):
        log = open(RUN / f"worker{i}.log", "wb")  # noqa: SIM115 (open for the worker's life)
        cmd = [*node_command("gpu-worker"), "-n", f"bench{i}@%h", "--without-gossip"]
        cmd = [sys.executable, "-m", *cmd]  # "celery ..." as a module of this interpreter
        env = {**os.environ, "MOUSETRACK_CPU_THREADS": str(threads)}
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs


def batch_time(project, user, model, videos, n_workers: int, threads: int) -> float:
    from tracking.models import TrackingRun
    from tracking.services import tracking_runs_create
    from webapp.models import TERMINAL_STATUSES, JobStatus

    workers = start_workers(n_workers, threads)
    try:
        time.sleep(15)  # the workers import torch and connect before the batch is queued
        started = time.monotonic()
        batch = tracking_runs_create(project=project, created_by=user, model=model, videos=videos)
        ids = list(batch.runs.values_list("pk", flat=True))
        while True:
            statuses = list(TrackingRun.objects.filter(pk__in=ids).values_list("status", flat=True))
            if all(s in TERMINAL_STATUSES for s in statuses):
                break
            time.sleep(0.5)
        seconds = time.monotonic() - started
        if any(s != JobStatus.SUCCEEDED for s in statuses):
            raise SystemExit(f"runs did not all succeed: {statuses}")
        return seconds
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--frames", type=int, default=450)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--weights", type=Path)
    args = parser.parse_args()
    if not SOURCE.exists():
        raise SystemExit(f"{SOURCE} is absent (see ../shared/data/README.md)")
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    paths = clips(args.videos, args.frames)
    pt = weights(args)
    prepare_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from labeling.services import project_create
    from labeling.videos.services import IncomingFile, video_upload
    from training.model_import import trained_model_import
    from webapp.embedded_redis import start_embedded_redis

    redis = start_embedded_redis(settings.EMBEDDED_REDIS_SOCKET)
    try:
        user = get_user_model().objects.create_user("bench", password="bench-password-1")
        project = project_create(name="Throughput", owner=user)
        model = trained_model_import(project=project, path=pt, display_name="best.pt")
        videos = [
            video_upload(
                project=project,
                user=user,
                incoming=IncomingFile(path=p, name=p.name, size=p.stat().st_size),
            )
            for p in paths
        ]
        one = batch_time(project, user, model, videos, 1, args.threads)
        print(f"1 worker : {one:7.1f} s  {3600 * len(videos) / one:6.1f} videos/h", flush=True)
        two = batch_time(project, user, model, videos, 2, args.threads)
        print(f"2 workers: {two:7.1f} s  {3600 * len(videos) / two:6.1f} videos/h", flush=True)
    finally:
        redis.terminate()
    summary = {
        "videos": len(videos),
        "frames_each": args.frames,
        "threads_per_worker": args.threads,
        "seconds": {"one": round(one, 1), "two": round(two, 1)},
        "videos_per_hour": {"one": round(3600 * len(videos) / one, 1),
                            "two": round(3600 * len(videos) / two, 1)},
        "two_over_one": round(one / two, 3),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg()[0],
    }  # fmt: skip
    print(f"two workers / one: {summary['two_over_one']:.2f}x the videos per hour")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
