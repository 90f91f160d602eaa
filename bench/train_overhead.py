"""What a training job costs beyond Ultralytics itself, measured in one run.

    .venv/bin/python bench/train_overhead.py [--frames 60] [--epochs 10] [--imgsz 320]
                                             [--batch 16] [--preset yolov3-tiny]

Four trainings of the same model YAML on the same data with the same hyper-parameters
(SGD, lr0, momentum, weight decay, patience, seed, no plots, ``workers=0``, images kept in
RAM), one after the
other on this machine:

1. **cli**: the Ultralytics command line (``yolo train ...``) in a child process, as a lab
   would run it by hand (Ultralytics then uses ``cpu_count - 1`` torch threads);
2. **core**: ``training.trainer.train`` in this process (the app's Ultralytics wrapper with
   its callbacks, the app's threads: ``MOUSETRACK_CPU_THREADS``, all cores by default);
3. **core, images from disk**: the same with ``cache_images=False`` (every epoch decodes
   each JPEG again), to show what the RAM image cache saves;
4. **job**: a real ``TrainingJob`` executed by ``training.training_work.training_job_execute`` in
   this process, in a fresh SQLite database and media folder of its own, with an embedded
   Redis: everything a worker does (dataset version written to scratch, per-epoch metrics
   rows, checkpoint copies to storage, heartbeats, the model's registration).

The dataset is ``bench/train_tiny_openfield.py``'s: frames of the shared open-field video
labeled automatically, split 50/25/25. Prints each wall time and the ratios ``job / core``
(the job's own overhead: the goal is <= 1.10) and ``job / cli``; the machine is shared, so
read the ratios, which the same invocation measured, rather than the seconds. The last line
is JSON.
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

OUT = ROOT / "var" / "bench" / "train-overhead"


def hyperparameters(args: argparse.Namespace) -> dict:
    from training.presets import PRESETS

    preset = PRESETS[args.preset].hyperparameters
    return {
        "epochs": args.epochs,
        "imgsz": args.imgsz,
        "batch": args.batch,
        "lr0": preset.lr0,
        "momentum": preset.momentum,
        "weight_decay": preset.weight_decay,
        "patience": args.epochs,  # no early stop: every run does every epoch
        "seed": 0,
        "workers": 0,
        "device": "cpu",
        "augment": True,
        "cache_images": True,
    }


def run_cli(data_yaml: Path, model_yaml: str, hp: dict) -> float:
    """``yolo train`` with the same settings; returns its wall time."""
    project = OUT / "cli"
    shutil.rmtree(project, ignore_errors=True)
    cmd = [str(Path(sys.executable).with_name("yolo")), "train", f"model={model_yaml}"]
    cmd += [f"data={data_yaml}", f"project={project}", "name=run", "exist_ok=True"]
    cmd += ["optimizer=SGD", f"nbs={hp['batch']}", "plots=False", "verbose=False", "amp=False"]
    cmd += [f"{k}={hp[k]}" for k in ("epochs", "imgsz", "batch", "lr0", "momentum")]
    cmd += [f"{k}={hp[k]}" for k in ("weight_decay", "patience", "seed", "workers", "device")]
    cmd += [f"cache={'ram' if hp['cache_images'] else False}"]
    env = {**os.environ, "YOLO_CONFIG_DIR": str(ROOT / "var" / "ultralytics"), "YOLO_OFFLINE": "1"}
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=OUT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"yolo train failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def warm_up() -> None:
    """Import torch and Ultralytics before any in-process run is timed: the first run would
    otherwise carry the imports (several seconds) that later runs do not."""
    from training.ultralytics_setup import configure_offline

    configure_offline(ROOT / "var")
    import torch  # noqa: F401
    import ultralytics  # noqa: F401


def run_core(data_yaml: Path, preset: str, hp: dict, name: str = "core") -> float:
    from training import trainer
    from training.presets import Hyperparameters
    from training.ultralytics_setup import configure_offline

    configure_offline(ROOT / "var")
    project = OUT / name
    shutil.rmtree(project, ignore_errors=True)
    started = time.monotonic()
    trainer.train(
        data_yaml=data_yaml,
        preset_or_model=preset,
        hyperparameters=Hyperparameters(**hp),
        project_dir=project,
    )
    return time.monotonic() - started


def prepare_django() -> None:
    run = OUT / "job-run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    os.environ.pop("REDIS_URL", None)
    os.environ.update(
        {
            "MOUSETRACK_VAR_DIR": str(run),
            "DATABASE_URL": f"sqlite:///{run / 'db.sqlite3'}",
            "MEDIA_ROOT": str(run / "media"),
            "MOUSETRACK_SCRATCH_DIR": str(run / "scratch"),
            "DJANGO_DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def run_job(dataset_dir: Path, preset: str, hp: dict) -> tuple[float, dict]:
    """The whole job in this process; returns its wall time (claim to finish) and timings."""
    from django.conf import settings

    from labeling.datasets.importing import dataset_import
    from labeling.services import project_create
    from training.models import TrainingJob
    from training.services import training_job_create
    from training.training_work import training_job_execute
    from webapp.embedded_redis import start_embedded_redis
    from webapp.models import JobStatus

    redis = start_embedded_redis(settings.EMBEDDED_REDIS_SOCKET)  # the job is published
    try:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.create_user("bench", password="bench-password-1")
        project = project_create(name="Train overhead", owner=user)
        # The YOLO layout's train/val/test folders become the frames' splits.
        dataset_import(project=project, fmt="yolo", path=dataset_dir, created_by=user)
        job = training_job_create(
            project=project, created_by=user, preset=preset, hyperparameters=hp
        )
        started = time.monotonic()
        training_job_execute(job_id=job.pk)
        seconds = time.monotonic() - started
        job = TrainingJob.objects.get(pk=job.pk)
        if job.status != JobStatus.SUCCEEDED:
            raise SystemExit(f"the job ended {job.status}: {job.error[-2000:]}")
        return seconds, {"training_time_s": round(job.training_time_s, 1)}
    finally:
        redis.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--preset", default="yolov3-tiny")
    args = parser.parse_args()
    if not SOURCE.exists():
        raise SystemExit(f"{SOURCE} is absent (see ../shared/data/README.md)")
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    data_yaml, counts = build_dataset(sample_frames(SOURCE, args.frames), OUT)
    print(f"dataset: {counts}", flush=True)

    from training.presets import PRESETS

    hp = hyperparameters(args)
    model_yaml = PRESETS[args.preset].model_yaml
    times = {}
    times["cli"] = run_cli(data_yaml, model_yaml, hp)
    print(f"cli  (yolo train)          {times['cli']:7.1f} s", flush=True)
    warm_up()
    times["core"] = run_core(data_yaml, args.preset, hp)
    print(f"core (training.trainer)    {times['core']:7.1f} s", flush=True)
    times["core_from_disk"] = run_core(
        data_yaml, args.preset, {**hp, "cache_images": False}, name="core-from-disk"
    )
    print(f"core, images from disk     {times['core_from_disk']:7.1f} s", flush=True)
    prepare_django()
    times["job"], extra = run_job(data_yaml.parent, args.preset, hp)
    print(f"job  (TrainingJob, worker) {times['job']:7.1f} s", flush=True)
    summary = {
        "preset": args.preset,
        "epochs": args.epochs,
        "imgsz": args.imgsz,
        "frames": counts,
        "seconds": {k: round(v, 1) for k, v in times.items()},
        "job_over_core": round(times["job"] / times["core"], 3),
        "job_over_cli": round(times["job"] / times["cli"], 3),
        "core_over_cli": round(times["core"] / times["cli"], 3),
        # What keeping the decoded images in RAM saves (both runs are the app's trainer).
        "in_memory_over_from_disk": round(times["core"] / times["core_from_disk"], 3),
        "cpu_threads": {"cli": max(1, (os.cpu_count() or 1) - 1), "app": os.cpu_count()},
        "load_average": os.getloadavg()[0],
        **extra,
    }
    print(
        f"job / core {summary['job_over_core']:.3f} (the job's own overhead)   "
        f"job / cli {summary['job_over_cli']:.3f}   core / cli {summary['core_over_cli']:.3f}   "
        f"in memory / from disk {summary['in_memory_over_from_disk']:.3f}"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
