"""Behaviour-analysis settings: a video's arena (calibration and zones), project templates
of arenas, who each video is about (subject, group, session), and the project's analysis
parameters; which run of a video the experiment table uses; freezing as a background job.

Measures are not stored: they are computed from the run's trajectory on request
(``behavior.analysis.runs``), so they always reflect the current zones, parameters and
trajectory edits. Every coordinate below is in pixels of the original video (x right,
y down, origin top-left), the system of ``behavior.core`` and of the trajectories.

These models were born in the ``tracking`` app and moved here without touching the
database: each keeps its ``tracking_*`` table (``db_table``), and the move is a state-only
migration (``behavior/migrations/0001_initial.py``, ``tracking/migrations/0002_...``).
"""

from __future__ import annotations

from django.db import models

from labeling.models import Project, Video
from webapp.models import Job, user_ref

# The parameters of behavior.core.AnalysisParams a project keeps (AnalysisSettings).
SETTINGS_FIELDS = (
    "start_s",
    "end_s",
    "bin_s",
    "immobile_speed",
    "min_immobile_s",
    "max_gap_s",
    "smoothing",
    "smoothing_window",
    "savgol_polyorder",
    "count_initial_entry",
    "box_overlap",
    "min_bout_s",
)


class CalibrationMethod(models.TextChoices):
    NONE = "none", "Not calibrated (pixels)"
    RULER = "ruler", "Ruler over an object of known length"
    ARENA = "arena", "Arena outline and its real size"


class Membership(models.TextChoices):
    CENTRE = "centre", "Centre point in the zone"
    BOX = "box", "Share of the box inside the zone"


class Preset(models.TextChoices):
    NONE = "", "None (drawn by hand)"
    OPEN_FIELD = "open_field", "Open field"
    ELEVATED_PLUS_MAZE = "elevated_plus_maze", "Elevated plus maze"
    LIGHT_DARK_BOX = "light_dark_box", "Light/dark box"
    NOVEL_OBJECT = "novel_object_recognition", "Novel object recognition"


class ArenaFields(models.Model):
    """What an arena is, shared by a video's setup and a project template.

    ``ruler``: ``{"x1", "y1", "x2", "y2", "length_cm"}`` (px, cm); ``arena``:
    ``{"outline": <zone JSON>, "width_cm", "height_cm"}``; ``px_per_cm`` is what the chosen
    method gave (None when not calibrated). ``zones``: the ``behavior.core.zones`` JSON
    list. ``preset``/``preset_params``: the assay preset the zones came from and its inputs
    (outline, side fraction, ...), kept as a record even if the zones were edited after.
    ``unions``: named unions of zones measured too (EPM "open_arms").
    """

    calibration_method = models.CharField(
        max_length=8, choices=CalibrationMethod.choices, default=CalibrationMethod.NONE
    )
    ruler = models.JSONField(null=True, blank=True)
    arena = models.JSONField(null=True, blank=True)
    px_per_cm = models.FloatField(null=True, blank=True)
    zones = models.JSONField(default=list, blank=True)
    unions = models.JSONField(default=dict, blank=True)
    preset = models.CharField(max_length=32, choices=Preset.choices, blank=True)
    preset_params = models.JSONField(default=dict, blank=True)
    membership = models.CharField(
        max_length=8, choices=Membership.choices, default=Membership.CENTRE
    )

    class Meta:
        abstract = True

    def arena_fields(self) -> dict:
        """The fields' stored values (to copy this arena onto another row)."""
        return {f.name: getattr(self, f.name) for f in ArenaFields._meta.local_fields}

    def arena_dict(self) -> dict:
        """The fields as the API writes and reads them."""
        return {
            "calibration": self.calibration_method,
            "ruler": self.ruler,
            "arena": self.arena,
            "px_per_cm": self.px_per_cm,
            "zones": self.zones,
            "unions": self.unions,
            "preset": self.preset or None,
            "preset_params": self.preset_params,
            "membership": self.membership,
        }


