"""Proposals (machine-made boxes awaiting a person's decision), the jobs that make them, and
the mark left on frames whose labels were accepted from proposals.

Proposals are never ground truth: exports, dataset versions and training read
``labeling.Box`` only, and a proposal becomes a ``Box`` only when it is accepted.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from labeling.models import Frame, LabelClass, Project, Video
from webapp.models import Job, user_ref


class ProposalSource(models.TextChoices):
    BOOTSTRAP = "bootstrap", "Background bootstrap"
    MODEL = "model", "Model pre-label"
    TRACKING = "tracking", "Tracking run (hard frame)"
    EVALUATION = "evaluation", "Evaluation (hard frame)"
    IMPORT = "import", "Imported predictions (SLEAP)"


class PrelabelJob(Job):
    """Proposals for a project's unlabeled frames: the bootstrap (``default`` queue, no
    model) or a registered model (``gpu`` queue)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prelabel_jobs")
    source = models.CharField(max_length=16, choices=ProposalSource.choices)
    # The registered model for source=model. SET_NULL: deleting a model (or its project)
    # must not be refused for a finished pre-label; the proposals keep its name (model_ref).
    model = models.ForeignKey(
        "training.TrainedModel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="prelabel_jobs",
    )
    videos = models.ManyToManyField(Video, blank=True, related_name="+")  # empty = all
    # {"expected": animals per frame, "conf": model score floor, "accept_above": S or null}
    params = models.JSONField(default=dict)
    frames_total = models.PositiveIntegerField(default=0)
    frames_done = models.PositiveIntegerField(default=0)
    proposals_created = models.PositiveIntegerField(default=0)
    frames_accepted = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Pre-label #{self.pk} ({self.source})"


class Proposal(models.Model):
    """A machine-made box in original-image pixels: ``(x, y)`` top-left corner, ``w``/``h`` > 0.

    ``status`` stays ``pending`` until a person (or an "accept above S" action) decides;
    accepted and rejected proposals are kept as the record of what was proposed.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="proposals")
    label_class = models.ForeignKey(LabelClass, on_delete=models.CASCADE, related_name="+")
    x = models.FloatField()
    y = models.FloatField()
    w = models.FloatField()
    h = models.FloatField()
    score = models.FloatField()  # 0..1: detector confidence, or the bootstrap's contrast
    source = models.CharField(max_length=16, choices=ProposalSource.choices)
    # Pose: predicted keypoints as Box.keypoints holds them ([[x, y, v], ...] in the
    # project's skeleton order, image pixels); [] for a box-only proposal.
    keypoints = models.JSONField(default=list, blank=True)
    # What made it, as display text ("model #3 “mice-v2”", "tracking run #7: low confidence").
    model_ref = models.CharField(max_length=200, blank=True)
    job = models.ForeignKey(
        PrelabelJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="proposals"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    decided_by = user_ref()
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["frame", "-score", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(w__gt=0) & Q(h__gt=0), name="proposal_positive_size"
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=1), name="proposal_score_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} proposal {self.score:.2f} on frame {self.frame_id}"


class MachineLabel(models.Model):
    """Boxes of a frame accepted from proposals, at ``annotation_version``.

    The frame is *machine-made* while its ``Frame.annotation_version`` still equals this one:
    any later save by a person (an edit, "reviewed", "no animal") increments the frame's
    version and so ends the mark, without the annotation code knowing about proposals.
    """

    frame = models.OneToOneField(Frame, on_delete=models.CASCADE, related_name="machine_label")
    annotation_version = models.PositiveIntegerField()
    source = models.CharField(max_length=16, choices=ProposalSource.choices)
    model_ref = models.CharField(max_length=200, blank=True)
    min_score = models.FloatField()  # the lowest score among the accepted proposals
    accepted_by = user_ref()
    accepted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Frame {self.frame_id} accepted from {self.source}"


class HardFrameJob(Job):
    """Frames a model found hard, added to labeling with its boxes as proposals
    (``default`` queue): from a tracking run (decoding the frames not sampled yet) or from
    an evaluation (frames already in the project)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="hard_frame_jobs")
    source = models.CharField(max_length=16, choices=ProposalSource.choices)
    tracking_run = models.ForeignKey(
        "tracking.TrackingRun", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    evaluation_run = models.ForeignKey(
        "evaluation.EvaluationRun",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    params = models.JSONField(default=dict)  # {"cap", "min_gap", "low_confidence", "low_iou"}
    # [{"frame": video frame index (tracking) or frame id (evaluation), "reason", "severity"}]
    chosen = models.JSONField(default=list)
    frames_added = models.PositiveIntegerField(default=0)  # new frames decoded and stored
    frames_proposed = models.PositiveIntegerField(default=0)  # frames given proposals
    proposals_created = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Hard frames #{self.pk} ({self.source})"
