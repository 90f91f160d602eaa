"""Running an evaluation on a ``gpu`` worker (what :mod:`evaluation.tasks` and
``manage.py evaluate`` call).

``evaluation_run_execute`` claims the run, runs the model over the split's frames
(:mod:`evaluation.inference`), scores the detections with :mod:`evaluation.metrics` and
stores metrics, timing and one FramePrediction per frame.
"""

from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.db import transaction

from labeling.models import DatasetVersion, Frame
from training.ultralytics_setup import release_memory
from webapp.jobs import JobCancelled, JobRun, job_heartbeat, job_run
from webapp.models import JobStatus
from webapp.storage import local_copy, scratch_dir

from .inference import run_inference, timing_summary
from .metrics import DetectionBox, GroundTruthBox, ImageSummary, evaluate_detections
from .models import EvaluationRun, FramePrediction
from .services import FALLBACK_NOTE

log = logging.getLogger(__name__)


class EvaluationError(Exception):
    """The run cannot be done as asked (missing files, broken manifest); shown to the user."""


def evaluation_run_execute(*, run_id: int) -> None:
    """Run an evaluation in this process (:data:`evaluation.jobs.EVALUATION`). Safe to run
    twice: a second delivery finds the run claimed or finished; a retry after a crash
    starts over."""
    from .jobs import EVALUATION  # the kinds module imports this one

    job_run(EVALUATION, job_id=run_id)


def evaluation_run_work(job_run_: JobRun) -> str:
    """Infer, score, store; the success message."""
    return _evaluate(job_run_.job, job_run_)


def evaluation_run_abandon(job_run_: JobRun) -> None:
    """A run that did not finish keeps no half-written predictions."""
    FramePrediction.objects.filter(run_id=job_run_.job.pk).delete()


def evaluation_run_after(job_run_: JobRun) -> None:
    release_memory()


def _inference_beat(job_run_: JobRun):
    def beat(done: int, total: int) -> None:
        job_run_.beat(
            progress=0.05 + 0.85 * done / max(total, 1),
            message=f"Inference: {done}/{total} frames",
            force=done == total,
        )

    return beat


def _load_manifest(dataset_version: DatasetVersion) -> dict:
    try:
        with local_copy(dataset_version.manifest.name, suffix=".json") as path:
            manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, SuspiciousFileOperation, ValueError, OSError) as exc:
        raise EvaluationError(
            f"The manifest of dataset version “{dataset_version.name}” cannot be read ({exc})."
        ) from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("frames"), list):
        raise EvaluationError(f"The manifest of “{dataset_version.name}” has no frame list.")
    return manifest


