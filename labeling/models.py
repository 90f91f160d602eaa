"""Projects, members, label classes, frame sources (videos and image sets), frames, boxes
and dataset versions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from webapp.models import Job, user_ref


class Role(models.TextChoices):
    """Ordered from least to most rights; see :data:`ROLE_RANK`."""

    VIEWER = "viewer", "Viewer"
    ANNOTATOR = "annotator", "Annotator"
    OWNER = "owner", "Owner"


ROLE_RANK = {Role.VIEWER: 0, Role.ANNOTATOR: 1, Role.OWNER: 2}


class Project(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    # Dataset split defaults (the seed paper used 50/25/25).
    split_train = models.PositiveSmallIntegerField(default=50)
    split_val = models.PositiveSmallIntegerField(default=25)
    split_test = models.PositiveSmallIntegerField(default=25)
    split_seed = models.PositiveIntegerField(default=0)
    split_by_video = models.BooleanField(default=False)
    created_by = user_ref(blank=False)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="ProjectMembership", related_name="projects"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProjectMembership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")
        ]
        ordering = ["project", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


class LabelClass(models.Model):
    """A detection class. ``index`` is the class id written to YOLO files (0-based)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="classes")
    name = models.CharField(max_length=64)
    index = models.PositiveSmallIntegerField()
    color = models.CharField(max_length=7, default="#e6194b")  # #rrggbb

    class Meta:
        ordering = ["project", "index"]
        constraints = [
            # The app matches class names ignoring case (imports, the editor): so does the
            # database, which also settles parallel adds of "rat1" and "RAT1".
            models.UniqueConstraint(Lower("name"), "project", name="class_name_ci_unique"),
            models.UniqueConstraint(fields=["project", "index"], name="class_index_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class VisibleManager(models.Manager):
    """Rows the project shows: not hidden by a delete that had to keep them.

    The default manager (so ``project.videos``, ``project.frames`` and every lookup by id
    leave hidden rows out); ``all_objects`` sees them, as related-object access and
    cascades do (Django uses the base manager there)."""

    def get_queryset(self):
        return super().get_queryset().filter(hidden_at__isnull=True)


class Video(models.Model):
    """A frame source: an uploaded or registered video, or an image set (zip/images).

    ``hidden_at`` is set when a user deleted it while dataset versions still list some of
    its frames: those frames (rows and images) stay for the versions and the models made
    from them; the rest, and the video file, are gone, and the project no longer shows it.
    """

    class Kind(models.TextChoices):
        VIDEO = "video", "Video"
        IMAGE_SET = "imageset", "Image set"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="videos")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.VIDEO)
    # Display text only (escaped when shown); stored names are generated.
    original_name = models.CharField(max_length=255)
    # Exactly one of: a file in media storage, or a path on allowed shared storage.
    file = models.FileField(max_length=500, blank=True)
    external_path = models.CharField(max_length=1000, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    frame_count = models.PositiveIntegerField(default=0)
    fps = models.FloatField(default=0.0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    duration_s = models.FloatField(default=0.0)
    codec = models.CharField(max_length=32, blank=True)
    # Of the file's bytes (videos; "" for image sets and rows from before it was kept):
    # one recording uploaded twice could land in both train and test, so a project holds
    # each content once (the constraint settles two uploads racing).
    sha256 = models.CharField(max_length=64, blank=True)
    thumbnail = models.ImageField(max_length=500, blank=True)
    created_by = user_ref(blank=False)
    created_at = models.DateTimeField(auto_now_add=True)
    hidden_at = models.DateTimeField(null=True, blank=True)

    objects = VisibleManager()
    all_objects = models.Manager()  # noqa: DJ012 - ruff takes the custom manager for a field

    class Meta:
        ordering = ["project", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "sha256"],
                condition=Q(hidden_at__isnull=True) & ~Q(sha256=""),
                name="video_content_once_per_project",
            )
        ]

    def __str__(self) -> str:
        return self.original_name


class FrameSamplingJob(Job):
    """Frames taken from one video by one strategy (runs on the ``default`` queue)."""

    class Strategy(models.TextChoices):
        EVERY_SECONDS = "every_seconds", "Every N seconds"
        UNIFORM = "uniform", "N frames spread uniformly"
        KMEANS = "kmeans", "N visually diverse frames (k-means)"
        INDICES = "indices", "These frame indices"

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="sampling_jobs")
    strategy = models.CharField(max_length=16, choices=Strategy.choices)
    params = models.JSONField(default=dict)  # e.g. {"seconds": 1.5, "skip_similar": 0.02}
    frames_created = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]


