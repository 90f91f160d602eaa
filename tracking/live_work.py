"""A live session on the camera machine: the ``live`` queue's work (and ``manage.py live``).

:func:`live_session_work` opens the camera, the model and the outputs, checks the zones
against the real frame, runs :class:`tracking.live.session.LiveSession` until it is stopped
or ends, then keeps what it recorded:

- the recording becomes a video of the project and its detections an ordinary
  :class:`~tracking.models.TrackingRun`: the chunks are put in the run's scratch folder,
  where the tracking worker (:func:`tracking.run_work.tracking_run_execute`, run here at
  once) finds every frame detected already, stores them and builds the trajectory as for
  any run (same run page, exports, behaviour analysis);
- the event log (JSONL) is stored with the session, downloadable from the run's page.

Nothing of the loop touches the database: a reporter thread copies the loop's latest
status (and a small JPEG preview) to the row about twice a second, beats the heartbeat and
turns a stop request into :meth:`LiveSession.stop`.
"""

from __future__ import annotations

import base64
import logging
import shutil
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection
from django.utils import timezone

from labeling.models import Video
from labeling.videos.services import IncomingFile, video_local_path, video_upload
from webapp.job_scratch import job_scratch_folder
from webapp.jobs import JobCancelled, JobFailed, JobRun, job_finish, job_heartbeat, job_run
from webapp.models import JobStatus
from webapp.storage import local_copy, scratch_dir, store_file

from .models import LiveSession, TrackingRun

log = logging.getLogger(__name__)
PREVIEW_WIDTH = 480
CAMERA_ENDINGS = ("camera vanished", "camera stalled")


def live_session_execute(*, session_id: int) -> None:
    """Claim the session and run it (:data:`tracking.jobs.LIVE`)."""
    from .jobs import LIVE  # the kinds module imports this one

    job_run(LIVE, job_id=session_id)


class _Reporter:
    """Copies the loop's status to the row, beats the heartbeat, relays a stop."""

    def __init__(self, session: LiveSession, interval_s: float = 0.5):
        self.session = session
        self.interval = interval_s
        self.live: Any = None
        self._latest: tuple[dict, np.ndarray | None] | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-reporter", daemon=True)

    def update(self, status: dict[str, Any], image: np.ndarray | None) -> None:
        """The loop's status callback: only keeps the newest (no database here)."""
        with self._lock:
            self._latest = (status, image)

    def start(self, live: Any) -> None:
        self.live = live
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._done.wait(self.interval):
                self._report()
        finally:
            connection.close()  # this thread's own connection

    def _report(self) -> None:
        with self._lock:
            latest, self._latest = self._latest, None
        try:
            message = None
            if latest is not None:
                status, image = latest
                if image is not None:
                    status = dict(status, preview=_jpeg(image))
                LiveSession.objects.filter(pk=self.session.pk).update(state=status)
                p95 = (status.get("latency_ms") or {}).get("p95")
                message = (
                    f"Live: frame {status['frame']:,} · {status['frames_dropped']:,} dropped · "
                    f"latency p95 {p95:.0f} ms · {status['events']:,} events"
                    if p95 is not None
                    else None
                )
            job_heartbeat(job=self.session, message=message)
        except JobCancelled:
            self.live.stop("stopped")
        except DatabaseError:
            log.warning("live session %s: could not report (database busy)", self.session.pk)

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=10)


def _jpeg(image: np.ndarray) -> str:
    import cv2

    h, w = image.shape[:2]
    if w > PREVIEW_WIDTH:
        image = cv2.resize(image, (PREVIEW_WIDTH, round(h * PREVIEW_WIDTH / w)))
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 70])
    return base64.b64encode(data.tobytes()).decode() if ok else ""


def live_session_work(job_run_: JobRun) -> str | None:
    """Run the session to its end and keep what it recorded (see the module docstring)."""
    from tracking.live.config import SetupError, parse_setup
    from tracking.live.outputs import OutputError, build_outputs
    from tracking.live.session import LiveSession as Loop
    from tracking.live.sources import SourceError, open_source
    from training.runtime import Detector
    from training.ultralytics_setup import configure_offline

    session: LiveSession = job_run_.job
    if session.attempts > 1:
        raise JobFailed(
            "The process that owned the camera was lost; a live session is a trial and is "
            "not started again on its own: start a new one."
        )
    configure_offline(Path(settings.VAR_DIR))
    run_dir = job_scratch_folder(session)
    p = session.params
    with ExitStack() as stack:
        spec = session.source
        if spec.startswith("video:"):
            video = Video.objects.get(pk=int(spec.split(":", 1)[1]))
            spec = str(stack.enter_context(video_local_path(video=video)))
        try:
            source = open_source(spec, paced=session.paced)
        except SourceError as e:
            raise JobFailed(f"The camera could not be opened: {e}") from None
        stack.callback(source.close)  # on every way out (the loop closes it too)
        try:
            setup = parse_setup(session.setup, frame_size=source.size, n_animals=session.n_animals)
        except SetupError as e:
            raise JobFailed(f"setup.{e.field}: {e.reason}") from None
        weights = stack.enter_context(local_copy(session.model.weights.name))
        detector = Detector(
            weights,
            device=p.get("device", "auto"),
            backend=p.get("backend", "auto"),
            threads=settings.CPU_THREADS,
            onnx_cache_dir=scratch_dir("onnx-cache"),
        )
        try:
            outputs = build_outputs(setup.outputs)
        except OutputError as e:
            raise JobFailed(str(e)) from None
        params = live_params(session, px_per_cm=setup.px_per_cm)
        reporter = _Reporter(session)
        loop = Loop(
            source,
            detector,
            params=params,
            rules=setup.rules,
            zones=setup.zones,
            outputs=outputs,
            run_dir=run_dir,
            on_status=reporter.update,
        )
        job_heartbeat(job=session, message=f"Live on {session.source} ({detector.device_name})")
        reporter.start(loop)
        summary = None
        try:
            summary = loop.run()
        finally:
            reporter.close()
            with job_run_.keep_alive():
                run = live_session_keep(session=session, run_dir=run_dir, summary=summary)
    return _ending(session, summary, run)


