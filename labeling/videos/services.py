"""Every write to frame sources (videos and image sets) and their frames: upload,
registration in place, deletion, and frame sampling (run by a Celery task).

Untrusted files are only ever opened by :mod:`labeling.videos.sampling` (a limited subprocess) and
:mod:`labeling.videos.imagesets`; a file that fails there ends as a ``ValidationError`` naming the
field, with nothing left in storage or in the database.

Frames are stored as JPEG at quality 95: the source is already lossy (H.264), and at q95
the re-encoding error is far below the codec's own, while a file is about a third of the
PNG's size (40 KB against 114 KB for a 640x480 open-field frame), which matters for
thousands of frames read again by every training run. Image sets keep their JPEG and PNG
files as uploaded (no second generation of loss); other formats become PNG.
"""

from __future__ import annotations

import io
import logging
import os
import time
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from PIL import Image, ImageOps

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from webapp.jobs import JobCancelled, job_claim, job_dispatch, job_finish, job_heartbeat
from webapp.models import JobStatus
from webapp.storage import delete_quietly, local_copy, scratch_dir, store_file

from ..models import Frame, FrameSamplingJob, Project, Video
from . import imagesets
from . import sampling as video_io
from .selectors import video_annotated_frame_count

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_SECONDS = 1.5  # the seed paper's rate
FRAME_JPEG_QUALITY = 95
THUMBNAIL_WIDTH = 320
THUMBNAIL_JPEG_QUALITY = 85
MAX_NAME_CHARS = 255
# Stored name suffix (and so served Content-Type) per container, chosen by the server.
CONTAINER_EXTENSIONS = {
    "mov,mp4,m4a,3gp,3g2,mj2": "mp4",
    "avi": "avi",
    "matroska,webm": "mkv",
    "mpeg": "mpg",
    "mpegts": "ts",
}
# Bounds on sampling parameters (a person picks them; these stop accidents).
MAX_SAMPLE_COUNT = 10_000
MAX_KMEANS_COUNT = 1_000
MAX_INDICES = 1_000
MIN_SECONDS, MAX_SECONDS = 0.01, 3600.0
# Bidirectional-text controls could make "clip.mp4.php" display as "clip.php.mp4".
_BIDI_CONTROLS = (
    {"\u200e", "\u200f", "\u061c"}
    | {chr(c) for c in range(0x202A, 0x202F)}
    | {chr(c) for c in range(0x2066, 0x206A)}
)


@dataclass(frozen=True)
class IncomingFile:
    """A local file offered as a frame source: a streamed upload's temp file or a path
    given on the command line. ``name`` is what the person called it (display only)."""

    path: Path
    name: str
    size: int


# --------------------------------------------------------------------------------------
# Upload and registration


def frame_source_upload(*, project: Project, user, files: list[IncomingFile]) -> Video:
    """One video, one zip of images, or several images become one frame source."""
    if not files:
        raise ValidationError({"file": "No file was uploaded."})
    for incoming in files:
        if incoming.size <= 0 or not incoming.path.is_file() or incoming.path.stat().st_size == 0:
            raise ValidationError({"file": f"“{display_name(incoming.name)}” is empty (0 bytes)."})
    kinds = [_content_kind(f.path) for f in files]
    if kinds == ["video"]:
        return video_upload(project=project, user=user, incoming=files[0])
    if kinds.count("video") > 1:
        raise ValidationError({"file": "Upload one video per request."})
    if "video" in kinds:
        odd = display_name(files[kinds.index("video")].name)
        raise ValidationError(
            {
                "file": f"“{odd}” is not an image: several files make one image set (upload "
                "videos one per request)."
            }
        )
    return imageset_upload(project=project, user=user, files=files)


def video_upload(*, project: Project, user, incoming: IncomingFile) -> Video:
    """Probe ``incoming`` by decoding it, copy it into storage under a generated name and
    record it. Nothing is stored when the file is not an acceptable video."""
    name = display_name(incoming.name)
    info = _probe(incoming.path, field="file")
    ext = CONTAINER_EXTENSIONS.get(info.container, "bin")
    stored = thumb = ""
    try:
        stored = store_file(
            local_path=incoming.path, name=f"videos/{project.pk}/{uuid.uuid4().hex}.{ext}"
        )
        thumb = _video_thumbnail(path=incoming.path, info=info, project=project)
        video = Video.objects.create(
            project=project,
            kind=Video.Kind.VIDEO,
            original_name=name,
            file=stored,
            size_bytes=incoming.path.stat().st_size,
            created_by=user,
            thumbnail=thumb,
            **_info_fields(info),
        )
    except BaseException:
        delete_quietly(stored, thumb)
        raise
    return video