class Split(models.TextChoices):
    NONE = "", "Unassigned"
    TRAIN = "train", "Train"
    VAL = "val", "Validation"
    TEST = "test", "Test"


class Frame(models.Model):
    """One image to label, taken from a video or an image set."""

    class Status(models.TextChoices):
        UNLABELED = "unlabeled", "Unlabeled"
        LABELED = "labeled", "Labeled"
        REVIEWED = "reviewed", "Reviewed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="frames")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="frames")
    # Index in display order among the frames shown, as OpenCV counts (not decode order).
    frame_index = models.PositiveIntegerField()
    # Presentation timestamp from the container (not index/fps: that drifts on VFR files).
    timestamp_s = models.FloatField(default=0.0)
    image = models.ImageField(max_length=500)
    # The image's own name and relative folder ("cage1/img0042.png") when it came from an
    # image set or an imported dataset (blank for frames taken from a video): exports use it,
    # so a lab can match labels back to its files. Display text, never a storage path.
    source_name = models.CharField(max_length=1024, blank=True, default="")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.UNLABELED, db_index=True
    )
    # A labeled negative: the annotator says there is no animal in this frame.
    is_negative = models.BooleanField(default=False)
    split = models.CharField(max_length=8, choices=Split.choices, blank=True, db_index=True)
    # Optimistic concurrency: every accepted save increments the version.
    annotation_version = models.PositiveIntegerField(default=0)
    last_request_id = models.CharField(max_length=64, blank=True)
    annotated_by = user_ref()
    annotated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set with its video's hidden_at on the frames a dataset version still lists.
    hidden_at = models.DateTimeField(null=True, blank=True)

    objects = VisibleManager()
    all_objects = models.Manager()  # noqa: DJ012 - ruff takes the custom manager for a field

    class Meta:
        ordering = ["video", "frame_index"]
        constraints = [
            models.UniqueConstraint(fields=["video", "frame_index"], name="frame_once_per_video")
        ]

    def __str__(self) -> str:
        return f"{self.video} #{self.frame_index}"


class Box(models.Model):
    """A ground-truth box in original-image pixels: (x, y) is the top-left corner,
    origin at the image's top-left, x to the right, y down; ``w``/``h`` > 0."""

    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="boxes")
    label_class = models.ForeignKey(LabelClass, on_delete=models.PROTECT, related_name="boxes")
    x = models.FloatField()
    y = models.FloatField()
    w = models.FloatField()
    h = models.FloatField()
    # Pose: the animal's keypoints in its project's skeleton order, [[x, y, v], ...] in
    # original-image pixels, v as COCO (0 not labeled, 1 occluded, 2 visible); [] = none
    # (see labeling.annotations.keypoints).
    keypoints = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["frame", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(w__gt=0) & Q(h__gt=0), name="box_positive_size")
        ]

    def __str__(self) -> str:
        return f"{self.label_class_id} at ({self.x:.0f}, {self.y:.0f}, {self.w:.0f}, {self.h:.0f})"


