"""The live loop: newest frame -> detect -> identities -> rules -> outputs (no Django).

:class:`LiveSession` runs in the process that owns the camera (the ``live`` queue's worker
or ``manage.py live``); nothing crosses a broker per frame. Per frame:

1. take the newest frame from the capture thread (:mod:`.sources`; older ones were dropped);
2. detect with the engine's dynamic cropping (:class:`~tracking.engine.cropping.DynamicCropper`:
   a window around the animals, the full frame when the window's result fails its checks);
3. identities (:class:`~.identity.OnlineIdentity`), rules (:class:`~.rules.RuleEngine`);
4. hand the events to the outputs (:class:`~.outputs.OutputHub`): **latency** is from the
   frame's capture timestamp to this moment, measured on every processed frame;
5. keep the frame and its detections (:mod:`.recording`, chunks), report status.

Lost tracking is *no data*: a frame without an animal, or no frame for ``stall_s`` (a
stalled camera), makes the rules emit ``no_data`` and the outputs go to their safe state. A
camera stalled for ``give_up_s``, or one that vanished, ends the session cleanly with what
was recorded. A watchdog thread puts the outputs in their safe state if the loop itself
stops beating for ``watchdog_s`` (a detector call that hangs).

Boxes: ``x1, y1, x2, y2`` original-video pixels.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tracking.engine.appearance import describe
from tracking.engine.chunks import ChunkWriter, DetectPath
from tracking.engine.cropping import (
    CropParams,
    DynamicCropper,
    extract,
    full_window,
    merge_window_boxes,
    to_frame,
)
from tracking.engine.runner import DetectParams, crop_params_for
from tracking.engine.trajectory import FrameDetections

from .identity import OnlineIdentity
from .outputs import Output, OutputHub, SentRecord
from .recording import EVENTS_NAME, VIDEO_NAME, EventLog, VideoRecorder
from .rules import NO_DATA, Event, Rule, RuleEngine, ZoneLike
from .sources import CameraSource, CaptureThread

log = logging.getLogger(__name__)

StatusCallback = Callable[[dict[str, Any], np.ndarray | None], None]


@dataclass(frozen=True)
class LiveParams:
    n_animals: int = 1
    detect: DetectParams = field(default_factory=DetectParams)
    crop: CropParams = field(default_factory=CropParams)
    stall_s: float = 1.0  # no frame for this long: no data, outputs safe
    give_up_s: float = 10.0  # no frame for this long: the session ends
    watchdog_s: float = 2.0  # the loop silent this long: outputs safe
    duration_s: float | None = None  # of recording; None: until stopped
    start_on_detection: bool = False  # record from the first frame with every animal
    chunk_frames: int = 300  # 10 s at 30 fps: what a killed process can lose at most
    record_video: bool = True
    status_interval_s: float = 0.5
    px_per_cm: float | None = None


@dataclass
class LiveSummary:
    frames_offered: int
    frames_processed: int
    frames_dropped: int
    frames_recorded: int
    latency_ms: dict[str, float | None]  # p50/p95/p99/mean/max: capture -> handed to outputs
    jitter_ms: float | None  # standard deviation of that latency
    frame_age_ms: dict[str, float | None]  # capture -> processing start (p50/p95)
    processing_fps: float
    events: int
    events_by_kind: dict[str, int]
    no_data_frames: int
    watchdog_fired: int
    output_dropped: int
    ended: str  # "stopped", "duration", "source ended", "camera vanished", "camera stalled"
    error: str | None
    duration_s: float
    run_dir: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect_frame(
    image: np.ndarray,
    time_s: float,
    detector: Any,
    cropper: DynamicCropper,
    dp: DetectParams,
    frame_size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, DetectPath]:
    """One frame through the engine's cropping (as the offline runner's batch of one):
    the windows ``cropper`` plans, else (or when their result fails the checks) the full
    frame. Returns float32 (K, 4) boxes, (K,) scores and how they were found; updates
    ``cropper``."""
    windows = cropper.plan(time_s)
    path = DetectPath.FULL
    found = None
    common = {"conf": dp.conf, "iou": dp.iou, "max_det": dp.max_det}
    if windows is not None:
        crops = [extract(image, w) for w in windows]
        results = detector.predict(crops, imgsz=windows[0].imgsz, batch_size=len(crops), **common)
        per_window = [
            to_frame(r.boxes_xywh, r.scores, w, frame_size)
            for r, w in zip(results, windows, strict=True)
        ]
        boxes, scores = merge_window_boxes(
            per_window, iou=dp.iou, windows=windows, frame_size=frame_size
        )
        if cropper.check(boxes, scores, windows) is None:
            found, path = (boxes, scores), DetectPath.CROP
        else:
            path = DetectPath.CROP_THEN_FULL
    if found is None:
        (result,) = detector.predict([image], imgsz=dp.imgsz, batch_size=1, **common)
        found = to_frame(
            result.boxes_xywh, result.scores, full_window(frame_size, dp.imgsz), frame_size
        )
    cropper.update(time_s, found[0], found[1], full=path != DetectPath.CROP)
    return found[0], found[1], path


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not len(values):
        return {"p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    a = np.asarray(values, np.float64)
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
        "mean": round(float(a.mean()), 3),
        "max": round(float(a.max()), 3),
    }


class LiveSession:
    """One live session over ``source`` with ``detector`` (``training.runtime.Detector``
    or anything with its ``predict``). :meth:`run` blocks until the session ends;
    :meth:`stop` (any thread) ends it. ``outputs`` are opened already; the session closes
    them (after their safe state). Everything kept goes to ``run_dir``: the chunks,
    ``recording.mp4``, ``events.jsonl`` and ``live.json`` (the summary)."""

    def __init__(
        self,
        source: CameraSource,
        detector: Any,
        *,
        params: LiveParams,
        rules: Sequence[Rule],
        zones: Sequence[ZoneLike],
        outputs: Sequence[Output],
        run_dir: Path,
        on_status: StatusCallback | None = None,
    ):
        self.source = source
        self.detector = detector
        self.params = params
        self.zones = list(zones)
        self.engine = RuleEngine(
            rules, zones, n_animals=params.n_animals, px_per_cm=params.px_per_cm
        )
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.on_status = on_status
        self._stop = threading.Event()
        self.stop_reason = "stopped"
        self._beat_ns = time.monotonic_ns()
        self._running = False
        self.watchdog_fired = 0
        self.origin_ns: int | None = None  # capture time of recorded frame 0
        self.events_log = EventLog(self.run_dir / EVENTS_NAME)
        self.hub = OutputHub(outputs, on_sent=self._log_sent)

    def stop(self, reason: str = "stopped") -> None:
        self.stop_reason = reason
        self._stop.set()

    def _log_sent(self, record: SentRecord) -> None:
        origin = self.origin_ns if self.origin_ns is not None else record.capture_ns
        self.events_log.write(record.to_dict(origin))

    def _watchdog(self) -> None:
        limit = int(self.params.watchdog_s * 1e9)
        while not self._stop.wait(min(0.2, self.params.watchdog_s / 4)):
            if self._running and time.monotonic_ns() - self._beat_ns > limit:
                if not self.hub.in_safe_state:
                    self.watchdog_fired += 1
                    log.warning("live loop silent for %.1f s: outputs safe", self.params.watchdog_s)
                self.hub.safe_state("watchdog: the tracking loop stopped")

    def run(self) -> LiveSummary:
        p = self.params
        frame_size = (int(self.source.size[0]), int(self.source.size[1]))
        crop, _ = crop_params_for(self.detector, p.crop)
        cropper = DynamicCropper(
            frame_size=frame_size, imgsz=p.detect.imgsz, n_animals=p.n_animals, params=crop
        )
        identity = OnlineIdentity(p.n_animals)
        writer = ChunkWriter(self.run_dir, chunk_frames=p.chunk_frames)
        recorder = (
            VideoRecorder(self.run_dir / VIDEO_NAME, size=frame_size, fps=self.source.fps)
            if p.record_video
            else None
        )
        capture = CaptureThread(self.source)
        watchdog = threading.Thread(target=self._watchdog, name="live-watchdog", daemon=True)
        latencies: list[float] = []
        ages: list[float] = []
        counts: dict[str, int] = {}
        recent: list[dict[str, Any]] = []
        processed = recorded = no_data_frames = 0
        last_status = 0.0
        last_frame_ns = time.monotonic_ns()
        started = time.monotonic()
        error: str | None = None
        ended = "stopped"
        describe_looks = p.n_animals > 1
        self._warm_up(frame_size)
        self._running = True
        capture.start()
        last_frame_ns = self._beat_ns = time.monotonic_ns()  # stalls count from here
        watchdog.start()
        try:
            while not self._stop.is_set():
                frame = capture.slot.take(timeout=min(p.stall_s, 0.25))
                self._beat_ns = time.monotonic_ns()
                if frame is None:
                    if capture.slot.ended:
                        error = capture.slot.error
                        ended = "camera vanished" if error else "source ended"
                        break
                    silent = (time.monotonic_ns() - last_frame_ns) / 1e9
                    if silent >= p.stall_s:
                        t = (time.monotonic_ns() - (self.origin_ns or last_frame_ns)) / 1e9
                        events = self.engine.no_frame(recorded, t)
                        self._hand(events, time.monotonic_ns(), counts, recent)
                        self.hub.safe_state("no data: the camera delivers no frames")
                    if silent >= p.give_up_s:
                        ended, error = "camera stalled", f"no frame for {silent:.1f} s"
                        break
                    continue
                last_frame_ns = frame.capture_ns
                start_ns = time.monotonic_ns()
                ages.append((start_ns - frame.capture_ns) / 1e6)
                t_abs = (frame.capture_ns - (self.origin_ns or frame.capture_ns)) / 1e9
                boxes, scores, path = detect_frame(
                    frame.image, t_abs, self.detector, cropper, p.detect, frame_size
                )
                processed += 1
                assigned = identity.assign(boxes, scores)
                if self.origin_ns is None:
                    if p.start_on_detection and not np.isfinite(assigned).all():
                        continue  # the trial starts with the animals in view
                    self.origin_ns = frame.capture_ns
                time_s = (frame.capture_ns - self.origin_ns) / 1e9
                centres = np.stack(
                    [(assigned[:, 0] + assigned[:, 2]) / 2, (assigned[:, 1] + assigned[:, 3]) / 2],
                    axis=1,
                )
                events = self.engine.step(recorded, time_s, centres)
                handed = self._hand(events, frame.capture_ns, counts, recent)
                latencies.append((handed - frame.capture_ns) / 1e6)
                if any(e.kind == NO_DATA for e in events):
                    self.hub.safe_state("no data: tracking lost")
                if not np.isfinite(assigned).all():
                    no_data_frames += 1
                looks = describe(frame.image, boxes) if describe_looks else None
                writer.add(FrameDetections(recorded, time_s, boxes, scores, looks), path)
                if recorder is not None:
                    recorder.add(frame.image, time_s)
                recorded += 1
                now = time.monotonic()
                if self.on_status is not None and now - last_status >= p.status_interval_s:
                    last_status = now
                    self.on_status(
                        self._status(
                            recorded,
                            time_s,
                            assigned,
                            capture,
                            processed,
                            latencies,
                            counts,
                            recent,
                        ),
                        frame.image,
                    )
                if p.duration_s is not None and time_s >= p.duration_s:
                    ended = "duration"
                    break
            else:
                ended = self.stop_reason
        except BaseException as e:
            error = str(e) or type(e).__name__
            ended = "failed"
            raise
        finally:
            self._running = False
            self._stop.set()
            capture.stop()
            self.hub.close()
            writer.flush()
            if recorder is not None:
                recorder.close()
                if recorder.error and error is None:
                    error = f"the recording failed: {recorder.error}"
            self.events_log.close()
            watchdog.join(timeout=2)
        elapsed = time.monotonic() - started
        summary = LiveSummary(
            frames_offered=capture.slot.offered,
            frames_processed=processed,
            frames_dropped=capture.slot.offered - processed,
            frames_recorded=recorded,
            latency_ms=percentiles(latencies),
            jitter_ms=round(float(np.std(latencies)), 3) if latencies else None,
            frame_age_ms={k: v for k, v in percentiles(ages).items() if k in ("p50", "p95")},
            processing_fps=round(processed / elapsed, 2) if elapsed > 0 else 0.0,
            events=sum(counts.values()),
            events_by_kind=dict(counts),
            no_data_frames=no_data_frames,
            watchdog_fired=self.watchdog_fired,
            output_dropped=self.hub.dropped,
            ended=ended,
            error=error,
            duration_s=round(elapsed, 3),
            run_dir=str(self.run_dir),
        )
        (self.run_dir / "live.json").write_text(json.dumps(summary.to_dict(), indent=1))
        return summary

    def _warm_up(self, frame_size: tuple[int, int]) -> None:
        """A few calls on a blank frame before the camera starts: a model's first calls
        allocate and compile (seconds on a CPU), and frames captured meanwhile would only
        be dropped and count against the session's latency."""
        blank = np.zeros((frame_size[1], frame_size[0], 3), np.uint8)
        dp = self.params.detect
        for _ in range(3):
            self.detector.predict(
                [blank], imgsz=dp.imgsz, conf=dp.conf, iou=dp.iou, max_det=dp.max_det,
                batch_size=1,
            )  # fmt: skip

    def _hand(
        self,
        events: list[Event],
        capture_ns: int,
        counts: dict[str, int],
        recent: list[dict[str, Any]],
    ) -> int:
        # Rules' events go to the outputs; the session's own (no data, data back) only to
        # the log: losing the animal must not pulse a TTL (the safe state follows instead).
        handed = self.hub.hand([e for e in events if e.rule is not None], capture_ns=capture_ns)
        for event in events:
            if event.rule is None:
                record = SentRecord(None, event.to_dict(), capture_ns, handed, handed)
                self._log_sent(record)
            counts[event.kind] = counts.get(event.kind, 0) + 1
            recent.append(event.to_dict())
        del recent[:-20]
        return handed

    def _status(
        self,
        frame: int,
        time_s: float,
        assigned: np.ndarray,
        capture: CaptureThread,
        processed: int,
        latencies: list[float],
        counts: dict[str, int],
        recent: list[dict[str, Any]],
    ) -> dict[str, Any]:
        animals = self.engine.current()
        for row, box in zip(animals, assigned, strict=True):
            row["box"] = [round(float(v), 1) for v in box] if np.isfinite(box).all() else None
        return {
            "frame": frame,
            "time_s": round(time_s, 3),
            "size": list(self.source.size),
            "animals": animals,
            "frames_offered": capture.slot.offered,
            "frames_processed": processed,
            "frames_dropped": capture.slot.offered - processed,
            "latency_ms": percentiles(latencies[-300:]),
            "events": sum(counts.values()),
            "recent_events": list(recent[-10:]),
            "safe_state": self.hub.in_safe_state,
        }