def video_register(*, project: Project, user, path: str) -> Video:
    """Record a video that stays where it is on the lab's shared storage (no copy)."""
    resolved = shared_video_path(path)
    if project.videos.filter(external_path=str(resolved)).exists():
        raise ValidationError({"path": "This file is already registered in this project."})
    info = _probe(resolved, field="path")
    thumb = ""
    try:
        thumb = _video_thumbnail(path=resolved, info=info, project=project)
        video = Video.objects.create(
            project=project,
            kind=Video.Kind.VIDEO,
            original_name=display_name(resolved.name),
            external_path=str(resolved),
            size_bytes=resolved.stat().st_size,
            created_by=user,
            thumbnail=thumb,
            **_info_fields(info),
        )
    except BaseException:
        delete_quietly(thumb)
        raise
    return video


def shared_video_path(raw: str) -> Path:
    """``raw`` resolved (symlinks, ``..``) if it names a file inside one of
    ``settings.SHARED_VIDEO_ROOTS``; otherwise a ValidationError on ``path``."""
    roots = [Path(r).resolve() for r in settings.SHARED_VIDEO_ROOTS]
    if not roots:
        raise ValidationError(
            {
                "path": "Registering files in place is not enabled on this server "
                "(SHARED_VIDEO_ROOTS is empty)."
            }
        )
    if not isinstance(raw, str) or not raw.strip() or "\x00" in raw or len(raw) > 4096:
        raise ValidationError({"path": "Give the absolute path of a video file."})
    candidate = Path(raw.strip())
    if not candidate.is_absolute():
        raise ValidationError({"path": "The path must be absolute (start with /)."})
    allowed = ", ".join(str(r) for r in roots)
    outside = ValidationError(
        {"path": f"The path is outside the shared video folders ({allowed})."}
    )
    # Containment is checked before existence, so nothing is revealed about other places.
    if not _inside_any(candidate.resolve(strict=False), roots):
        raise outside
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise ValidationError({"path": "No such file."}) from None
    if not _inside_any(resolved, roots):
        raise outside
    if not resolved.is_file():
        raise ValidationError({"path": "This is not a regular file."})
    if not os.access(resolved, os.R_OK):
        raise ValidationError({"path": "The server cannot read this file."})
    return resolved


