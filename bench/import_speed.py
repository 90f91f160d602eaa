"""Dataset import speed: ``dataset_import`` in one process on a small VOC zip, profiled.

    .venv/bin/python bench/import_speed.py [--images 1000] [--repeat 2] [--reimport]
        [--profile 25 [--sort tottime]] [--against REV]

Builds (once, cached under var/bench/) the same synthetic Pascal VOC zip as
``bench/lab_scale.py`` (its ``build_dataset``: 40/35/25 % at 640x480, 320x240, 656x490, JPEG
q90, one VOC XML each), then imports it ``--repeat`` times into fresh projects of a
throwaway SQLite database and media folder (var/bench/import-speed-run/) and prints seconds
per thousand images, wall and CPU (all threads), with the load average. ``--reimport``
imports the same zip again into the last project (every image matches its frame by
content). ``--profile N`` runs one more import under cProfile and prints the N top entries.

``--against REV`` compares with the code of git revision REV (e.g. the commit before a
change): its tree is unpacked (``git archive``) under var/bench/ and both trees import the
same zip in turns (REV, this tree, REV, ...), each in a subprocess, and the ratios are
printed. A shared machine's load moves single timings a lot; taking turns in one
invocation keeps the comparison fair.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUN = ROOT / "var" / "bench" / "import-speed-run"


def prepare_env(run: Path) -> None:
    if run.exists():
        shutil.rmtree(run)
    run.mkdir(parents=True)
    os.environ.pop("REDIS_URL", None)
    os.environ.update(
        {
            "MOUSETRACK_VAR_DIR": str(run),
            "DATABASE_URL": f"sqlite:///{run / 'db.sqlite3'}",
            "MEDIA_ROOT": str(run / "media"),
            "MOUSETRACK_SCRATCH_DIR": str(run / "scratch"),
            "DJANGO_DEBUG": "false",
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
        }
    )


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def measure(args, dataset: Path, run: Path) -> dict:
    """Import ``dataset`` ``args.repeat`` times (and re-import, profile as asked)."""
    prepare_env(run)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from labeling.datasets.importing import dataset_import
    from labeling.services import project_create

    if args.threads:
        from django.conf import settings

        settings.DATASET_IMPORT_CHECK_THREADS = args.threads
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench-pass-1")
    n = args.images
    print(f"{n:,} images, {dataset.stat().st_size / 1024**2:,.0f} MB zip; load {load()}")
    figures: dict[str, list[float]] = {"wall": [], "cpu": [], "reimport_wall": []}

    def one(label: str, project=None) -> tuple:
        project = project or project_create(name=f"{label} {time.time()}", owner=user)
        started, cpu = time.perf_counter(), time.process_time()
        result = dataset_import(project=project, fmt="auto", path=dataset, created_by=user)
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"{label}: {took:.2f} s = {took / n * 1000:.2f} s per thousand, CPU "
            f"{cpu / n * 1000:.2f} s per thousand (created {result.frames_created}, "
            f"updated {result.frames_updated}, unchanged {result.frames_unchanged}); "
            f"load {load()}"
        )
        return project, took / n * 1000, cpu / n * 1000

    project = None
    for k in range(args.repeat):
        project, wall, cpu = one(f"import {k + 1}")
        figures["wall"].append(wall)
        figures["cpu"].append(cpu)
    if args.reimport and project is not None:
        figures["reimport_wall"].append(one("re-import (same project)", project)[1])
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        one("import under cProfile")
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.profile)
        print(out.getvalue())
    return figures


def against(args, dataset: Path) -> None:
    """Both trees in turns, each import in a subprocess; ratios of the medians."""
    rev = subprocess.run(
        ["git", "rev-parse", "--short", args.against],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    base = ROOT / "var" / "bench" / f"tree-{rev}"
    if not (base / "manage.py").exists():
        base.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", rev], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
    this = Path(__file__).resolve()
    trees = {f"{rev} (before)": base, "this tree": ROOT}
    results: dict[str, dict[str, list[float]]] = {
        name: {"wall": [], "cpu": [], "reimport_wall": []} for name in trees
    }
    for turn in range(args.repeat):
        for name, tree in trees.items():
            cmd = [sys.executable, str(this), "--images", str(args.images), "--repeat", "1"]
            cmd += ["--child", str(tree)] + (["--reimport"] if args.reimport else [])
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            figures = json.loads(out.strip().splitlines()[-1].removeprefix("RESULT "))
            for key, values in figures.items():
                results[name][key] += values
            print(f"turn {turn + 1}, {name}: {figures}; load {load()}", flush=True)
    print(f"\nmedians over {args.repeat} turns, s per thousand images ({args.images:,} images):")
    medians = {
        name: {k: statistics.median(v) for k, v in figs.items() if v}
        for name, figs in results.items()
    }
    for name, figs in medians.items():
        print(f"  {name:16} " + "  ".join(f"{k} {v:.2f}" for k, v in figs.items()))
    before, after = medians.values()
    print(
        "  before / after: "
        + "  ".join(f"{k} {before[k] / after[k]:.2f}x" for k in after if k in before)
        + f"; load {load()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--profile", type=int, default=0, help="top N cProfile entries")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key")
    parser.add_argument("--reimport", action="store_true", help="also time a re-import")
    parser.add_argument("--against", metavar="REV", help="compare with git revision REV")
    parser.add_argument(
        "--threads", type=int, help="DATASET_IMPORT_CHECK_THREADS (cProfile sees one thread)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # a tree to import with
    args = parser.parse_args()

    from bench.lab_scale import build_dataset

    dataset = build_dataset(args.images)
    if args.against:
        against(args, dataset)
        return
    if args.child:
        tree = Path(args.child).resolve()
        sys.path.insert(0, str(tree))
        os.chdir(tree)
        run = ROOT / "var" / "bench" / f"import-speed-run-{tree.name}"
        with open(os.devnull, "w") as quiet:  # only the RESULT line on stdout
            stdout, sys.stdout = sys.stdout, quiet
            try:
                figures = measure(args, dataset, run)
            finally:
                sys.stdout = stdout
        shutil.rmtree(run, ignore_errors=True)
        print("RESULT " + json.dumps(figures))
        return
    measure(args, dataset, RUN)


if __name__ == "__main__":
    main()