def _frames_of_split(manifest: dict, split: str) -> list[dict]:
    frames = []
    for n, frame in enumerate(manifest["frames"]):
        if not isinstance(frame, dict):
            raise EvaluationError(f"Manifest frames[{n}] is not an object.")
        if split != "all" and frame.get("split") != split:
            continue
        try:
            boxes = [
                GroundTruthBox(
                    int(b["class_index"]),
                    float(b["x"]),
                    float(b["y"]),
                    float(b["w"]),
                    float(b["h"]),
                )
                for b in frame.get("boxes") or []
            ]
            frames.append(
                {
                    "frame_id": frame["frame_id"],
                    "image": str(frame["image"]),
                    "boxes": boxes,
                }
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EvaluationError(f"Manifest frames[{n}] is malformed ({exc}).") from exc
    return frames


def _evaluate(run: EvaluationRun, job_run_: JobRun) -> str:
    """The work of one run; returns the summary message. Raises EvaluationError."""
    from training.runtime import CheckpointError, model_info
    from training.ultralytics_setup import configure_offline

    configure_offline(Path(settings.VAR_DIR))
    FramePrediction.objects.filter(run_id=run.pk).delete()  # a retry starts over
    job_heartbeat(job=run, progress=0.0, message="Reading the dataset version")
    version = run.dataset_version
    frames = _frames_of_split(_load_manifest(version), run.split)
    if not frames:
        raise EvaluationError(f"The {run.split} split of “{version.name}” has no frames.")
    model = run.model
    class_map = {int(k): int(v) for k, v in run.class_map.items()}
    with ExitStack() as stack:
        try:
            weights = stack.enter_context(local_copy(model.weights.name, suffix=".pt"))
            images = [stack.enter_context(local_copy(f["image"])) for f in frames]
        except (FileNotFoundError, SuspiciousFileOperation, OSError) as exc:
            raise EvaluationError(f"A file of the model or dataset is missing ({exc}).") from exc
        if not Path(weights).is_file():
            raise EvaluationError(f"The weights of model “{model.name}” are missing.")
        for frame, path in zip(frames, images, strict=True):
            if not Path(path).is_file():
                raise EvaluationError(f"The image of frame {frame['frame_id']} is missing.")
        try:
            result = run_inference(
                Path(weights),
                [Path(p) for p in images],
                imgsz=run.imgsz,
                class_map=class_map,
                device=run.device or "auto",
                threads=settings.CPU_THREADS,
                onnx_cache_dir=scratch_dir("onnx-cache"),
                on_image=_inference_beat(job_run_),
            )
            info = model_info(Path(weights), run.imgsz)
        except CheckpointError as exc:
            raise EvaluationError(str(exc)) from exc
        size = Path(weights).stat().st_size

    job_heartbeat(job=run, progress=0.92, message="Scoring")
    ground_truth = {f["frame_id"]: f["boxes"] for f in frames}
    detections = {f["frame_id"]: d for f, d in zip(frames, result.detections, strict=True)}
    try:
        scored = evaluate_detections(
            ground_truth,
            detections,
            iou_threshold=run.iou_threshold,
            conf_threshold=run.conf_threshold,
            class_names=list(version.classes),
        )
    except ValueError as exc:  # e.g. a manifest box of a class the version does not name
        raise EvaluationError(f"The dataset version cannot be scored: {exc}") from exc

    existing = set(
        Frame.all_objects.filter(
            project_id=version.project_id, pk__in=list(ground_truth)
        ).values_list("pk", flat=True)
    )
    predictions = [
        _frame_prediction(
            run,
            frame_id=f["frame_id"],
            detections=d,
            truth=f["boxes"],
            summary=scored.per_image[f["frame_id"]],
            inference_ms=ms,
        )
        for f, d, ms in zip(frames, result.detections, result.inference_ms, strict=True)
        if f["frame_id"] in existing
    ]
    timing = timing_summary(result.inference_ms, result.total_ms, total_s=result.total_s)
    timing.update(
        device=result.device,
        device_name=result.device_name,
        warmup_images=result.warmup_images,
        imgsz=run.imgsz,
        backend=result.backend,
    )
    metrics = scored.to_dict()
    with transaction.atomic():
        # Deleted or given up on by the stale check meanwhile: store nothing.
        if not (
            EvaluationRun.objects.select_for_update()
            .filter(pk=run.pk, status=JobStatus.RUNNING)
            .exists()
        ):
            raise JobCancelled()
        FramePrediction.objects.bulk_create(predictions, batch_size=500)
        run.metrics, run.timing = metrics, timing
        run.device = result.device
        run.frame_count = len(frames)
        run.parameters, run.gflops, run.model_size_bytes = info.parameters, info.gflops, size
        run.save(
            update_fields=[
                "metrics",
                "timing",
                "device",
                "frame_count",
                "parameters",
                "gflops",
                "model_size_bytes",
            ]
        )
    parts = [
        f"{len(frames)} {run.split} frames",
        _fmt("mAP50 (VOC 11-pt)", metrics.get("map50_voc11")),
        _fmt("F1", metrics.get("f1")),
        f"{timing['per_image_ms_mean']:.1f} ± {timing['per_image_ms_std']:.1f} ms/image "
        f"on {result.device}",
    ]
    if len(existing) < len(frames):
        parts.append(f"{len(frames) - len(existing)} frames deleted since the version was made")
    prefix = FALLBACK_NOTE + " " if run.requested_split and run.requested_split != run.split else ""
    return prefix + "; ".join(parts) + "."


def _fmt(label: str, value: float | None) -> str:
    return f"{label} {'n/a' if value is None else f'{value:.3f}'}"


def _frame_prediction(
    run: EvaluationRun,
    *,
    frame_id: int,
    detections: list[DetectionBox],
    truth: list[GroundTruthBox],
    summary: ImageSummary,
    inference_ms: float,
) -> FramePrediction:
    """Keep the detections at the operating point, each with its match, and the truth."""
    matched = {m.detection_index: m for m in summary.matches}
    hit = {m.ground_truth_index for m in summary.matches}
    kept = sorted(
        (i for i, d in enumerate(detections) if d.score >= run.conf_threshold),
        key=lambda i: -detections[i].score,
    )
    boxes = [
        {
            "class_index": detections[i].class_index,
            "x": round(detections[i].x, 2),
            "y": round(detections[i].y, 2),
            "w": round(detections[i].w, 2),
            "h": round(detections[i].h, 2),
            "score": round(detections[i].score, 4),
            "match": matched[i].ground_truth_index if i in matched else -1,
            "iou": round(matched[i].iou, 4) if i in matched else 0.0,
        }
        for i in kept
    ]
    ground_truth = [
        {"class_index": g.class_index, "x": g.x, "y": g.y, "w": g.w, "h": g.h, "matched": j in hit}
        for j, g in enumerate(truth)
    ]
    return FramePrediction(
        run=run,
        frame_id=frame_id,
        boxes=boxes,
        ground_truth=ground_truth,
        inference_ms=round(inference_ms, 4),
        true_positives=summary.true_positives,
        false_positives=summary.false_positives,
        misses=summary.misses,
        min_iou=summary.min_iou,
        error_count=summary.false_positives + summary.misses,
    )
