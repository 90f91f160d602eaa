"""Track a whole video: decode -> (crop) -> detect in batches -> chunks -> trajectory.

Pure Python, no Django import; the Celery task wraps :func:`track_video`.

- Decoding runs ahead in a thread (:class:`tracking.engine.frames.ReadAhead`) through a
  bounded queue, so it overlaps inference and memory stays flat however long the video.
- Detection runs on the whole frame, or on a window around the animals
  (:mod:`tracking.engine.cropping`). A detector whose network input is fixed (a static ONNX
  export: ``fixed_input_hw`` set) would letterbox every window to that one size, showing the
  animals at another scale than the full frame does; cropping is then turned off, with the
  reason logged and kept in :attr:`RunStats.crop_disabled`. ``batch_size`` frames go to the
  detector per call; a batch shares its windows (one per animal, or one around all; all of
  one size, so the crops of a batch, every window of every frame, go in one call and
  batch on a GPU). On a CPU batch 1 is as fast and lets every frame's window follow the
  last frame.
- Per-frame detections are stored in chunks (:mod:`tracking.engine.chunks`). A second call
  with the same run directory skips the frames stored already: the source is asked to
  start after them (``OpenCVSource`` still decodes from frame 0, grabbing and dropping; at
  ~20x the speed of inference that costs little) and the cropping state is rebuilt from the
  stored frames, so an interrupted and resumed run gives what one uninterrupted run gives.
- Whatever stops the run (an exception from ``on_progress`` such as a cancel or a lost
  heartbeat, a decode failure, a detector error) first writes the frames already detected
  as a complete chunk, then propagates. A decode failure arrives as
  :class:`~tracking.engine.frames.FrameDecodeError` naming the first frame not decoded.
- At the end the colleague module ``tracking.engine.identity.build_trajectory`` turns the
  detections into a :class:`~tracking.engine.trajectory.Trajectory`.

Boxes are ``x1, y1, x2, y2`` in original-video pixels (see ``trajectory.py``).
"""

from __future__ import annotations

import importlib.util
import logging
import queue
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .appearance import describe
from .chunks import (
    ChunkWriter,
    DetectPath,
    StoredDetections,
    check_manifest,
    covered_frames,
    read_chunks,
)
from .cropping import (
    CropParams,
    DynamicCropper,
    extract,
    full_window,
    merge_window_boxes,
    to_frame,
)
from .frames import DecodedFrame, FrameDecodeError, FrameSource, ReadAhead
from .trajectory import FrameDetections, FrameDetector

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None, float, float | None], None]


@dataclass(frozen=True)
class DetectParams:
    """How the detector is called; ``imgsz`` is the full frame's input size."""

    imgsz: int = 320
    conf: float = 0.25
    iou: float = 0.7
    max_det: int = 100
    batch_size: int = 1  # 1 on a CPU; 16-64 whole frames on a GPU


@dataclass(frozen=True)
class TrackParams:
    detect: DetectParams = field(default_factory=DetectParams)
    crop: CropParams = field(default_factory=CropParams)
    chunk_frames: int = 1000  # frames per stored chunk (what a crash can cost at most)
    queue_frames: int = 32  # decoded frames waiting for the detector, at most...
    queue_bytes: int = 256 * 2**20  # ...and at most this much memory (4K frames are 25 MB)
    progress_interval_s: float = 1.0
    identity: Any = None  # tracking.engine.params.TrackingParams for build_trajectory


@dataclass(frozen=True)
class RunStats:
    """Timing of one call. ``frames_processed`` were detected in this call,
    ``frames_resumed`` came from chunks an earlier call wrote."""

    frames: int
    frames_processed: int
    frames_resumed: int
    wall_s: float
    fps: float  # frames_processed / wall_s, decode included
    decode_fps: float  # frames / seconds inside the frame source (in the reader thread)
    inference_fps: float  # frames_processed / seconds inside detector calls
    crop_share: float  # of processed frames, those whose detections came from a window
    full_reruns: int  # windows that failed the checks and were run again on the full frame
    fallbacks: dict[str, int]  # why, by reason
    latency_ms_mean: float  # from a frame's batch going to the detector to its detections
    latency_ms_p95: float
    crop_disabled: str | None = None  # why cropping was asked for and not done