def _inside_any(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


@contextmanager
def video_local_path(*, video: Video) -> Iterator[Path]:
    """A local path holding the video's bytes (a registered file is re-checked against
    SHARED_VIDEO_ROOTS each time: settings or symlinks may have changed since)."""
    if video.external_path:
        try:
            path = shared_video_path(video.external_path)
        except ValidationError as exc:
            raise video_io.VideoProbeError(
                "The registered file is no longer available: " + " ".join(exc.messages)
            ) from None
        yield path
        return
    if not video.file:
        raise video_io.VideoProbeError("This frame source has no video file.")
    with local_copy(video.file.name) as path:
        yield path


def display_name(name: str) -> str:
    """The original file name as display text: no path, control or bidi characters."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch for ch in name if ch not in _BIDI_CONTROLS and unicodedata.category(ch)[0] != "C"
    ).strip()
    return name[:MAX_NAME_CHARS] or "unnamed"


def _probe(path: Path, *, field: str) -> video_io.VideoInfo:
    # strict: an upload cut short (a truncated copy) is refused rather than half-used;
    # the person can send it again. Large files get more time to be indexed.
    timeout = max(video_io.DEFAULT_PROBE_TIMEOUT_S, path.stat().st_size / (50 * 1024**2))
    try:
        return video_io.probe_video(path, strict=True, timeout_s=timeout)
    except video_io.VideoError as exc:
        if exc.detail:
            log.info("video refused: %s (%s)", exc, exc.detail[-500:])
        raise ValidationError({field: str(exc)}) from None


def _info_fields(info: video_io.VideoInfo) -> dict:
    return {
        "frame_count": info.frame_count,
        "fps": info.fps,
        "width": info.width,
        "height": info.height,
        "duration_s": info.duration_s,
        "codec": info.codec[:32],
    }


def _video_thumbnail(*, path: Path, info: video_io.VideoInfo, project: Project) -> str:
    """A small JPEG of the frame at 10% of the video (the first frames are often a hand
    or a dark arena); "" when it cannot be made (the video stays usable)."""
    index = min(info.frame_count - 1, info.frame_count // 10)
    try:
        frames = list(video_io.sample_indices(path, [index], timeout_s=60))
    except video_io.VideoError as exc:
        log.warning("no thumbnail for %s: %s", path.name, exc)
        return ""
    if not frames:
        return ""
    return _store_thumbnail(Image.fromarray(frames[0].image[:, :, ::-1]), project=project)


def _store_thumbnail(image: Image.Image, *, project: Project) -> str:
    image = image.convert("RGB")
    height = max(1, round(image.height * THUMBNAIL_WIDTH / image.width))
    image = image.resize((THUMBNAIL_WIDTH, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=THUMBNAIL_JPEG_QUALITY)
    return default_storage.save(
        f"thumbnails/{project.pk}/{uuid.uuid4().hex}.jpg", ContentFile(buffer.getvalue())
    )


def _content_kind(path: Path) -> str:
    """Which reader to try, from the first bytes (never the name): ``"zip"``,
    ``"image"`` or ``"video"``. That reader then decides whether the file really is one."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"II*\x00", b"MM\x00*")):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    return "video"


# --------------------------------------------------------------------------------------
# Image sets

# What a browser would take for markup if it ever sniffed the file: an image carrying any
# of these, or bytes after its end, is an image/HTML (or PHP) polyglot and is refused.
_MARKUP = (
    b"<html",
    b"<script",
    b"<body",
    b"<iframe",
    b"<svg",
    b"<!doctype",
    b"<?php",
    b"<object",
    b"<embed",
    b"javascript:",
)
# Stored as uploaded (no generational loss); anything else is re-encoded to PNG.
_KEEP_AS_IS = {"JPEG": "jpg", "PNG": "png"}
_KEEP_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}


def imageset_upload(*, project: Project, user, files: list[IncomingFile]) -> Video:
    """A zip of images, or several image files, as one frame source whose images are
    its frames (in natural order of their names)."""
    kinds = [_content_kind(f.path) for f in files]
    try:
        if "zip" in kinds:
            if len(files) != 1:
                raise ValidationError({"file": "Upload a zip of images on its own."})
            with imagesets.open_zip_images(
                files[0].path, scratch_dir=scratch_dir("imagesets")
            ) as image_set:
                return _imageset_create(
                    project=project,
                    user=user,
                    name=display_name(files[0].name),
                    entries=image_set.entries,
                )
        image_set = imagesets.read_image_files(
            [f.path for f in files], names=[display_name(f.name) for f in files]
        )
    except imagesets.ImageSetError as exc:
        raise ValidationError({"file": f"Not a usable image set: {exc}."}) from None
    name = image_set.entries[0].name if len(files) == 1 else f"{len(files)} images"
    return _imageset_create(project=project, user=user, name=name, entries=image_set.entries)


def _imageset_create(*, project: Project, user, name: str, entries) -> Video:
    problems = [p for p in (_polyglot_problem(e) for e in entries) if p]
    if problems:
        raise ValidationError({"file": "; ".join(problems[:5])})
    folder = f"frames/{project.pk}/set-{uuid.uuid4().hex[:12]}"
    stored: list[str] = []
    rows = []
    try:
        # Files first, outside any transaction (a long write lock would stall the workers).
        for index, entry in enumerate(entries):
            image_name, width, height = _store_set_image(entry, folder=folder, index=index)
            stored.append(image_name)
            rows.append((index, image_name, width, height))
        with Image.open(entries[0].path) as first:
            thumb = _store_thumbnail(_upright(first), project=project)
        stored.append(thumb)
        sizes = {(w, h) for _, _, w, h in rows}
        width, height = sizes.pop() if len(sizes) == 1 else (0, 0)
        with transaction.atomic():
            video = Video.objects.create(
                project=project,
                kind=Video.Kind.IMAGE_SET,
                original_name=name,
                size_bytes=sum(e.size_bytes for e in entries),
                frame_count=len(rows),
                width=width,
                height=height,
                codec="images",
                thumbnail=thumb,
                created_by=user,
            )
            Frame.objects.bulk_create(
                Frame(
                    project=project,
                    video=video,
                    frame_index=index,
                    timestamp_s=0.0,
                    image=image_name,
                    width=w,
                    height=h,
                )
                for index, image_name, w, h in rows
            )
    except BaseException:
        delete_quietly(*stored)
        raise
    return video


