"""Tracking runs (one model over one whole video), their edits and renders.

A run's per-frame trajectory is a Parquet file in media storage (``trajectory``), not a
row per frame: the database holds what the run was (model, video, their checksums,
parameters), how it went (status, progress, timings) and what it found (trust figures,
suspected swaps). Boxes and positions everywhere are pixels of the original video.
"""

from __future__ import annotations

from django.db import models

from labeling.models import Project, Video
from training.models import TrainedModel
from webapp.models import Job, user_ref


class TrackingBatch(models.Model):
    """Runs started together (a whole experiment at once); the page shows their progress."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tracking_batches")
    model = models.ForeignKey(TrainedModel, on_delete=models.PROTECT, related_name="+")
    created_by = user_ref(blank=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Tracking batch #{self.pk}"


class TrackingRun(Job):
    """One model over every frame of one video, on the ``gpu`` queue.

    The model and the video are PROTECTed: a run refers to both for as long as it exists
    (deleting either is refused while runs use it, and the message says which).
    ``params`` holds every engine parameter used (``tracking.engine`` dataclasses as dicts).
    """

    resume_task = "tracking.tasks.tracking_run_execute"  # resumes from its stored chunks
    scratch_area, scratch_prefix = "tracking", ""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tracking_runs")
    batch = models.ForeignKey(
        TrackingBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    model = models.ForeignKey(TrainedModel, on_delete=models.PROTECT, related_name="tracking_runs")
    model_sha256 = models.CharField(max_length=64)
    video = models.ForeignKey(Video, on_delete=models.PROTECT, related_name="tracking_runs")
    video_sha256 = models.CharField(max_length=64, blank=True)  # hashed by the worker
    n_animals = models.PositiveSmallIntegerField(default=1)
    params = models.JSONField(default=dict)
    device = models.CharField(max_length=64, blank=True)  # as used, e.g. "cpu · onnx"
    frames_done = models.PositiveIntegerField(default=0)
    frames_total = models.PositiveIntegerField(default=0)
    fps = models.FloatField(null=True, blank=True)  # processed frames per second
    eta_s = models.FloatField(null=True, blank=True)
    # Set when decoding stopped early: the first frame that could not be read.
    failed_at_frame = models.PositiveIntegerField(null=True, blank=True)
    trajectory = models.FileField(max_length=500, blank=True)  # Parquet, before edits
    trajectory_sha256 = models.CharField(max_length=64, blank=True)
    trust = models.JSONField(default=dict)  # tracking.engine.trust figures
    # [{"animal_a", "animal_b", "first_frame", "last_frame", "first_time_s", ...}]: overlaps
    # of two animals to review for an identity swap (tracking.engine.identity.SuspectedSwap).
    suspected_swaps = models.JSONField(default=list)
    timing = models.JSONField(default=dict)  # decode/inference fps, crop share, latency

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Tracking run #{self.pk} of video {self.video_id}"

    def resume_fields(self) -> dict:
        return {"failed_at_frame": None}


class TrackingEdit(models.Model):
    """A user's correction of a run, applied on top of the stored trajectory.

    The list of active edits is the truth: exports apply them in ``id`` order; reverting
    sets ``reverted_at`` (kept for the history), which restores the trajectory as before.
    """

    class Kind(models.TextChoices):
        SWAP = "swap", "Swap identities"

    run = models.ForeignKey(TrackingRun, on_delete=models.CASCADE, related_name="edits")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SWAP)
    animal_a = models.PositiveSmallIntegerField()  # 1-based identities, as in exports
    animal_b = models.PositiveSmallIntegerField()
    from_frame = models.PositiveIntegerField()
    to_frame = models.PositiveIntegerField(null=True, blank=True)  # inclusive; None = to the end
    created_by = user_ref(blank=False)
    created_at = models.DateTimeField(auto_now_add=True)
    reverted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.animal_a}↔{self.animal_b} from {self.from_frame}"


class TrackingRender(Job):
    """An annotated MP4 (boxes, ids, trails) of a run, rendered on the ``default`` queue."""

    run = models.ForeignKey(TrackingRun, on_delete=models.CASCADE, related_name="renders")
    file = models.FileField(max_length=500, blank=True)
    edits_applied = models.PositiveIntegerField(default=0)  # active edits when rendered

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Render #{self.pk} of run {self.run_id}"


class LiveSession(Job):
    """Live tracking from a camera on the ``live`` queue (the machine the camera is on).

    One session per camera: a queued or running session holds its ``source_key`` (the
    device path, URL or file path, :func:`tracking.live.sources.source_key`) through a
    unique constraint on active rows, so a second start on that camera is refused by the
    database itself, even from two web nodes at once; the row ending (stopped, failed, or
    failed by the stale check when the process died) frees the camera. Stop is the job's
    cancel (``cancel_requested``). When it ends, what it recorded becomes an ordinary
    tracking run (``run``: its video, detections and trajectory) and ``events`` keeps the
    event log (JSONL).
    """

    scratch_area, scratch_prefix = "live", ""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="live_sessions")
    # The run it became keeps the model (PROTECT there); a finished session does not hold it.
    model = models.ForeignKey(
        TrainedModel, null=True, on_delete=models.SET_NULL, related_name="live_sessions"
    )
    source = models.CharField(max_length=500)  # as given: /dev/video0, rtsp://..., a file
    source_key = models.CharField(max_length=500)
    paced = models.BooleanField(default=False)  # a file played at its frame rate
    n_animals = models.PositiveSmallIntegerField(default=1)
    setup = models.JSONField(default=dict)  # zones, rules, outputs, px_per_cm
    params = models.JSONField(default=dict)  # imgsz, conf, duration_s, start_on_detection
    # The page's view of the session, refreshed about twice a second while it runs: frame,
    # per-animal boxes (original-video pixels x1, y1, x2, y2), zones, speed, latency, drops,
    # recent events, and a small JPEG preview (base64).
    state = models.JSONField(default=dict)
    summary = models.JSONField(default=dict)  # tracking.live.session.LiveSummary
    run = models.ForeignKey(
        TrackingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="live_sessions"
    )
    events = models.FileField(max_length=500, blank=True)  # the event log, JSONL

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_key"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_live_session_per_source",
            )
        ]

    def __str__(self) -> str:
        return f"Live session #{self.pk} on {self.source}"
