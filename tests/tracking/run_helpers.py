"""Finished tracking runs with constructed trajectories (known answers) for the analysis
tests, and the videos they belong to."""

from __future__ import annotations

import hashlib
import io
import uuid

import numpy as np

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from labeling.models import Project, Video
from tracking.engine.trajectory import Status, Trajectory
from tracking.models import TrackingRun
from webapp.models import JobStatus

WIDTH, HEIGHT, FPS = 640, 480, 30.0


def arena_jpeg(width: int = 320, height: int = 240) -> bytes:
    """A thumbnail-like still: a light square arena with dark walls on a grey floor."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (70, 70, 70))
    draw = ImageDraw.Draw(image)
    draw.rectangle(
        [width * 0.125, height * 0.0833, width * 0.875, height * 0.9167],
        fill=(225, 225, 220),
        outline=(20, 20, 20),
        width=3,
    )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def make_video(
    project: Project,
    *,
    name: str = "mouse-1.mp4",
    width: int = WIDTH,
    height: int = HEIGHT,
    fps: float = FPS,
    frame_count: int = 300,
    thumbnail: bool = True,
) -> Video:
    """A video row (no file: the analysis never decodes) with a thumbnail still."""
    thumb = ""
    if thumbnail:
        thumb = default_storage.save(
            f"thumbnails/{project.pk}/{uuid.uuid4().hex}.jpg", ContentFile(arena_jpeg())
        )
    return Video.objects.create(
        project=project,
        original_name=name,
        width=width,
        height=height,
        fps=fps,
        frame_count=frame_count,
        duration_s=frame_count / fps,
        codec="h264",
        thumbnail=thumb,
    )


def make_trajectory(centres: np.ndarray, *, fps: float = FPS, size: float = 20.0) -> Trajectory:
    """A trajectory from centres float (F, N, 2) px (NaN = missing), boxes ``size`` px
    square around them, time ``frame / fps``."""
    centres = np.asarray(centres, dtype=np.float64)
    if centres.ndim == 2:
        centres = centres[:, None, :]
    f, n, _ = centres.shape
    half = size / 2
    boxes = np.concatenate([centres - half, centres + half], axis=-1).astype(np.float32)
    missing = ~np.isfinite(centres).all(axis=-1)
    status = np.where(missing, Status.MISSING, Status.DETECTED).astype(np.int8)
    confidence = np.where(missing, np.nan, 0.9).astype(np.float32)
    return Trajectory(
        frames=np.arange(f, dtype=np.int64),
        time_s=np.arange(f) / fps,
        boxes=boxes,
        confidence=confidence,
        status=status,
    )


def _placeholder_model(project: Project):
    from training.models import TrainedModel

    weights = b"placeholder weights for tracking tests"
    name = default_storage.save(f"training/{project.pk}/test/track.pt", ContentFile(weights))
    return TrainedModel.objects.create(
        project=project,
        name="tracker",
        preset="yolo11n",
        weights=name,
        weights_sha256=hashlib.sha256(weights).hexdigest(),
        weights_size=len(weights),
        imgsz=64,
        class_names=["mouse"],
    )


def make_tracked_run(
    *, project: Project, video: Video, trajectory: Trajectory, model=None, trust=None
) -> TrackingRun:
    """A SUCCEEDED run of ``video`` whose stored trajectory is ``trajectory``."""
    import tempfile
    from pathlib import Path

    from tracking.engine.exports.parquet import write_trajectory

    n, f = trajectory.n_animals, trajectory.n_frames
    with tempfile.TemporaryDirectory() as tmp:
        local = write_trajectory(trajectory, Path(tmp) / "trajectory.parquet")
        data = local.read_bytes()
        name = default_storage.save(
            f"tracking/{project.pk}/{uuid.uuid4().hex}.parquet", ContentFile(data)
        )
    model = model or _placeholder_model(project)
    now = timezone.now()
    return TrackingRun.objects.create(
        project=project,
        model=model,
        model_sha256=model.weights_sha256,
        video=video,
        n_animals=n,
        status=JobStatus.SUCCEEDED,
        progress=1.0,
        frames_done=f,
        frames_total=f,
        trajectory=name,
        trajectory_sha256=hashlib.sha256(data).hexdigest(),
        trust=trust or {},
        started_at=now,
        finished_at=now,
    )


# --- constructed answers ----------------------------------------------------------------
# Open field drawn on the 640×480 frame: the arena's inner walls 480×400 px = 48×40 cm
# (10 px/cm); its centre square (side fraction 0.5) is x 200..440, y 140..340.
OUTLINE = {"shape": "rect", "x": 80, "y": 40, "w": 480, "h": 400}
OPEN_FIELD = {"preset": "open_field", "preset_params": {"outline": OUTLINE}}
ARENA_CM = {"outline": OUTLINE, "width_cm": 48, "height_cm": 40}


def walk_right(frames: int = 300, *, x0: float = 100.0, y: float = 240.0) -> np.ndarray:
    """Centres (F, 2) walking right 1 px per frame (30 px/s = 3 cm/s at 10 px/cm): with the
    open field above it enters the centre at frame 100 (x = 200, t = 3.333 s) and stays."""
    return np.stack([x0 + np.arange(frames, dtype=float), np.full(frames, y)], axis=1)


def sit_still(frames: int = 300, *, x: float = 150.0, y: float = 100.0) -> np.ndarray:
    """Centres (F, 2) of an animal that never moves (in the periphery)."""
    return np.tile([x, y], (frames, 1)).astype(float)