def _polyglot_problem(entry) -> str | None:
    data = entry.path.read_bytes()
    lowered = data.lower()
    shown = entry.name[:80]
    if any(marker in lowered for marker in _MARKUP):
        return f"“{shown}” carries HTML or script inside the image (an image/HTML polyglot?)"
    if entry.format == "PNG":
        end = data.rfind(b"IEND")
        if end < 0 or len(data) > end + 8:
            return f"“{shown}” has data after the end of the PNG image"
    return None


def _upright(image: Image.Image) -> Image.Image:
    """The pixels as a browser shows them (EXIF orientation applied)."""
    return ImageOps.exif_transpose(image)


def _store_set_image(entry, *, folder: str, index: int) -> tuple[str, int, int]:
    """Store one verified image; return (name, width, height) as the editor will show it."""
    with Image.open(entry.path) as image:
        rotated = image.getexif().get(0x0112, 1) not in (1, None)
        ext = _KEEP_AS_IS.get(image.format or "")
        if ext and image.mode in _KEEP_MODES and not rotated:
            name = store_file(local_path=entry.path, name=f"{folder}/{index:06d}.{ext}")
            return name, image.width, image.height
        # TIFF/BMP/WebP (browsers or trainers may not read them), CMYK, or a rotation a
        # browser would apply but a trainer would not: store upright pixels as PNG.
        upright = _upright(image)
        if upright.mode not in ("RGB", "RGBA", "L"):
            upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
        buffer = io.BytesIO()
        upright.save(buffer, "PNG")
        name = default_storage.save(f"{folder}/{index:06d}.png", ContentFile(buffer.getvalue()))
        return name, upright.width, upright.height


# --------------------------------------------------------------------------------------
# Deletion


def video_delete(*, video: Video) -> None:
    """Delete a frame source, its frames and its stored files.

    Refused (ValidationError) while any of its frames carries an annotation: frames belong
    to their video, so deleting the video would silently take the boxes with it.
    A registered file on shared storage is left alone.
    """
    with transaction.atomic():
        locked = Video.objects.select_for_update().filter(pk=video.pk).first()
        if locked is None:
            return
        annotated = video_annotated_frame_count(video=locked)
        if annotated:
            raise ValidationError(
                {
                    "video": f"{annotated} frame(s) of this video are annotated; the video "
                    "cannot be deleted without losing their boxes."
                }
            )
        names = [locked.file.name if locked.file else "", locked.thumbnail.name or ""]
        names += list(locked.frames.values_list("image", flat=True))
        # A running sampling job sees its row gone at its next heartbeat and stops.
        locked.delete()
    delete_quietly(*names)


# --------------------------------------------------------------------------------------
# Sampling


def sampling_params_clean(*, video: Video, strategy: str, params: dict) -> dict:
    """The parameters a job of ``strategy`` keeps, checked; ValidationError names the field."""
    if video.kind != Video.Kind.VIDEO:
        raise ValidationError(
            {"strategy": "An image set has no video to sample: its images are its frames."}
        )
    if strategy not in FrameSamplingJob.Strategy.values:
        choices = ", ".join(FrameSamplingJob.Strategy.values)
        raise ValidationError({"strategy": f"Must be one of {choices}."})
    clean: dict = {}
    if strategy == FrameSamplingJob.Strategy.EVERY_SECONDS:
        seconds = params.get("seconds")
        clean["seconds"] = _number(
            DEFAULT_SAMPLE_SECONDS if seconds is None else seconds,
            "seconds",
            MIN_SECONDS,
            MAX_SECONDS,
        )
    elif strategy in (FrameSamplingJob.Strategy.UNIFORM, FrameSamplingJob.Strategy.KMEANS):
        limit = (
            MAX_KMEANS_COUNT if strategy == FrameSamplingJob.Strategy.KMEANS else (MAX_SAMPLE_COUNT)
        )
        if params.get("n") is None:
            raise ValidationError({"n": "How many frames? Give a number."})
        clean["n"] = _whole(params["n"], "n", 1, limit)
    else:
        indices = params.get("indices")
        if not isinstance(indices, list | tuple) or not indices:
            raise ValidationError({"indices": "Give a list of frame indices."})
        if len(indices) > MAX_INDICES:
            raise ValidationError({"indices": f"At most {MAX_INDICES} frames at a time."})
        last = max(video.frame_count - 1, 0)
        clean["indices"] = sorted({_whole(i, "indices", 0, last) for i in indices})
    skip = params.get("skip_similar")
    if skip not in (None, "", 0, 0.0):
        clean["skip_similar"] = _number(skip, "skip_similar", 0.0, 1.0)
    return clean