class Skeleton(models.Model):
    """A project's pose skeleton: keypoint names in order, drawing edges and left/right
    pairs (index pairs; see :class:`labeling.annotations.keypoints.SkeletonSpec`). A
    project without one labels boxes only."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="skeleton")
    keypoints = models.JSONField(default=list)  # ["snout", "ear_left", ...]
    edges = models.JSONField(default=list)  # [[0, 1], ...]
    flip_pairs = models.JSONField(default=list)  # [[1, 2], ...] left/right
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"skeleton of {self.project_id}: {', '.join(self.keypoints)}"


class DatasetVersion(models.Model):
    """An immutable snapshot of a project's labeled frames, boxes, split and classes.

    ``manifest`` is a JSON file in media storage::

        {"classes": ["mouse"], "frames": [{"frame_id", "image", "width", "height",
         "split", "video_id", "boxes": [{"class_index", "x", "y", "w", "h"}]}]}

    Boxes are in original-image pixels, top-left corner plus size. ``content_hash`` is the
    sha256 of the manifest, so two versions with the same content have the same hash.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dataset_versions")
    name = models.CharField(max_length=120)
    manifest = models.FileField(max_length=500)
    content_hash = models.CharField(max_length=64, db_index=True)
    classes = models.JSONField(default=list)  # class names by index
    frame_counts = models.JSONField(default=dict)  # {"train": n, "val": n, "test": n}
    box_count = models.PositiveIntegerField(default=0)
    created_by = user_ref(blank=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-created_at"]

    def __str__(self) -> str:
        return f"{self.project} / {self.name}"


class DatasetImportJob(Job):
    """A dataset zip (YOLO, COCO, VOC or CVAT) imported into a project on the ``default``
    queue, all or nothing. ``upload`` is the received zip in media storage (workers may run
    elsewhere); it is deleted once the job ends, unless its worker died (then it stays for a
    retry until the job is retried or cancelled)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_jobs")
    fmt = models.CharField(max_length=8)  # a format name or "auto"
    upload = models.FileField(max_length=500, blank=True)
    upload_bytes = models.BigIntegerField(default=0)
    source_name = models.CharField(max_length=255, blank=True)  # display text only
    create_missing_classes = models.BooleanField(default=False)
    # The import's counts once it succeeded (labeling.datasets.importing.ImportResult).
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import #{self.pk} into {self.project_id}"

    def after_stale_failure(self) -> None:
        """Its worker died: delete the images the dead attempt stored (its own folder; see
        :mod:`labeling.datasets.job_services`). The received zip stays for a retry."""
        from .datasets.job_services import dataset_import_job_sweep

        dataset_import_job_sweep(job=self)


class DatasetExportJob(Job):
    """A project's dataset written as a zip into media storage by a ``default``-queue job;
    downloadable once it succeeded."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="export_jobs")
    fmt = models.CharField(max_length=8)
    split = models.CharField(max_length=8, blank=True)  # "" = every split
    include_unlabeled = models.BooleanField(default=False)
    file = models.FileField(max_length=500, blank=True)
    file_bytes = models.BigIntegerField(default=0)
    download_name = models.CharField(max_length=255, blank=True)
    result = models.JSONField(default=dict, blank=True)  # images, boxes, negatives

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"export #{self.pk} of {self.project_id}"


class ChunkedUpload(models.Model):
    """A file arriving in chunks (resumable: the client asks for ``offset`` and sends the
    rest from there). The bytes so far sit in the web server's scratch space under the
    upload's id; once all arrived, a :class:`VideoUploadJob` gives the file the same checks
    as a one-request upload (``checking``) and it becomes a frame source (``video``,
    ``complete``); a refused file takes this row with it."""

    class Status(models.TextChoices):
        RECEIVING = "receiving", "Receiving"
        CHECKING = "checking", "Checking"
        COMPLETE = "complete", "Complete"

    id = models.UUIDField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="chunked_uploads")
    created_by = user_ref(blank=False)
    file_name = models.CharField(max_length=255)  # display text only
    size = models.BigIntegerField()  # declared total, bytes
    offset = models.BigIntegerField(default=0)  # bytes received and written
    sample_every = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVING)
    video = models.ForeignKey(Video, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.offset}/{self.size})"


class ImageSetImportJob(Job):
    """A zip of images made into an image set on the ``default`` queue (every image decoded
    and checked there), all or nothing; ``upload`` is deleted once the job ended, unless its
    worker died (then it stays for a retry until the job is retried or cancelled)."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="imageset_import_jobs"
    )
    upload = models.FileField(max_length=500, blank=True)
    upload_bytes = models.BigIntegerField(default=0)
    source_name = models.CharField(max_length=255, blank=True)  # display text only
    video = models.ForeignKey(Video, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"image set import #{self.pk} into {self.project_id}"

    def after_stale_failure(self) -> None:
        """Its worker died: delete the images the dead attempt stored (its own folders; see
        :mod:`labeling.videos.imageset_services`). The received zip stays for a retry."""
        from .videos.imageset_services import imageset_job_sweep

        imageset_job_sweep(job=self)


class VideoUploadJob(Job):
    """A chunked upload's assembled file made a frame source on the ``default`` queue:
    probed strictly in the sandbox, stored and recorded there, so decoding a multi-GB
    recording never runs inside a web request. All or nothing: a refused file leaves no
    ``Video`` and no stored file. ``upload`` (the received bytes, in storage) is deleted
    once the job ended; ``sample_every`` starts sampling once the video exists."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="video_upload_jobs")
    chunked_upload = models.ForeignKey(
        ChunkedUpload, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    upload = models.FileField(max_length=500, blank=True)
    upload_bytes = models.BigIntegerField(default=0)
    source_name = models.CharField(max_length=255, blank=True)  # display text only
    sample_every = models.FloatField(null=True, blank=True)
    video = models.ForeignKey(Video, null=True, blank=True, on_delete=models.SET_NULL)
    sampling_job = models.ForeignKey(
        FrameSamplingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sampling_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"video upload #{self.pk} into {self.project_id}"

    def after_stale_failure(self) -> None:
        """Its worker died before a video was made: the received bytes and the upload go
        (see :mod:`labeling.videos.chunked_services`), not only when the browser asks again."""
        from .videos.chunked_services import video_upload_job_forget

        if self.video_id is None:
            video_upload_job_forget(job=self)
