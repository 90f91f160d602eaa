"""Dataset import speed: ``dataset_import`` in one process on a small VOC zip, profiled.

    .venv/bin/python bench/import_speed.py [--images 1000] [--repeat 2] [--profile 25]

Builds (once, cached under var/bench/) the same synthetic Pascal VOC zip as
``bench/lab_scale.py`` (its ``build_dataset``), then imports it ``--repeat`` times into
fresh projects of a throwaway SQLite database and media folder (var/bench/import-speed-run/)
and prints seconds per thousand images with the load average. ``--profile N`` runs one more
import under cProfile and prints the N top entries by cumulative time. A second import of the
same zip into the same project (``--reimport``) measures the re-import path (every image
matches a frame by content).

The machine is shared: the load average is printed next to every figure.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUN = ROOT / "var" / "bench" / "import-speed-run"


def prepare_env() -> None:
    if RUN.exists():
        shutil.rmtree(RUN)
    RUN.mkdir(parents=True)
    os.environ.pop("REDIS_URL", None)
    os.environ.update(
        {
            "MOUSETRACK_VAR_DIR": str(RUN),
            "DATABASE_URL": f"sqlite:///{RUN / 'db.sqlite3'}",
            "MEDIA_ROOT": str(RUN / "media"),
            "MOUSETRACK_SCRATCH_DIR": str(RUN / "scratch"),
            "DJANGO_DEBUG": "false",
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
        }
    )


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--profile", type=int, default=0, help="top N cProfile entries")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key")
    parser.add_argument("--reimport", action="store_true", help="also time a re-import")
    args = parser.parse_args()

    from bench.lab_scale import build_dataset

    dataset = build_dataset(args.images)
    prepare_env()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from labeling.datasets.importing import dataset_import
    from labeling.services import project_create

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench-pass-1")
    n = args.images
    print(f"{n:,} images, {dataset.stat().st_size / 1024**2:,.0f} MB zip; load {load()}")

    def one(label: str, project=None):
        project = project or project_create(name=f"{label} {time.time()}", owner=user)
        started = time.perf_counter()
        result = dataset_import(project=project, fmt="auto", path=dataset, created_by=user)
        took = time.perf_counter() - started
        print(
            f"{label}: {took:.2f} s = {took / n * 1000:.2f} s per thousand "
            f"(created {result.frames_created}, updated {result.frames_updated}, "
            f"unchanged {result.frames_unchanged}); load {load()}"
        )
        return project

    project = None
    for k in range(args.repeat):
        project = one(f"import {k + 1}")
    if args.reimport and project is not None:
        one("re-import (same project)", project)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        one("import under cProfile")
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.profile)
        print(out.getvalue())


if __name__ == "__main__":
    main()