def _number(value, field: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError({field: "Must be a number."}) from None
    if isinstance(value, bool) or not np.isfinite(number) or not low <= number <= high:
        raise ValidationError({field: f"Must be a number from {low:g} to {high:g}."})
    return number


def _whole(value, field: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ValidationError({field: "Must be a whole number."})
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: "Must be a whole number."}) from None
    if number != value and str(number) != str(value).strip():
        raise ValidationError({field: "Must be a whole number."})
    if not low <= number <= high:
        raise ValidationError({field: f"Must be from {low} to {high}."})
    return number


def sampling_job_create(*, video: Video, user, strategy: str, params: dict) -> FrameSamplingJob:
    """Record a sampling job (QUEUED); :func:`sampling_job_dispatch` sends it."""
    clean = sampling_params_clean(video=video, strategy=strategy, params=params)
    return FrameSamplingJob.objects.create(
        video=video, strategy=strategy, params=clean, created_by=user
    )


def sampling_job_dispatch(*, job: FrameSamplingJob) -> None:
    """Hand the job to the ``default`` queue; on a broker outage the row is deleted and
    :class:`webapp.jobs.BrokerUnavailable` raised (the API answers 503)."""
    from ..tasks import frame_sampling_run  # the task module imports this one

    job_dispatch(job=job, task=frame_sampling_run)


def sampling_job_start(*, video: Video, user, strategy: str, params: dict) -> FrameSamplingJob:
    job = sampling_job_create(video=video, user=user, strategy=strategy, params=params)
    sampling_job_dispatch(job=job)
    return job


def sampling_job_execute(*, job_id: int) -> None:
    """Run a sampling job in a worker: claim it, decode the wanted frames, store each new
    one, beat with progress, stop on cancel. Safe to run twice: a second delivery finds
    the job claimed or finished, and frames already stored are never decoded again."""
    job = job_claim(model=FrameSamplingJob, job_id=job_id)
    if job is None:
        return
    run = _SamplingRun(job)
    try:
        video = Video.objects.get(pk=job.video_id)
        with video_local_path(video=video) as path:
            existing = set(video.frames.values_list("frame_index", flat=True))
            for sampled in _sampler(job, path, skip=existing, progress=run.on_progress):
                if frame_store(video=video, sampled=sampled) is not None:
                    run.created += 1
                run.beat()
        run.beat(force=True)
        _finish(job, status=JobStatus.SUCCEEDED, message=run.summary(done=True))
    except JobCancelled:
        _finish(job, status=JobStatus.CANCELLED, message=run.summary(done=False))
    except SoftTimeLimitExceeded:
        _finish(
            job,
            status=JobStatus.TIMED_OUT,
            message=run.summary(done=False),
            error="The job ran past the queue's time limit.",
        )
    except video_io.VideoError as exc:
        if exc.detail:
            log.warning("sampling job %s: %s (%s)", job.pk, exc, exc.detail[-500:])
        _finish(job, status=JobStatus.FAILED, error=str(exc), message=run.summary(False))
    except Video.DoesNotExist:
        _finish(job, status=JobStatus.CANCELLED, message="The video was deleted.")
    except Exception as exc:
        log.exception("sampling job %s failed", job.pk)
        _finish(
            job,
            status=JobStatus.FAILED,
            message=run.summary(done=False),
            error=f"Unexpected error: {type(exc).__name__}: {exc}",
        )
    finally:
        FrameSamplingJob.objects.filter(pk=job.pk).update(frames_created=run.created)


def _finish(job: FrameSamplingJob, **kwargs) -> None:
    try:
        job_finish(job=job, **kwargs)
    except FrameSamplingJob.DoesNotExist:
        pass  # the video, and with it the job, was deleted while it ran


