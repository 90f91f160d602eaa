"""Resumable uploads in chunks, with the offset semantics of the tus protocol.

A client declares the file (name and size), then sends the bytes in chunks, each saying at
which offset it starts (``Upload-Offset``); a chunk cut off midway keeps what arrived. After
a dropped connection or a closed laptop the client asks for the offset (``HEAD``) and
sends the rest from there. Once every byte is in, a job finishes it: a zip of images
becomes an image set (:func:`chunked_upload_complete_as_imageset_job`), anything else goes
through :func:`labeling.videos.services.frame_source_upload` in a job of
:mod:`labeling.videos.upload_work`, exactly as a one-request upload: probed by decoding it
in the sandbox, stored under a generated name, and on any problem the job fails with the
reason and nothing is left behind (the received bytes and the upload's row go too).

The partial file lives in the web server's scratch space (``chunked-uploads/<id>.part``),
so every chunk of an upload must reach the same web server (or the folder must be shared). The
database row holds the offset that counts; an exclusive lock on the partial file keeps two
chunks of one upload from being written at once, and bytes past the recorded offset (a
writer that died before recording them) are dropped before the next chunk is written.
"""

from __future__ import annotations

import fcntl
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import UnreadablePostError
from django.utils import timezone

from webapp.storage import scratch_dir

from ..models import ChunkedUpload, Project
from .services import display_name

log = logging.getLogger(__name__)

#: Largest chunk one request may carry (clients send less: ``chunk_bytes``).
MAX_CHUNK_BYTES = 64 * 1024**2
DEFAULT_CHUNK_BYTES = 8 * 1024**2
_READ_BYTES = 1024**2


class OffsetMismatch(Exception):
    """The chunk does not start where the upload stands; ``offset`` says where it does."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"The upload is at byte {offset}.")
        self.offset = offset


class UploadBusy(Exception):
    """Another request is writing a chunk of this upload right now."""


def chunk_bytes() -> int:
    """The chunk size clients are told to use."""
    return int(getattr(settings, "CHUNKED_UPLOAD_CHUNK_BYTES", DEFAULT_CHUNK_BYTES))


def part_path(upload: ChunkedUpload) -> Path:
    return scratch_dir("chunked-uploads") / f"{upload.pk.hex}.part"  # never the client's name


@contextmanager
def upload_locked(upload: ChunkedUpload) -> Iterator[Path]:
    """The upload's part file, held under an exclusive lock (one writer at a time: a chunk
    being written, or the finished upload being handed to its job); ``UploadBusy`` if
    someone holds it."""
    path = part_path(upload)
    with open(path, "ab") as handle:  # creates it if a crash lost it: offset then says 0
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadBusy() from None
        try:
            yield path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def chunked_upload_create(
    *, project: Project, user, file_name: str, size: int, sample_every: float | None = None
) -> ChunkedUpload:
    """Declare an upload of ``size`` bytes; ValidationError on ``size`` past the limit."""
    limit = int(settings.MAX_UPLOAD_BYTES)
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ValidationError({"size": "Give the file's size in bytes (more than 0)."})
    if size > limit:
        raise ValidationError(
            {"size": f"The file is larger than the limit of {limit / 1024**3:.1f} GB."}
        )
    chunked_uploads_expire()
    upload = ChunkedUpload.objects.create(
        id=uuid.uuid4(),
        project=project,
        created_by=user,
        file_name=display_name(file_name),
        size=size,
        sample_every=sample_every,
    )
    part_path(upload).touch()
    return upload


def chunked_upload_append(*, upload: ChunkedUpload, offset: int, stream, length: int) -> int:
    """Write ``length`` bytes read from ``stream`` at ``offset``; return the new offset.

    OffsetMismatch when ``offset`` is not where the upload stands; ValidationError when
    the chunk is too large or runs past the declared size; UploadBusy when another chunk is
    being written. A stream that ends early (the connection dropped) keeps what arrived.
    """
    if upload.status != ChunkedUpload.Status.RECEIVING:
        raise ValidationError({"upload": "This upload is already complete."})
    if length > MAX_CHUNK_BYTES:
        raise ValidationError({"Content-Length": f"A chunk may carry at most {MAX_CHUNK_BYTES}."})
    with upload_locked(upload) as path:
        current = ChunkedUpload.objects.filter(pk=upload.pk).values_list("offset", flat=True)
        current = current.first()
        if current is None:
            raise ChunkedUpload.DoesNotExist()
        if offset != current:
            raise OffsetMismatch(current)
        if offset + length > upload.size:
            raise ValidationError(
                {"Content-Length": f"The chunk runs past the declared size of {upload.size}."}
            )
        written = 0
        with open(path, "r+b") as out:
            out.truncate(offset)  # bytes a dead writer left past the recorded offset
            out.seek(offset)
            try:
                while written < length:
                    data = stream.read(min(_READ_BYTES, length - written))
                    if not data:
                        break
                    out.write(data)
                    written += len(data)
            except (UnreadablePostError, OSError) as exc:
                log.info("chunk of upload %s cut off after %d bytes: %s", upload.pk, written, exc)
            out.flush()
        upload.offset = offset + written
        ChunkedUpload.objects.filter(pk=upload.pk).update(
            offset=upload.offset, updated_at=timezone.now()
        )
    return upload.offset


#: An upload nobody added a byte to for this long is given up (its partial file deleted).
EXPIRE_AFTER = timedelta(days=7)


def chunked_uploads_expire(*, older_than: timedelta | None = None) -> int:
    """Remove unfinished uploads untouched for ``older_than`` (default
    ``CHUNKED_UPLOAD_EXPIRE_DAYS`` days, 7): a closed laptop may come back after a
    weekend, a forgotten upload should not fill the disk. Runs whenever an upload starts;
    returns how many were removed."""
    days = getattr(settings, "CHUNKED_UPLOAD_EXPIRE_DAYS", None)
    age = older_than or (timedelta(days=days) if days is not None else EXPIRE_AFTER)
    stale = list(
        ChunkedUpload.objects.filter(
            status=ChunkedUpload.Status.RECEIVING, updated_at__lt=timezone.now() - age
        )[:100]
    )
    for upload in stale:
        chunked_upload_abort(upload=upload)
    return len(stale)


def chunked_upload_abort(*, upload: ChunkedUpload) -> None:
    """Give up an upload: its bytes and its row go."""
    part_path(upload).unlink(missing_ok=True)
    upload.delete()


def chunked_upload_complete_as_imageset_job(*, upload: ChunkedUpload, user):
    """When the assembled file is a zip, queue the job that makes it an image set and
    forget the upload (its bytes move into the job); None when it is not a zip."""
    from ..datasets import archives
    from .imageset_services import imageset_job_start

    with upload_locked(upload) as path:
        if not archives.is_zip(path) or path.stat().st_size != upload.size:
            return None
        try:
            job = imageset_job_start(
                project=upload.project, user=user, path=path, name=upload.file_name
            )
        finally:
            path.unlink(missing_ok=True)
            upload.delete()
    return job