class ArenaTemplate(ArenaFields):
    """An arena drawn once and applied to many videos of a project (each with its nudge).

    ``frame_width``/``frame_height``: the size of the video it was drawn on (px).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="arena_templates")
    name = models.CharField(max_length=120)
    frame_width = models.PositiveIntegerField()
    frame_height = models.PositiveIntegerField()
    created_by = user_ref()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tracking_arenatemplate"  # the table made by the tracking app, kept
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="arena_template_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class ArenaSetup(ArenaFields):
    """The arena of one video: its calibration and zones.

    ``template``/``nudge`` record where it came from: the template applied and the
    ``{"dx", "dy", "scale"}`` moved onto this video (px; scale about the arena centre).
    """

    video = models.OneToOneField(Video, on_delete=models.CASCADE, related_name="arena_setup")
    template = models.ForeignKey(
        ArenaTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="setups"
    )
    nudge = models.JSONField(null=True, blank=True)
    updated_by = user_ref()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tracking_arenasetup"  # the table made by the tracking app, kept
        ordering = ["video"]

    def __str__(self) -> str:
        return f"Arena of {self.video}"


class SubjectInfo(models.Model):
    """Who a video is about, for the experiment table (every animal of the video shares it)."""

    video = models.OneToOneField(Video, on_delete=models.CASCADE, related_name="subject_info")
    subject_id = models.CharField(max_length=100, blank=True)
    group = models.CharField(max_length=100, blank=True)  # treatment / genotype
    session = models.CharField(max_length=100, blank=True)  # session or day
    notes = models.TextField(blank=True, max_length=2000)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tracking_subjectinfo"  # the table made by the tracking app, kept
        ordering = ["video"]

    def __str__(self) -> str:
        return f"{self.subject_id or 'subject'} ({self.group or 'no group'}) in {self.video}"


class AnalysisSettings(models.Model):
    """The project's default analysis parameters (``behavior.core.AnalysisParams``); a
    request may override any of them, and results echo every value used.

    Times in seconds (container timestamps); ``immobile_speed`` in cm/s when the video is
    calibrated, else px/s; ``smoothing_window`` in frames.
    """

    class Smoothing(models.TextChoices):
        NONE = "", "None"
        MEDIAN = "median", "Rolling median"
        SAVGOL = "savgol", "Savitzky–Golay"

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="analysis_settings"
    )
    start_s = models.FloatField(null=True, blank=True)
    end_s = models.FloatField(null=True, blank=True)
    bin_s = models.FloatField(null=True, blank=True)
    immobile_speed = models.FloatField(default=2.0)
    min_immobile_s = models.FloatField(default=1.0)
    max_gap_s = models.FloatField(default=0.5)
    smoothing = models.CharField(max_length=8, choices=Smoothing.choices, blank=True)
    smoothing_window = models.PositiveIntegerField(default=5)
    savgol_polyorder = models.PositiveIntegerField(default=2)
    count_initial_entry = models.BooleanField(default=False)
    box_overlap = models.FloatField(default=0.5)
    # Zone entries/exits/bouts count a change of side only after it lasted this long (s):
    # 0.2 s (6 frames at 30 fps) removes border jitter and keeps real visits.
    min_bout_s = models.FloatField(default=0.2)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tracking_analysissettings"  # the table made by the tracking app, kept
        verbose_name_plural = "analysis settings"

    def __str__(self) -> str:
        return f"Analysis settings of {self.project}"


class AnimalSubject(models.Model):
    """Who one animal of a multi-animal video is (``animal``: 1..N, the run's numbering);
    a blank field falls back to the video's ``SubjectInfo``."""

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="animal_subjects")
    animal = models.PositiveSmallIntegerField()
    subject_id = models.CharField(max_length=100, blank=True)
    group = models.CharField(max_length=100, blank=True)
    session = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tracking_animalsubject"  # the table made by the tracking app, kept
        ordering = ["video", "animal"]
        constraints = [
            models.UniqueConstraint(fields=["video", "animal"], name="animal_subject_unique")
        ]

    def __str__(self) -> str:
        return f"Animal {self.animal} of {self.video}: {self.subject_id or 'subject'}"


class ExperimentRunChoice(models.Model):
    """The run of a video the experiment table uses, chosen by a person. Without one the
    table takes the default (``behavior.experiment.selectors.experiment_runs``): the newest finished
    run with the video's animal count. Deleting the run removes the choice (back to the
    default)."""

    video = models.OneToOneField(Video, on_delete=models.CASCADE, related_name="experiment_run")
    run = models.ForeignKey("tracking.TrackingRun", on_delete=models.CASCADE, related_name="+")
    chosen_by = user_ref()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tracking_experimentrunchoice"  # the table made by the tracking app, kept
        ordering = ["video"]

    def __str__(self) -> str:
        return f"Run {self.run_id} for {self.video} in the experiment"


class FreezingJob(Job):
    """The per-frame motion of a run's animals inside their boxes (what freezing is read
    from), measured on a worker on the ``default`` queue: it decodes the whole video.

    ``key``: a digest of the run, its trajectory file and checksum, its active edits and
    the motion parameters (``params``: motion_cutoff, dilate_px, sigma) — what the motion
    depends on; a request with the same key reuses the job and its result. ``motion``:
    float64 (frames, animals) as ``.npy``, the share of each box's pixels that changed
    since the previous frame (NaN where not measured). The freezing threshold and minimum
    duration are applied on top when the analysis is read (cheap).
    """

    run = models.ForeignKey(
        "tracking.TrackingRun", on_delete=models.CASCADE, related_name="freezing_jobs"
    )
    key = models.CharField(max_length=64, db_index=True)
    params = models.JSONField(default=dict)
    motion = models.FileField(max_length=500, blank=True)

    class Meta:
        db_table = "tracking_freezingjob"  # the table made by the tracking app, kept
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Freezing #{self.pk} of run {self.run_id}"
