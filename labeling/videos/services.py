"""Every write to frame sources (videos and image sets): upload, registration in place and
deletion. Sampling frames from a video is :mod:`labeling.videos.sampling_services`.

Untrusted files are only ever opened by :mod:`media.probe` (a limited subprocess)
and :mod:`labeling.videos.imagesets`; a file that fails there ends as a ``ValidationError``
naming the field, with nothing left in storage or in the database.

Image sets keep their JPEG and PNG files as uploaded (no second generation of loss); other
formats become PNG.
"""

from __future__ import annotations

import io
import logging
import os
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from media.probe import DEFAULT_PROBE_TIMEOUT_S, VideoError, VideoInfo, VideoProbeError, probe_video
from media.sampling import sample_indices
from webapp.jobs import job_request_cancel
from webapp.models import TERMINAL_STATUSES
from webapp.scratch import owner_tag
from webapp.storage import delete_quietly, local_copy, scratch_dir, sha256_of_file, store_file

from ..models import Frame, Project, Video
from . import imagesets
from .duplicates import video_create_once, video_refuse_duplicate
from .selectors import video_annotated_frame_count

log = logging.getLogger(__name__)

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


def frame_source_upload(
    *,
    project: Project,
    user,
    files: list[IncomingFile],
    move: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> Video:
    """One video, one zip of images, or several images become one frame source.
    ``move`` and ``on_step``: see :func:`video_upload` (images ignore them)."""
    if not files:
        raise ValidationError({"file": "No file was uploaded."})
    for incoming in files:
        if incoming.size <= 0 or not incoming.path.is_file() or incoming.path.stat().st_size == 0:
            raise ValidationError({"file": f"“{display_name(incoming.name)}” is empty (0 bytes)."})
    kinds = [_content_kind(f.path) for f in files]
    if kinds == ["video"]:
        return video_upload(
            project=project, user=user, incoming=files[0], move=move, on_step=on_step
        )
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


def are_loose_images(files: list[IncomingFile]) -> bool:
    """Whether every file of an upload starts as an image does (by its bytes)."""
    return bool(files) and all(
        f.path.is_file() and f.path.stat().st_size > 0 and _content_kind(f.path) == "image"
        for f in files
    )


def video_upload(
    *,
    project: Project,
    user,
    incoming: IncomingFile,
    move: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> Video:
    """Probe ``incoming`` by decoding it, copy it into storage under a generated name and
    record it. Nothing is stored when the file is not an acceptable video.

    ``move``: ``incoming`` is the caller's own copy, which storage may take by renaming it
    (a multi-GB recording is then not copied a second time). ``on_step("storing")`` is
    called once the probe accepted the file; it may raise (a job's cancel), and then
    nothing is kept."""
    name = display_name(incoming.name)
    info = _probe(incoming.path, field="file")
    ext = CONTAINER_EXTENSIONS.get(info.container, "bin")
    size = incoming.path.stat().st_size
    digest = sha256_of_file(incoming.path)
    video_refuse_duplicate(project=project, sha256=digest, name=name, field="file")
    if on_step is not None:
        on_step("storing")
    stored = thumb = ""
    try:
        # The thumbnail first: once stored by a move, ``incoming.path`` is gone.
        thumb = _video_thumbnail(path=incoming.path, info=info, project=project)
        stored = store_file(
            local_path=incoming.path,
            name=f"videos/{project.pk}/{uuid.uuid4().hex}.{ext}",
            move=move,
        )
        video = video_create_once(
            field="file",
            project=project,
            kind=Video.Kind.VIDEO,
            original_name=name,
            file=stored,
            size_bytes=size,
            sha256=digest,
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
    # Read once more, in the request: a registered copy of an uploaded recording is the
    # same recording (the lab's shared storage is local or a fast mount).
    digest = sha256_of_file(resolved)
    video_refuse_duplicate(
        project=project, sha256=digest, name=display_name(resolved.name), field="path"
    )
    thumb = ""
    try:
        thumb = _video_thumbnail(path=resolved, info=info, project=project)
        video = video_create_once(
            field="path",
            sha256=digest,
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
            raise VideoProbeError(
                "The registered file is no longer available: " + " ".join(exc.messages)
            ) from None
        yield path
        return
    if not video.file:
        raise VideoProbeError("This frame source has no video file.")
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


def _probe(path: Path, *, field: str) -> VideoInfo:
    # strict: an upload cut short (a truncated copy) is refused rather than half-used;
    # the person can send it again. Large files get more time to be indexed.
    timeout = max(DEFAULT_PROBE_TIMEOUT_S, path.stat().st_size / (50 * 1024**2))
    try:
        return probe_video(path, strict=True, timeout_s=timeout)
    except VideoError as exc:
        if exc.detail:
            log.info("video refused: %s (%s)", exc, exc.detail[-500:])
        raise ValidationError({field: str(exc)}) from None


def _info_fields(info: VideoInfo) -> dict:
    return {
        "frame_count": info.frame_count,
        "fps": info.fps,
        "width": info.width,
        "height": info.height,
        "duration_s": info.duration_s,
        "codec": info.codec[:32],
    }


def _video_thumbnail(*, path: Path, info: VideoInfo, project: Project) -> str:
    """A small JPEG of the frame at 10% of the video (the first frames are often a hand
    or a dark arena); "" when it cannot be made (the video stays usable)."""
    index = min(info.frame_count - 1, info.frame_count // 10)
    try:
        frames = list(sample_indices(path, [index], timeout_s=60))
    except VideoError as exc:
        log.warning("no thumbnail for %s: %s", path.name, exc)
        return ""
    if not frames:
        return ""
    image = Image.fromarray(frames[0].image[:, :, ::-1])
    return _store_thumbnail(image, folder=f"thumbnails/{project.pk}")


def _store_thumbnail(image: Image.Image, *, folder: str) -> str:
    image = image.convert("RGB")
    height = max(1, round(image.height * THUMBNAIL_WIDTH / image.width))
    image = image.resize((THUMBNAIL_WIDTH, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=THUMBNAIL_JPEG_QUALITY)
    return default_storage.save(f"{folder}/{uuid.uuid4().hex}.jpg", ContentFile(buffer.getvalue()))


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

# Stored as uploaded (no generational loss); anything else is re-encoded to PNG.
_KEEP_AS_IS = {"JPEG": "jpg", "PNG": "png"}
_KEEP_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}


def imageset_upload(
    *,
    project: Project,
    user,
    files: list[IncomingFile],
    progress=None,
    store_folders: tuple[str, str] | None = None,
    before_commit: Callable[[Video], None] | None = None,
) -> Video:
    """A zip of images, or several image files, as one frame source whose images are
    its frames (in natural order of their names). ``progress(done, total)`` is called as
    images are stored; it may raise (a job's cancel), and then nothing is kept.

    ``store_folders``: the storage folders of the images and of the thumbnail (a job's own,
    so that what a killed attempt stored can be found again; a new random one by default).
    ``before_commit(video)`` runs inside the transaction that writes the rows, once they are
    written; it may raise to abandon them (a job checks it is still the one running)."""
    kinds = [_content_kind(f.path) for f in files]
    try:
        if "zip" in kinds:
            if len(files) != 1:
                raise ValidationError({"file": "Upload a zip of images on its own."})
            with imagesets.open_zip_images(
                files[0].path,
                limits=_imageset_limits(),
                scratch_dir=scratch_dir("imagesets"),
                scratch_prefix="imageset-" + owner_tag(),
            ) as image_set:
                return _imageset_create(
                    project=project,
                    user=user,
                    name=display_name(files[0].name),
                    entries=image_set.entries,
                    progress=progress,
                    store_folders=store_folders,
                    before_commit=before_commit,
                )
        image_set = imagesets.read_image_files(
            [f.path for f in files],
            names=[display_name(f.name) for f in files],
            limits=_imageset_limits(),
        )
    except imagesets.ImageSetError as exc:
        raise ValidationError({"file": f"Not a usable image set: {exc}."}) from None
    name = image_set.entries[0].name if len(files) == 1 else f"{len(files)} images"
    return _imageset_create(project=project, user=user, name=name, entries=image_set.entries)


def _imageset_limits() -> imagesets.ImageSetLimits:
    return imagesets.ImageSetLimits(check_memory_bytes=settings.IMAGE_CHECK_MEMORY_LIMIT_BYTES)


def _imageset_create(
    *,
    project: Project,
    user,
    name: str,
    entries,
    progress=None,
    store_folders: tuple[str, str] | None = None,
    before_commit: Callable[[Video], None] | None = None,
) -> Video:
    problems = [p for p in (_polyglot_problem(e) for e in entries) if p]
    if problems:
        raise ValidationError({"file": "; ".join(problems[:5])})
    folder, thumb_folder = store_folders or (
        f"frames/{project.pk}/set-{uuid.uuid4().hex[:12]}",
        f"thumbnails/{project.pk}",
    )
    stored: list[str] = []
    rows = []
    try:
        # Files first, outside any transaction (a long write lock would stall the workers).
        for index, entry in enumerate(entries):
            if progress is not None:
                progress(index, len(entries))
            image_name, width, height = _store_set_image(entry, folder=folder, index=index)
            stored.append(image_name)
            rows.append((index, image_name, width, height, entry.name))
        with Image.open(entries[0].path) as first:
            thumb = _store_thumbnail(_upright(first), folder=thumb_folder)
        stored.append(thumb)
        sizes = {(w, h) for _, _, w, h, _ in rows}
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
                    # The name (and folder, in a zip) the lab gave it: exports use it again.
                    source_name=unicodedata.normalize("NFC", source_name)[:1024],
                    width=w,
                    height=h,
                )
                for index, image_name, w, h, source_name in rows
            )
            if before_commit is not None:
                before_commit(video)
    except BaseException:
        delete_quietly(*stored)
        raise
    return video


def _polyglot_problem(entry) -> str | None:
    # The checker scanned the bytes it decoded (imagesets.ImageEntry.markup).
    return f"“{entry.name[:80]}” {entry.markup}" if entry.markup else None


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


@dataclass(frozen=True)
class VideoDeletion:
    """What :func:`video_delete` did. ``hidden``: the row stays, hidden from the project,
    holding ``kept_frames`` frames that the dataset versions ``kept_for`` (names) list."""

    hidden: bool
    deleted_frames: int
    kept_frames: int
    kept_for: tuple[str, ...]

    @property
    def message(self) -> str:
        if not self.hidden:
            return "Deleted, with its frames and files."
        names = ", ".join(f"“{name}”" for name in self.kept_for)
        return (
            f"The video no longer appears in the project and its file and "
            f"{self.deleted_frames} other frame(s) were deleted; {self.kept_frames} frame "
            f"image(s) are kept because dataset version(s) {names} use them (training, "
            "evaluation and exports of those versions, and the models made from them, read "
            "those images)."
        )


def video_delete(*, video: Video, confirm: frozenset[str] = frozenset()) -> VideoDeletion:
    """Delete a frame source, its frames and its stored files.

    Labeled frames and tracking runs go only when ``confirm`` says so ("labels", "runs";
    see :mod:`labeling.videos.deletion` for the statement the page shows): otherwise the
    delete is refused (ValidationError), since it would silently take the boxes with it, and
    the runs' pages play the video and their exports name it. Confirmed runs go through
    ``tracking_run_delete`` (refused while queued or running, with its files otherwise).
    Frames a dataset version lists are kept, rows and images, even once unlabeled: a
    version is an immutable snapshot that training, evaluation and exports materialize
    from those images (and evaluation's per-frame results point at those rows). The video
    is then hidden instead of removed. A registered file on shared storage is left alone.
    """
    from labeling.datasets.versions import dataset_versions_listing_frames

    hidden_names: list[str] = []
    with transaction.atomic():
        locked = Video.objects.select_for_update().filter(pk=video.pk).first()
        if locked is None:
            return VideoDeletion(hidden=False, deleted_frames=0, kept_frames=0, kept_for=())
        annotated = video_annotated_frame_count(video=locked)
        if annotated and "labels" not in confirm:
            raise ValidationError(
                {
                    "video": f"{annotated} frame(s) of this video are annotated; deleting the "
                    "video takes their labels too (confirm=labels,runs)."
                }
            )
        runs = list(locked.tracking_runs.order_by("pk").values_list("pk", flat=True)[:11])
        if runs and "runs" in confirm:
            _delete_runs(locked)
        elif runs:
            listed = ", ".join(f"#{pk}" for pk in runs[:10]) + (" …" if len(runs) > 10 else "")
            raise ValidationError(
                {
                    "video": f"Tracking run(s) {listed} use this video (their pages play it and "
                    "their exports name it); deleting the video takes them too "
                    "(confirm=labels,runs)."
                }
            )
        frames = dict(Frame.all_objects.filter(video=locked).values_list("pk", "image"))
        kept_by = dataset_versions_listing_frames(project_id=locked.project_id, frame_ids=frames)
        kept = set().union(*kept_by.values()) if kept_by else set()
        names = [locked.file.name if locked.file else "", locked.thumbnail.name or ""]
        names += [image for pk, image in frames.items() if pk not in kept]
        if not kept:
            # A running sampling job sees its row gone at its next heartbeat and stops.
            locked.delete()
        else:
            now = timezone.now()
            Frame.all_objects.filter(video=locked).exclude(pk__in=kept).delete()
            Frame.all_objects.filter(pk__in=kept).update(hidden_at=now)
            locked.hidden_at = now
            locked.file = ""
            locked.thumbnail = ""
            locked.save(update_fields=["hidden_at", "file", "thumbnail"])
            # Its details (arena, subject) go as they would with the row: nobody sees them.
            for rel in Video._meta.related_objects:
                if rel.one_to_one:
                    rel.related_model.objects.filter(**{rel.field.name: locked}).delete()
            # Sampling into a hidden video would add frames nobody sees.
            for job in locked.sampling_jobs.exclude(status__in=TERMINAL_STATUSES):
                job_request_cancel(job=job)
            hidden_names = sorted(kept_by)
    delete_quietly(*names)
    return VideoDeletion(
        hidden=bool(kept),
        deleted_frames=len(frames) - len(kept),
        kept_frames=len(kept),
        kept_for=tuple(hidden_names),
    )


def _delete_runs(video: Video) -> None:
    # Tracking sits above labeling: its delete (refusals, files on commit) is reached lazily.
    from tracking.services import tracking_run_delete

    for run in video.tracking_runs.order_by("pk"):
        tracking_run_delete(run=run)