def frame_store(*, video: Video, sampled: video_io.SampledFrame) -> Frame | None:
    """Store one sampled frame; None when the video already has that frame (re-sampling
    and redelivered jobs never duplicate one) or no longer exists."""
    if Frame.objects.filter(video_id=video.pk, frame_index=sampled.index).exists():
        return None
    height, width = sampled.image.shape[:2]
    buffer = io.BytesIO()
    Image.fromarray(sampled.image[:, :, ::-1]).save(buffer, "JPEG", quality=FRAME_JPEG_QUALITY)
    name = default_storage.save(
        f"frames/{video.project_id}/{video.pk}/{sampled.index:07d}-{uuid.uuid4().hex[:8]}.jpg",
        ContentFile(buffer.getvalue()),
    )
    try:
        with transaction.atomic():
            return Frame.objects.create(
                project_id=video.project_id,
                video_id=video.pk,
                frame_index=sampled.index,
                timestamp_s=float(sampled.timestamp_s),
                image=name,
                width=width,
                height=height,
            )
    except IntegrityError:
        # Another job stored this frame first, or the video was deleted meanwhile.
        delete_quietly(name)
        return None
    except BaseException:
        delete_quietly(name)
        raise


def sampling_job_cancel(*, job: FrameSamplingJob) -> FrameSamplingJob:
    from webapp.jobs import job_request_cancel

    job_request_cancel(job=job)
    return job


def _sampler(job: FrameSamplingJob, path: Path, *, skip: set[int], progress):
    params = job.params or {}
    common = {
        "skip_indices": skip,
        "skip_similar": params.get("skip_similar"),
        "progress": progress,
        "timeout_s": float(settings.DEFAULT_QUEUE_SOFT_TIME_LIMIT),
    }
    strategy = job.strategy
    if strategy == FrameSamplingJob.Strategy.EVERY_SECONDS:
        return video_io.sample_every_seconds(path, float(params["seconds"]), **common)
    if strategy == FrameSamplingJob.Strategy.UNIFORM:
        return video_io.sample_uniform(path, int(params["n"]), **common)
    if strategy == FrameSamplingJob.Strategy.KMEANS:
        return video_io.sample_kmeans(path, int(params["n"]), **common)
    if strategy == FrameSamplingJob.Strategy.INDICES:
        return video_io.sample_indices(path, [int(i) for i in params["indices"]], **common)
    raise video_io.VideoSampleError(f"Unknown sampling strategy {strategy!r}.")


class _SamplingRun:
    """Progress and heartbeats of one sampling job (beats are throttled: each one is
    two queries, and the page polls about once a second)."""

    def __init__(self, job: FrameSamplingJob) -> None:
        self.job = job
        self.created = 0
        self.progress = 0.0
        self.similar = 0
        self.failed = 0
        self.frames_read = ""
        self.kmeans = job.strategy == FrameSamplingJob.Strategy.KMEANS
        self.interval = min(1.0, float(settings.JOB_HEARTBEAT_INTERVAL))
        self._last = 0.0

    def on_progress(self, report: video_io.SampleProgress) -> None:
        fraction = report.frames_done / report.frame_count if report.frame_count else 0.0
        if self.kmeans:
            fraction = 0.5 * fraction + (0.5 if report.phase == "sample" else 0.0)
        self.progress = max(self.progress, min(fraction, 0.99))
        if report.phase == "sample":
            self.similar = report.frames_similar
            self.failed = report.frames_failed
        verb = "Scanning" if report.phase == "scan" else "Reading"
        self.frames_read = f"{verb} frame {report.frames_done:,} of {report.frame_count:,}"
        self.beat()

    def beat(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        FrameSamplingJob.objects.filter(pk=self.job.pk).update(frames_created=self.created)
        message = f"{self.frames_read}: {self.created} new frames" if self.frames_read else None
        job_heartbeat(job=self.job, progress=self.progress, message=message)

    def summary(self, done: bool) -> str:
        parts = [f"{self.created} new frame{'s' if self.created != 1 else ''}"]
        if self.similar:
            parts.append(f"{self.similar} skipped as near-duplicates")
        if self.failed:
            parts.append(f"{self.failed} could not be decoded")
        return ("Done: " if done else "Stopped: ") + ", ".join(parts) + "."