@dataclass(frozen=True)
class RunResult:
    detections: list[FrameDetections]
    paths: np.ndarray  # int8 (F,) of DetectPath
    tracking: Any  # tracking.engine.pipeline.TrackResult (trajectory, swaps, trust), or None
    stats: RunStats


def build_trajectory(detections: Sequence[FrameDetections], *, n_animals: int, params: Any) -> Any:
    """Identities, gaps, swaps and trust from the detections: the identity pipeline's job.

    The one place the run loop hands over to it, ``tracking.engine.pipeline.build_trajectory``
    (its ``TrackResult``; ``params=None``: its defaults). Returns ``None`` where that module
    is absent (it is being written alongside). It imports Ultralytics' trackers: the caller
    must have done the offline set-up.
    """
    if importlib.util.find_spec("tracking.engine.pipeline") is None:
        return None
    from . import pipeline

    return pipeline.build_trajectory(detections, n_animals=n_animals, params=params)


def detect_video(
    source: FrameSource,
    detector: FrameDetector,
    *,
    n_animals: int,
    params: TrackParams,
    run_dir: Path,
    on_progress: ProgressCallback | None = None,
    run_key: Mapping[str, Any] | None = None,
) -> tuple[StoredDetections, RunStats]:
    """Detect in every frame of ``source`` not yet stored in ``run_dir``; return all frames'
    detections (read back from the chunks) and this call's timing.

    ``run_key``: plain JSON data identifying the video and model (ids, checksums); stored
    with the settings, a run directory made for anything else is refused.
    """
    if n_animals < 1:
        raise ValueError("n_animals must be at least 1")
    dp = params.detect
    if dp.batch_size < 1 or dp.imgsz < 32 or dp.imgsz % 32:
        raise ValueError("batch_size must be >= 1 and imgsz a multiple of 32")
    run_dir = Path(run_dir)
    check_manifest(run_dir, _manifest(source, n_animals, params, run_key))
    started = time.perf_counter()
    frame_size = (int(source.size[0]), int(source.size[1]))
    crop, crop_disabled = crop_params_for(detector, params.crop)
    cropper = DynamicCropper(
        frame_size=frame_size, imgsz=dp.imgsz, n_animals=n_animals, params=crop
    )
    resumed = covered_frames(run_dir)
    if resumed:
        for det, path in zip(*_restore_from(run_dir), strict=True):
            cropper.update(det.time_s, det.boxes_xyxy, det.scores, full=path != DetectPath.CROP)
    writer = ChunkWriter(run_dir, chunk_frames=params.chunk_frames)
    state = _Progress(
        on_progress, total=source.frame_count, done=resumed, interval=params.progress_interval_s
    )
    timing = _Timing()
    next_frame = resumed
    batch: list[DecodedFrame] = []

    # One animal has no one to be told apart from: no descriptors.
    describe_looks = n_animals > 1

    def run_batch() -> None:
        for det, path in _detect_batch(
            batch, detector, cropper, dp, frame_size, timing, describe_looks=describe_looks
        ):
            writer.add(det, path)
        state.done += len(batch)
        batch.clear()

    frame_bytes = max(1, frame_size[0] * frame_size[1] * 3)
    queue_size = max(2, min(params.queue_frames, params.queue_bytes // frame_bytes))
    reader = ReadAhead(source.frames(start=resumed), maxsize=queue_size)
    try:
        while True:
            try:
                frame = reader.get(timeout=state.wait())
            except queue.Empty:
                state.report()  # decoding is slow or stuck: still report (and heartbeat)
                continue
            except FrameDecodeError:
                run_batch()  # frames decoded before the failure are kept
                raise
            except Exception as e:
                run_batch()
                raise FrameDecodeError(next_frame, str(e) or type(e).__name__) from e
            if frame is None:
                break
            if frame.index < resumed:  # a source that ignores start=: drop what is stored
                state.report_if_due()
                continue
            if frame.index != next_frame:
                run_batch()
                raise FrameDecodeError(next_frame, f"the source skipped to frame {frame.index}")
            next_frame += 1
            batch.append(frame)
            if len(batch) >= dp.batch_size:
                run_batch()
                state.report_if_due()
        run_batch()
        writer.flush()
        state.report(force=True)
    except BaseException:
        try:
            writer.flush()  # only whole chunks on disk, and none of the work lost
        except Exception:
            log.exception("could not store the last frames of %s", run_dir)
        raise
    finally:
        reader.close()

    stored = read_chunks(run_dir)
    if stored.n_frames != next_frame:
        raise RuntimeError(f"{run_dir}: {stored.n_frames} frames stored, {next_frame} detected")
    processed = next_frame - resumed
    wall = time.perf_counter() - started
    cropped = timing.paths[DetectPath.CROP]
    latencies = np.asarray(timing.latencies_s or [0.0]) * 1000
    stats = RunStats(
        frames=stored.n_frames,
        frames_processed=processed,
        frames_resumed=resumed,
        wall_s=wall,
        fps=processed / wall if wall > 0 else 0.0,
        decode_fps=reader.stats.frames / reader.stats.decode_s if reader.stats.decode_s else 0.0,
        inference_fps=processed / timing.inference_s if timing.inference_s else 0.0,
        crop_share=cropped / processed if processed else 0.0,
        full_reruns=timing.paths[DetectPath.CROP_THEN_FULL],
        fallbacks=dict(timing.reasons),
        latency_ms_mean=float(latencies.mean()),
        latency_ms_p95=float(np.percentile(latencies, 95)),
        crop_disabled=crop_disabled,
    )
    return stored, stats


def crop_params_for(detector: Any, crop: CropParams) -> tuple[CropParams, str | None]:
    """The cropping ``detector`` allows: ``crop`` itself, or cropping off and why.

    A window is only worth running when the model sees it at the full frame's scale, on an
    input of the window's own size. A model with a fixed input (``fixed_input_hw``, a static
    ONNX export) letterboxes every image to that size: a window would be blown up (other
    boxes than the full frame's) and cost as much as the full frame. So no cropping there.
    """
    fixed = getattr(detector, "fixed_input_hw", None)
    if not crop.enabled or fixed is None:
        return crop, None
    height, width = fixed
    reason = (
        f"the model's input is fixed at {width}x{height} (a static ONNX export): windows would "
        "be resized to it, at another scale than the full frame; dynamic cropping is off "
        "(export the model with dynamic shapes to crop)"
    )
    log.warning("tracking without dynamic cropping: %s", reason)
    return replace(crop, enabled=False), reason


def track_video(
    source: FrameSource,
    detector: FrameDetector,
    *,
    n_animals: int,
    params: TrackParams,
    run_dir: Path,
    on_progress: ProgressCallback | None = None,
    run_key: Mapping[str, Any] | None = None,
) -> RunResult:
    """Detections of every frame of ``source``, then the trajectory of ``n_animals`` animals.

    ``on_progress(frames_done, frames_total, fps, eta_s)`` is called at least every
    ``params.progress_interval_s`` (``frames_total`` and ``eta_s`` may be ``None`` where the
    frame count is unknown); an exception it raises stops the run after the detected frames
    are stored. Calling again with the same ``run_dir`` resumes.
    """
    stored, stats = detect_video(
        source,
        detector,
        n_animals=n_animals,
        params=params,
        run_dir=run_dir,
        on_progress=on_progress,
        run_key=run_key,
    )
    tracking = build_trajectory(stored.detections, n_animals=n_animals, params=params.identity)
    return RunResult(
        detections=stored.detections, paths=stored.paths, tracking=tracking, stats=stats
    )


# --------------------------------------------------------------------------------------------


@dataclass
class _Timing:
    inference_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    paths: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)


def _detect_batch(
    frames: list[DecodedFrame],
    detector: FrameDetector,
    cropper: DynamicCropper,
    dp: DetectParams,
    frame_size: tuple[int, int],
    timing: _Timing,
    *,
    describe_looks: bool = False,
) -> list[tuple[FrameDetections, DetectPath]]:
    """Detect in a batch of consecutive frames: on the windows ``cropper`` plans (then again
    on the full frame for the frames whose window result fails its checks), or on the full
    frames; update ``cropper`` frame by frame. With ``describe_looks`` each box also gets
    its appearance descriptor, taken from the full-resolution frame."""
    if not frames:
        return []
    started = time.perf_counter()
    windows = cropper.plan(frames[0].time_s)
    found: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(frames)
    paths = [DetectPath.FULL] * len(frames)
    if windows is not None:
        # Every window of every frame in one call: they share one input size.
        crops = [extract(f.image, w) for f in frames for w in windows]
        results = _predict(detector, crops, windows[0].imgsz, dp, timing)
        k = len(windows)
        for i in range(len(frames)):
            mine = results[i * k : (i + 1) * k]
            per_window = [
                to_frame(r.boxes_xywh, r.scores, w, frame_size)
                for r, w in zip(mine, windows, strict=True)
            ]
            boxes, scores = merge_window_boxes(
                per_window, iou=dp.iou, windows=windows, frame_size=frame_size
            )
            reason = cropper.check(boxes, scores, windows)
            if reason is None:
                found[i], paths[i] = (boxes, scores), DetectPath.CROP
            else:
                paths[i] = DetectPath.CROP_THEN_FULL
                timing.reasons[reason] += 1
    redo = [i for i, f in enumerate(found) if f is None]
    if redo:
        full = full_window(frame_size, dp.imgsz)
        images = [frames[i].image for i in redo]
        for i, result in zip(redo, _predict(detector, images, dp.imgsz, dp, timing), strict=True):
            found[i] = to_frame(result.boxes_xywh, result.scores, full, frame_size)
    out = []
    for frame, (boxes, scores), path in zip(frames, found, paths, strict=True):  # type: ignore[misc]
        cropper.update(frame.time_s, boxes, scores, full=path != DetectPath.CROP)
        timing.paths[path] += 1
        looks = describe(frame.image, boxes) if describe_looks else None
        out.append((FrameDetections(frame.index, frame.time_s, boxes, scores, looks), path))
    elapsed = time.perf_counter() - started
    timing.latencies_s.extend([elapsed] * len(frames))
    return out


def _predict(
    detector: FrameDetector,
    images: list[np.ndarray],
    imgsz: int,
    dp: DetectParams,
    timing: _Timing,
) -> list[Any]:
    started = time.perf_counter()
    results = detector.predict(
        images,
        imgsz=imgsz,
        conf=dp.conf,
        iou=dp.iou,
        max_det=dp.max_det,
        batch_size=max(1, len(images)),
    )
    timing.inference_s += time.perf_counter() - started
    if len(results) != len(images):
        raise RuntimeError(f"the detector returned {len(results)} results for {len(images)} images")
    return list(results)


def _restore_from(run_dir: Path) -> tuple[list[FrameDetections], np.ndarray]:
    stored = read_chunks(run_dir)
    return stored.detections, stored.paths


def _manifest(
    source: FrameSource, n_animals: int, params: TrackParams, run_key: Mapping[str, Any] | None
) -> dict[str, Any]:
    """What stored detections depend on; chunk size, queue and progress settings don't."""
    return {
        "format": 1,
        "n_animals": n_animals,
        "detect": asdict(params.detect),
        "crop": asdict(params.crop),
        "video": {"size": list(source.size), "fps": round(float(source.fps), 6)},
        "key": dict(run_key or {}),
    }


class _Progress:
    """Calls ``on_progress`` at most and at least every ``interval`` seconds."""

    def __init__(self, callback: ProgressCallback | None, *, total, done: int, interval: float):
        self.callback = callback
        self.total = total
        self.done = self.first = done
        self.interval = interval
        self.started = self.last = time.perf_counter()

    def wait(self) -> float:
        return max(0.01, self.interval - (time.perf_counter() - self.last))

    def report_if_due(self) -> None:
        if time.perf_counter() - self.last >= self.interval:
            self.report()

    def report(self, force: bool = False) -> None:
        now = time.perf_counter()
        self.last = now
        if self.callback is None:
            return
        elapsed = now - self.started
        fps = (self.done - self.first) / elapsed if elapsed > 0 else 0.0
        total = self.total if self.total is None else max(self.total, self.done)
        if force:
            total = self.done  # the real count, whatever the header said
        eta = None if total is None or fps <= 0 else (total - self.done) / fps
        self.callback(self.done, total, fps, 0.0 if force else eta)
