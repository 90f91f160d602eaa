"""Running a tracking run on a worker: claim, decode + detect + identities, store, finish.

``tracking_run_execute`` is what the Celery task calls. The engine
(:mod:`tracking.engine.runner`) does the work in a local run directory; this module ties it
to the database and to media storage:

- Every complete detection chunk the engine writes is copied to storage
  (``tracking/<project>/<run>/detections/``) at the next progress call, so a retry on any
  worker resumes from there instead of from frame 0. The heartbeat rides on the progress
  call: a cancel or a lost claim stops the engine after its current chunk is safe.
- A video that stops decoding midway ends the run FAILED with ``failed_at_frame`` set, and
  the trajectory of the frames before it is still stored (never invented past it).
- The soft time limit ends it TIMED_OUT with its chunks kept; *Retry* resumes.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage

from labeling.videos.services import video_local_path
from webapp.job_scratch import job_scratch_folder
from webapp.jobs import JobRun, job_finish, job_heartbeat, job_run
from webapp.models import JobStatus
from webapp.storage import (
    delete_tree_quietly,
    local_copy,
    scratch_dir,
    scratch_tempdir,
    sha256_of_file,
    store_file,
)

from .models import TrackingRun

log = logging.getLogger(__name__)


def _storage_prefix(run: TrackingRun) -> str:
    return f"tracking/{run.project_id}/{run.pk}"


def engine_params(run: TrackingRun) -> Any:
    """The engine's parameter records for the run's stored ``params``."""
    from tracking.engine.cropping import CropParams
    from tracking.engine.params import TrackingParams
    from tracking.engine.runner import DetectParams, TrackParams

    p = run.params
    identity = dataclasses.replace(
        TrackingParams(), max_gap_s=float(p["max_gap_s"]), outlier_factor=float(p["outlier_factor"])
    )
    return TrackParams(
        detect=DetectParams(
            imgsz=int(p["imgsz"]),
            conf=float(p["conf"]),
            iou=float(p["iou"]),
            batch_size=1 if p.get("device") == "cpu" else int(p.get("batch_size", 1)),
        ),
        crop=CropParams(enabled=bool(p["crop"])),
        chunk_frames=settings.TRACKING_CHUNK_FRAMES,
        identity=identity,
    )


class _ChunkSync:
    """Copies the run directory's complete chunks to storage and back (resume anywhere)."""

    def __init__(self, run: TrackingRun, run_dir: Path):
        from tracking.engine.chunks import CHUNK_DIR, MANIFEST

        self.run = run
        self.run_dir = run_dir
        self.prefix = _storage_prefix(run)
        self.chunk_dir = CHUNK_DIR
        self.manifest = MANIFEST
        self.uploaded: set[str] = set()

    def _stored(self) -> list[str]:
        try:
            _, files = default_storage.listdir(f"{self.prefix}/{self.chunk_dir}")
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(name for name in files if name.startswith("chunk-"))

    def restore(self) -> int:
        """Download the stored chunks this worker lacks; returns how many exist."""
        names = self._stored()
        local = self.run_dir / self.chunk_dir
        local.mkdir(parents=True, exist_ok=True)
        manifest_name = f"{self.prefix}/{self.manifest}"
        if names and default_storage.exists(manifest_name):
            with default_storage.open(manifest_name, "rb") as src:
                (self.run_dir / self.manifest).write_bytes(src.read())
        for name in names:
            target = local / name
            if not target.exists():
                tmp = local / f".tmp-{name}"
                with default_storage.open(f"{self.prefix}/{self.chunk_dir}/{name}", "rb") as src:
                    with open(tmp, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                tmp.replace(target)
            self.uploaded.add(name)
        return len(names)

    def push(self) -> None:
        from tracking.engine.chunks import chunk_files

        new = [path for _, _, path in chunk_files(self.run_dir) if path.name not in self.uploaded]
        if not new:
            return
        _check_alive(self.run)  # a deleted run's folder must not come back
        manifest = self.run_dir / self.manifest
        if manifest.exists():
            name = f"{self.prefix}/{self.manifest}"
            default_storage.delete(name)
            store_file(local_path=manifest, name=name)
        for path in new:
            name = f"{self.prefix}/{self.chunk_dir}/{path.name}"
            default_storage.delete(name)  # a half-copied leftover of a killed upload
            store_file(local_path=path, name=name)
            self.uploaded.add(path.name)


class _Beat:
    """The engine's progress callback: heartbeat, progress fields, chunk upload."""

    def __init__(self, run: TrackingRun, sync: _ChunkSync):
        self.run = run
        self.sync = sync
        self.last_db = 0.0

    def __call__(self, done: int, total: int | None, fps: float, eta_s: float | None) -> None:
        now = time.monotonic()
        if now - self.last_db < 1.0 and (total is None or done < total):
            return
        self.last_db = now
        self.sync.push()
        total = total or self.run.frames_total or 0
        fraction = done / total if total else 0.0
        eta = f", about {eta_s:.0f} s left" if eta_s is not None else ""
        message = f"Frame {done:,} of {total:,} · {fps:.1f} frames/s{eta}"
        TrackingRun.objects.filter(pk=self.run.pk).update(
            frames_done=done, fps=fps, eta_s=eta_s, frames_total=total
        )
        job_heartbeat(job=self.run, progress=0.95 * fraction, message=message)


class RunGone(Exception):
    """The run's row was deleted while it ran (its project or the run itself)."""


def _check_alive(run: TrackingRun) -> None:
    """Raise :class:`RunGone` if the row is gone: nothing may be stored for it any more."""
    if not TrackingRun.objects.filter(pk=run.pk).exists():
        raise RunGone()


def tracking_run_execute(*, run_id: int) -> None:
    """Claim the run and track its video (:data:`tracking.jobs.TRACKING`); a duplicate
    delivery returns at once."""
    from .jobs import TRACKING  # the kinds module imports this one

    job_run(TRACKING, job_id=run_id)


def tracking_run_work(job_run_: JobRun) -> None:
    """Track the video, resuming from the stored chunks; ends the run itself (a video
    that stops decoding midway is FAILED with what was tracked before it kept).

    A run deleted while it works (with its project) stops at its next progress call: no
    traceback, nothing stored again, its scratch folder and stored chunks removed; the
    shared runner takes the model's DoesNotExist as "what owned the job is gone"."""
    run = job_run_.job
    run_dir = job_scratch_folder(run)
    try:
        _execute(run, run_dir)
    except Exception:
        # However the deletion surfaced (a heartbeat answering "cancelled", a chunk
        # upload refused, a failed query), a run whose row is gone just stops.
        if TrackingRun.objects.filter(pk=run.pk).exists():
            raise
        _forget(run, run_dir)
        raise TrackingRun.DoesNotExist(f"tracking run {run.pk} was deleted") from None
    job_run_.state["ended"] = True


def tracking_run_after(job_run_: JobRun) -> None:
    """A run that got to its end needs its local chunks no more; one that stopped keeps
    them (the storage copy is what a retry on another worker resumes from)."""
    if job_run_.state.get("ended"):
        shutil.rmtree(job_scratch_folder(job_run_.job), ignore_errors=True)


def _forget(run: TrackingRun, run_dir: Path) -> None:
    """Remove what a deleted run left: its scratch folder and anything stored meanwhile."""
    log.info("tracking run %s was deleted while it ran; stopped", run.pk)
    shutil.rmtree(run_dir, ignore_errors=True)
    delete_tree_quietly(_storage_prefix(run))


def _explain(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text[:2000]


def _execute(run: TrackingRun, run_dir: Path) -> None:
    from tracking.engine.frames import FrameDecodeError, sandboxed_source
    from tracking.engine.runner import build_trajectory, detect_video
    from training.runtime import Detector
    from training.ultralytics_setup import configure_offline

    configure_offline(Path(settings.VAR_DIR))
    params = engine_params(run)
    sync = _ChunkSync(run, run_dir)
    restored = sync.restore()
    job_heartbeat(
        job=run,
        progress=0.0,
        message=f"Resuming from {restored} stored chunk(s)" if restored else "Loading the model",
    )
    video = run.video
    with ExitStack() as stack:
        weights = stack.enter_context(local_copy(run.model.weights.name))
        path = stack.enter_context(video_local_path(video=video))
        if not run.video_sha256:
            run.video_sha256 = sha256_of_file(path)
            TrackingRun.objects.filter(pk=run.pk).update(video_sha256=run.video_sha256)
        detector = Detector(
            weights,
            device=run.params.get("device", "auto"),
            backend=run.params.get("backend", "auto"),
            threads=settings.CPU_THREADS,
            onnx_cache_dir=scratch_dir("onnx-cache"),
        )
        TrackingRun.objects.filter(pk=run.pk).update(
            device=f"{detector.device_name} · {detector.backend}"
        )
        source = sandboxed_source(path, video)
        beat = _Beat(run, sync)
        failure: FrameDecodeError | None = None
        try:
            stored, stats = detect_video(
                source,
                detector,
                n_animals=run.n_animals,
                params=params,
                run_dir=run_dir,
                on_progress=beat,
                run_key={"model_sha256": run.model_sha256, "video_sha256": run.video_sha256},
            )
            detections = stored.detections
        except FrameDecodeError as exc:
            failure = exc
            from tracking.engine.chunks import read_chunks

            detections = read_chunks(run_dir).detections
            stats = None
        sync.push()
    job_heartbeat(job=run, progress=0.96, message="Linking identities")
    if detections:
        result = build_trajectory(detections, n_animals=run.n_animals, params=params.identity)
        _store_result(run, result, stats)
    if failure is not None:
        TrackingRun.objects.filter(pk=run.pk).update(failed_at_frame=failure.frame)
        kept = f"; the {len(detections):,} frames before it are kept" if detections else ""
        job_finish(
            job=run,
            status=JobStatus.FAILED,
            error=f"The video stopped decoding at frame {failure.frame}: {failure.reason}{kept}.",
        )
        return
    note = f"; {stats.crop_disabled}" if getattr(stats, "crop_disabled", None) else ""
    job_finish(
        job=run,
        status=JobStatus.SUCCEEDED,
        message=f"Tracked {len(detections):,} frames at {stats.fps:.1f} frames/s{note}",
    )


def _store_result(run: TrackingRun, result: Any, stats: Any) -> None:
    from tracking.engine.exports.parquet import write_trajectory

    name = f"{_storage_prefix(run)}/trajectory.parquet"
    _check_alive(run)
    with scratch_tempdir() as tmp:
        local = Path(tmp) / "trajectory.parquet"
        write_trajectory(result.trajectory, local)
        digest = sha256_of_file(local)
        default_storage.delete(name)
        stored = store_file(local_path=local, name=name)
    params = dict(run.params, engine=result.params.to_dict())
    TrackingRun.objects.filter(pk=run.pk).update(
        trajectory=stored,
        trajectory_sha256=digest,
        trust=_jsonable(result.trust),
        suspected_swaps=[_jsonable(s) for s in result.suspected_swaps],
        timing=dict(
            _jsonable(stats) if stats is not None else {},
            identity=_jsonable(result.stats.get("appearance")),
        ),
        params=params,
        frames_done=result.trajectory.n_frames,
    )
    run.refresh_from_db()


def _jsonable(value: Any) -> Any:
    """Plain JSON data from the engine's dataclasses and NumPy scalars; NaN becomes null."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = value.to_dict() if hasattr(value, "to_dict") else dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
