"""Lab-scale data: the seed paper's 13,622-image dataset imported, browsed and exported.

    .venv/bin/python bench/lab_scale.py [--images 13622] [--requests 200] [--keep]

Builds (once, cached under var/bench/) a Pascal VOC zip mirroring the paper's mix: three
sources at 640x480, 320x240 and 656x490 (synthetic grey arenas with sensor noise and one
dark elliptical blob each, JPEG q90), one ``Annotations/*.xml`` per image and
``ImageSets/Main`` train/val/test lists (50/25/25). Then, in a fresh SQLite database and
media folder of its own (var/bench/lab-scale-run/), with an embedded Redis and a real
Celery worker (``-Q default``, solo pool, so the worker's peak RSS is the import's):

- import: the request's part (the zip's directory checked, the upload stored) and the job
  (queued to succeeded, every image decoded and checked), images/s and s per thousand,
  and the worker's peak resident memory (VmHWM) after it;
- the same import in the bench's own process without a job (the baseline: the job's cost
  is the ratio, which a busy machine distorts less than single timings);
- dataset version creation (``dataset_version_create``);
- export as a job in each format (queued to succeeded, the zip stored), and the baseline:
  the same export in this process the way the jobs wrote it before (a folder, then a zip);
- server times of the pages and endpoints a person uses at that size, through Django's
  test client in this process (no network): the frames list requests the editor makes
  (its first page, ``limit=200``; the next page by cursor, ``after=<id>``; a jump,
  ``around=<id>``; "next unlabeled", ``status=unlabeled&after=<id>&limit=1``), single
  pages (``limit=100`` at random offsets, with filters), an editor frame change (the
  frame's annotation + its image), a save, the project, label, dataset and videos pages
  and the counts/stats endpoints; p50 / p95 / max.

The machine is shared with other work: read the figures as orders of magnitude, not as
exact timings; the script prints the load average next to them.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "var" / "bench"
RUN = CACHE / "lab-scale-run"
# The paper's three sources; how the 13,622 images split between them is not given, so
# roughly 40/35/25.
SOURCES = [("cam-a", 640, 480, 0.40), ("cam-b", 320, 240, 0.35), ("cam-c", 656, 490, 0.25)]
FORMATS = ("yolo", "coco", "voc", "cvat")


# --- the dataset ------------------------------------------------------------------------
def _voc_xml(name: str, folder: str, w: int, h: int, box: tuple[int, int, int, int]) -> str:
    x1, y1, x2, y2 = box
    return (
        f"<annotation><folder>{folder}</folder><filename>{name}</filename>"
        f"<size><width>{w}</width><height>{h}</height><depth>3</depth></size>"
        "<segmented>0</segmented><object><name>mouse</name><pose>Unspecified</pose>"
        "<truncated>0</truncated><difficult>0</difficult><bndbox>"
        f"<xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax>"
        "</bndbox></object></annotation>"
    )


def build_dataset(n: int) -> Path:
    """The VOC zip of ``n`` images (cached by ``n``)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"lab-scale-voc-{n}.zip"
    if path.exists():
        return path
    rng = np.random.default_rng(14)
    counts = [round(n * share) for *_, share in SOURCES]
    counts[-1] = n - sum(counts[:-1])
    backgrounds = {}
    for name, w, h, _ in SOURCES:
        yy, xx = np.mgrid[0:h, 0:w]
        vignette = 190 - 40 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2)
        backgrounds[name] = vignette
    partial = path.with_suffix(".part")
    stems: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    started = time.perf_counter()
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as zf:
        index = 0
        for (source, w, h, _), count in zip(SOURCES, counts, strict=True):
            for k in range(count):
                noise = rng.normal(0, 6, (h, w))
                pixels = np.clip(backgrounds[source] + noise, 0, 255).astype(np.uint8)
                img = Image.fromarray(pixels, "L").convert("RGB")
                bw, bh = int(w * rng.uniform(0.08, 0.16)), int(h * rng.uniform(0.06, 0.12))
                x1 = int(rng.integers(0, w - bw - 1))
                y1 = int(rng.integers(0, h - bh - 1))
                blob = Image.new("L", (w, h), 0)
                ImageDraw.Draw(blob).ellipse([x1, y1, x1 + bw, y1 + bh], fill=255)
                blob = blob.filter(ImageFilter.GaussianBlur(1.5))
                img.paste((35, 32, 30), mask=blob)
                buffer = io.BytesIO()
                img.save(buffer, "JPEG", quality=90)
                stem = f"{source}_{k:05d}"
                zf.writestr(f"JPEGImages/{stem}.jpg", buffer.getvalue())
                box = (x1 + 1, y1 + 1, x1 + bw, y1 + bh)
                zf.writestr(
                    f"Annotations/{stem}.xml",
                    _voc_xml(f"{stem}.jpg", "JPEGImages", w, h, box),
                    compress_type=zipfile.ZIP_DEFLATED,
                )
                split = ("train", "train", "val", "test")[index % 4]
                stems[split].append(stem)
                index += 1
                if index % 2000 == 0:
                    print(f"  built {index:,}/{n:,} images", file=sys.stderr)
        for split, names in stems.items():
            zf.writestr(f"ImageSets/Main/{split}.txt", "\n".join(names) + "\n")
    partial.rename(path)
    print(f"built {path.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


# --- the environment --------------------------------------------------------------------
def prepare_env(keep: bool) -> dict[str, str]:
    if RUN.exists() and not keep:
        shutil.rmtree(RUN)
    RUN.mkdir(parents=True, exist_ok=True)
    env = {
        "MOUSETRACK_VAR_DIR": str(RUN),
        "DATABASE_URL": f"sqlite:///{RUN / 'db.sqlite3'}",
        "MEDIA_ROOT": str(RUN / "media"),
        "MOUSETRACK_SCRATCH_DIR": str(RUN / "scratch"),
        "DJANGO_DEBUG": "false",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "JOB_HEARTBEAT_INTERVAL": "15",
    }
    env.pop("REDIS_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    return env


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    log = open(RUN / "worker.log", "wb")  # noqa: SIM115 (kept open for the worker's life)
    cmd = [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", "default"]
    cmd += ["--pool", "solo", "-n", "bench@%h", "--without-gossip", "--without-mingle"]
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_job(model, pk: int, timeout: float = 3600.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = model.objects.get(pk=pk)
        if job.is_finished:
            return job
        time.sleep(0.1)
    raise TimeoutError(f"{model.__name__} {pk} did not finish")


def percentiles(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return f"{statistics.median(ms):7.1f} {p95:7.1f} {ms[-1]:7.1f}  (n={len(ms)})"


def timed_get(client, url: str, times: list[float]) -> None:
    started = time.perf_counter()
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    times.append(time.perf_counter() - started)
    if response.status_code != 200:
        raise RuntimeError(f"{url}: {response.status_code} {body[:300]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=13_622)
    parser.add_argument("--requests", type=int, default=200, help="samples per request kind")
    parser.add_argument("--keep", action="store_true", help="reuse the run folder")
    parser.add_argument(
        "--pages-only",
        action="store_true",
        help="only the server times, on the project a previous run imported (kept)",
    )
    parser.add_argument(
        "--exports-only",
        action="store_true",
        help="only the exports, on the project a previous run imported (kept)",
    )
    args = parser.parse_args()
    if args.pages_only:
        prepare_env(keep=True)
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth import get_user_model

        from labeling.models import Project

        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        user = get_user_model().objects.get(username="bench")
        project = Project.objects.filter(name__startswith="Lab scale").latest("created_at")
        measure_pages(args, user, project)
        return
    dataset = None if args.exports_only else build_dataset(args.images)
    env = prepare_env(args.keep or args.exports_only)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from webapp.embedded_redis import start_embedded_redis

    # Pages render without collectstatic (the manifest storage needs it; DEBUG stays off).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", verbosity=0)
    redis = start_embedded_redis(settings.EMBEDDED_REDIS_SOCKET)
    worker = start_worker(env)
    try:
        wait_for_worker(worker)
        if args.exports_only:
            from django.contrib.auth import get_user_model

            from labeling.models import Project

            user = get_user_model().objects.get(username="bench")
            project = Project.objects.filter(name__startswith="Lab scale").latest("created_at")
            print(f"exports of {project.frames.count():,} images; load avg {os.getloadavg()}")
            measure_exports(project, user, worker)
        else:
            run(args, dataset, worker)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        if redis is not None:
            redis.terminate()


def wait_for_worker(worker: subprocess.Popen) -> None:
    from webapp import tasks
    from webapp.models import WorkerPing

    token = f"bench-{time.time()}"
    tasks.ping_default.apply_async(args=[token])
    deadline = time.monotonic() + 120
    while not WorkerPing.objects.filter(token=token).exists():
        if time.monotonic() > deadline or worker.poll() is not None:
            raise RuntimeError((RUN / "worker.log").read_text()[-3000:])
        time.sleep(0.2)


def run(args, dataset: Path, worker: subprocess.Popen) -> None:
    from django.contrib.auth import get_user_model

    from labeling.datasets import job_services
    from labeling.datasets.importing import dataset_import
    from labeling.datasets.versions import dataset_version_create
    from labeling.models import DatasetImportJob
    from labeling.services import project_create

    rss_idle = rss_mb(worker.pid)
    user = get_user_model().objects.create_user("bench", password="bench-pass-1")
    project = project_create(name=f"Lab scale {time.time():.0f}", owner=user)
    n = args.images
    size_mb = dataset.stat().st_size / 1024**2
    print(f"dataset: {n:,} images, VOC zip {size_mb:,.0f} MB; load avg {os.getloadavg()}")

    # Import: the request's part, then the job.
    started = time.perf_counter()
    job = job_services.dataset_import_job_create(
        project=project, user=user, fmt="auto", upload=dataset, source_name=dataset.name
    )
    request_s = time.perf_counter() - started
    queued = time.perf_counter()
    job_services.dataset_import_job_dispatch(job=job)
    job = wait_job(DatasetImportJob, job.pk)
    import_s = time.perf_counter() - queued
    if job.status != "succeeded":
        raise RuntimeError(f"import {job.status}: {job.error[:2000]}")
    peak = peak_rss_mb(worker.pid)
    print(
        f"import: request (check + store the zip) {request_s:.1f} s; job {import_s:.1f} s "
        f"= {n / import_s:,.0f} images/s = {import_s / n * 1000:.2f} s per thousand; "
        f"worker RSS idle {rss_idle:.0f} MB, peak {peak:.0f} MB"
    )
    print(f"        {job.message}")

    # The same import in this process, without a job (how the issue measured it before).
    baseline = project_create(name=f"Baseline {time.time():.0f}", owner=user)
    started = time.perf_counter()
    dataset_import(project=baseline, fmt="auto", path=dataset, created_by=user)
    inline_s = time.perf_counter() - started
    print(
        f"baseline: dataset_import in this process {inline_s:.1f} s = "
        f"{inline_s / n * 1000:.2f} s per thousand; the job took {import_s / inline_s:.2f}x that"
    )

    started = time.perf_counter()
    version = dataset_version_create(project=project, name="v1", created_by=user)
    print(
        f"dataset version: {time.perf_counter() - started:.1f} s "
        f"({sum(version.frame_counts.values()):,} frames, {version.box_count:,} boxes)"
    )

    measure_exports(project, user, worker)
    measure_pages(args, user, project)


def measure_exports(project, user, worker: subprocess.Popen) -> None:
    """Each format exported by a job (queued to succeeded), then the in-process baseline."""
    from labeling.datasets import job_services
    from labeling.models import DatasetExportJob

    n = project.frames.count()
    job_times: dict[str, float] = {}
    for fmt in FORMATS:
        started = time.perf_counter()
        export = job_services.dataset_export_job_start(project=project, user=user, fmt=fmt)
        export = wait_job(DatasetExportJob, export.pk)
        took = job_times[fmt] = time.perf_counter() - started
        if export.status != "succeeded":
            raise RuntimeError(f"export {fmt} {export.status}: {export.error[:2000]}")
        print(
            f"export {fmt:4}: {took:5.1f} s = {n / took:,.0f} images/s "
            f"({export.file_bytes / 1024**2:,.0f} MB zip)"
        )
    print(f"worker peak RSS after the exports: {peak_rss_mb(worker.pid):.0f} MB")
    export_baseline(project, job_times)


def export_baseline(project, job_times: dict[str, float]) -> None:
    """Each export in this process as the export jobs wrote it before: the dataset laid out in
    a scratch folder (images hard-linked), then zipped from there. The jobs now write the zip
    directly; the ratio says what that, and the job around it, changed."""
    import tempfile

    from labeling.datasets.archives import write_zip
    from labeling.datasets.exporting import _StoredImages, dataset_for_export
    from labeling.datasets.formats import FORMATS as WRITERS

    for fmt in FORMATS:
        with tempfile.TemporaryDirectory(dir=RUN) as work:
            started = time.perf_counter()
            dataset, stored = dataset_for_export(project=project, fmt=fmt)
            options = {"absolute_path": False} if fmt == "yolo" else {}
            source = _StoredImages(stored)
            WRITERS[fmt].write(dataset, Path(work) / "dataset", source, link=True, **options)
            source.close()
            write_zip(Path(work) / "dataset", Path(work) / "dataset.zip")
            took = time.perf_counter() - started
        print(
            f"baseline export {fmt:4} (folder, then zip, in this process): {took:5.1f} s; "
            f"the job took {job_times[fmt] / took:.2f}x that"
        )


def measure_pages(args, user, project) -> None:
    from django.test import Client
    from django.urls import reverse

    from labeling.models import Frame

    client = Client()
    client.force_login(user)
    rng = random.Random(14)
    frames_url = reverse("api-frame-list", args=[project.pk])
    ids = list(Frame.objects.filter(project=project).values_list("id", flat=True))
    total = len(ids)
    results: dict[str, list[float]] = {}

    def sample(name: str, urls) -> None:
        times = results.setdefault(name, [])
        for url in urls:
            timed_get(client, url, times)

    k = args.requests
    # What editor.js asks for (static/labeling/editor-frames.js): a page at a time.
    sample("editor: first page (limit=200)", [f"{frames_url}?limit=200"] * 20)
    sample(
        "editor: next page (after=<id>)",
        [f"{frames_url}?limit=200&after={rng.choice(ids)}" for _ in range(k // 2)],
    )
    sample(
        "editor: jump (around=<id>)",
        [f"{frames_url}?limit=200&around={rng.choice(ids)}" for _ in range(k // 2)],
    )
    sample(
        "editor: next unlabeled (after=<id>)",
        [f"{frames_url}?limit=1&status=unlabeled&after={rng.choice(ids)}" for _ in range(k // 2)],
    )
    sample(
        "frames list, limit=100, random offset",
        [f"{frames_url}?limit=100&offset={rng.randrange(0, total)}" for _ in range(k)],
    )
    sample(
        "frames list, status+split filter",
        [
            f"{frames_url}?limit=100&status=labeled&split=val&offset={rng.randrange(0, total // 4)}"
            for _ in range(k // 2)
        ],
    )
    picks = [rng.choice(ids) for _ in range(k)]
    nav_times: list[float] = []
    for frame_id in picks:  # one editor frame change: annotation + image, as editor.js does
        started = time.perf_counter()
        timed_get(client, reverse("api-frame-annotation", args=[frame_id]), [])
        timed_get(client, reverse("api-frame-image", args=[frame_id]), [])
        nav_times.append(time.perf_counter() - started)
    results["editor frame change (annotation + image)"] = nav_times
    saves: list[float] = []
    for frame_id in picks[: k // 4]:
        state = client.get(reverse("api-frame-annotation", args=[frame_id])).json()
        started = time.perf_counter()
        response = client.put(
            reverse("api-frame-annotation", args=[frame_id]),
            {"version": state["version"], "boxes": state["boxes"], "status": "reviewed"},
            content_type="application/json",
        )
        saves.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content[:300]
    results["editor save (PUT annotation)"] = saves
    pages = {
        "project page": reverse("project-detail", args=[project.pk]),
        "label (editor) page": reverse("label-editor", args=[project.pk]),
        "dataset page": reverse("dataset", args=[project.pk]),
        "videos page": reverse("video-list", args=[project.pk]),
        "frame counts API": reverse("api-frame-counts", args=[project.pk]),
        "dataset stats API": reverse("api-dataset-stats", args=[project.pk]),
        "dataset jobs API": reverse("api-dataset-jobs", args=[project.pk]),
    }
    for name, url in pages.items():
        sample(name, [url] * 20)
    print(f"server times, ms: p50 p95 max; load avg {os.getloadavg()}")
    slowest = 0.0
    for name, times in results.items():
        print(f"  {name:44} {percentiles(times)}")
        slowest = max(slowest, max(times))
    print(f"slowest request: {slowest * 1000:.0f} ms")


if __name__ == "__main__":
    main()