def live_params(session: LiveSession, *, px_per_cm: float | None = None) -> Any:
    from tracking.engine.cropping import CropParams
    from tracking.engine.runner import DetectParams
    from tracking.live.session import LiveParams

    p = session.params
    return LiveParams(
        n_animals=session.n_animals,
        detect=DetectParams(imgsz=int(p["imgsz"]), conf=float(p["conf"])),
        crop=CropParams(enabled=bool(p.get("crop", True))),
        duration_s=p.get("duration_s"),
        start_on_detection=bool(p.get("start_on_detection", False)),
        px_per_cm=px_per_cm,
    )


def _ending(session: LiveSession, summary: Any, run: TrackingRun | None) -> str | None:
    recorded = summary.frames_recorded
    p95 = summary.latency_ms.get("p95")
    latency = f", latency p95 {p95:.0f} ms" if p95 is not None else ""
    kept = f"; run #{run.pk}" if run is not None else "; nothing recorded"
    text = (
        f"{recorded:,} frames ({summary.frames_dropped:,} dropped), "
        f"{summary.events:,} events{latency}{kept}"
    )
    if summary.ended in CAMERA_ENDINGS:
        job_finish(
            job=session,
            status=JobStatus.FAILED,
            error=f"The session ended: {summary.ended} ({summary.error}); what was recorded "
            f"before is kept: {text}.",
            message=f"Ended: {summary.ended}",
        )
        return None
    return f"Ended ({summary.ended}): {text}"


def live_session_keep(*, session: LiveSession, run_dir: Path, summary: Any) -> TrackingRun | None:
    """Store the event log and turn the recording into a tracking run (None when nothing
    was recorded or it could not be kept: the reason is logged and in the message)."""
    from tracking.engine.chunks import CHUNK_DIR, chunk_files, covered_frames
    from tracking.live.recording import EVENTS_NAME, VIDEO_NAME

    from .run_work import tracking_run_execute
    from .services import tracking_params_clean

    fields: dict[str, Any] = {}
    if summary is not None:
        fields["summary"] = summary.to_dict()
    events = run_dir / EVENTS_NAME
    if events.exists():
        fields["events"] = store_file(
            local_path=events, name=f"live/{session.project_id}/{session.pk}/events.jsonl"
        )
    LiveSession.objects.filter(pk=session.pk).update(**fields)
    frames = covered_frames(run_dir)
    recording = run_dir / VIDEO_NAME
    if not frames or not recording.exists():
        return None
    stamp = timezone.localtime().strftime("%Y-%m-%d %H.%M.%S")
    try:
        video = video_upload(
            project=session.project,
            user=session.created_by,
            incoming=IncomingFile(
                path=recording,
                name=f"Live session {session.pk} {stamp}.mp4",
                size=recording.stat().st_size,
            ),
            move=True,
        )
    except ValidationError as e:
        log.warning("live session %s: the recording was not kept: %s", session.pk, e)
        return None
    model = session.model
    run = TrackingRun.objects.create(
        project=session.project,
        model=model,
        model_sha256=model.weights_sha256,
        video=video,
        n_animals=session.n_animals,
        params=tracking_params_clean(
            params={k: session.params[k] for k in ("imgsz", "conf", "crop", "device", "backend")},
            model=model,
        ),
        frames_total=video.frame_count,
        created_by=session.created_by,
        message=f"Recorded by live session #{session.pk}",
    )
    # The tracking worker's own folder for the run: it finds every frame detected already.
    target = job_scratch_folder(run) / CHUNK_DIR
    target.mkdir(parents=True, exist_ok=True)
    for _, _, path in chunk_files(run_dir):
        shutil.move(str(path), target / path.name)
    LiveSession.objects.filter(pk=session.pk).update(run=run)
    session.run = run
    started = time.monotonic()
    tracking_run_execute(run_id=run.pk)
    log.info(
        "live session %s: run %s kept in %.1f s", session.pk, run.pk, time.monotonic() - started
    )
    run.refresh_from_db()
    return run
