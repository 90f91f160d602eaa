"""Streaming uploads with a hard size limit.

Django streams a multipart body larger than ``FILE_UPLOAD_MAX_MEMORY_SIZE`` to temp files,
but it never stops a body for being large. :class:`LimitedUploadHandler` counts the bytes
as they arrive and aborts the request once the files together pass ``max_bytes``: the
temp file being written is removed at once (the parser closes, and so removes, the files
already finished), so an over-limit upload leaves nothing in ``FILE_UPLOAD_TEMP_DIR``.

Install it before anything reads the body; for a DRF view, in ``initialize_request``
(session authentication reads ``request.POST`` for the CSRF token, before the view runs):
:class:`ProjectUploadMixin` does that for the views that upload into a project.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from rest_framework import status
from rest_framework.exceptions import APIException

from webapp.scratch import owner_tag

from .models import Role
from .selectors import project_for_user

# Multipart headers and small form fields ride along with the files in Content-Length.
FORM_OVERHEAD_BYTES = 256 * 1024


class UploadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__({"file": [f"The upload is larger than the limit of {_human(max_bytes)}."]})


class StreamedUpload(UploadedFile):
    """An upload streamed into a temp file with a fixed, server-chosen suffix (the
    client's file name is display text only); the file is removed when closed."""

    def __init__(
        self,
        name: str,
        content_type: str,
        charset: str | None,
        content_type_extra: dict | None = None,
    ) -> None:
        file = tempfile.NamedTemporaryFile(
            prefix="upload-" + owner_tag(), suffix=".part", dir=settings.FILE_UPLOAD_TEMP_DIR
        )
        super().__init__(file, name, content_type, 0, charset, content_type_extra)

    def temporary_file_path(self) -> str:
        return self.file.name

    @property
    def path(self) -> Path:
        return Path(self.file.name)

    def close(self) -> None:
        try:
            return self.file.close()
        except FileNotFoundError:
            pass  # already gone: the goal was its removal


class LimitedUploadHandler(FileUploadHandler):
    """Streams every file of a request to disk and refuses more than ``max_bytes`` in all.

    ``before_parse`` (optional) runs before any byte of the body is stored: views use it
    to refuse non-members and viewers before they can fill the temp directory.
    """

    chunk_size = 1024 * 1024

    def __init__(
        self, request=None, *, max_bytes: int, before_parse: Callable[[], None] | None = None
    ) -> None:
        super().__init__(request)
        self.max_bytes = int(max_bytes)
        self.before_parse = before_parse
        self.received = 0
        # ``self.file`` (the file being written) exists only while one is open: Django's
        # parser closes ``handler.file`` when it has one.

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if self.before_parse is not None:
            self.before_parse()
        # An honest Content-Length past the limit is refused before a byte is stored; a
        # missing or lying one is caught chunk by chunk below.
        if content_length and content_length > self.max_bytes + FORM_OVERHEAD_BYTES:
            raise UploadTooLarge(self.max_bytes)
        return None

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.file = StreamedUpload(
            self.file_name, self.content_type, self.charset, self.content_type_extra
        )

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.upload_interrupted()
            raise UploadTooLarge(self.max_bytes)
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> StreamedUpload:
        self.file.flush()
        self.file.seek(0)
        self.file.size = file_size
        done = self.file
        del self.file
        return done

    def upload_interrupted(self) -> None:
        file = getattr(self, "file", None)
        if file is not None:
            file.close()
            del self.file


class ProjectUploadMixin:
    """For an ``APIView`` whose POST streams files into the project ``project_id`` of the URL.

    Installs a :class:`LimitedUploadHandler` before anything reads the body, so the size
    limit holds while streaming and a non-member or viewer is refused (404/403) before a
    byte is stored. ``release_uploads`` in the view's ``finally`` removes the temp files.
    """

    def upload_max_bytes(self) -> int:
        return settings.MAX_UPLOAD_BYTES  # read per request, not at import

    def initialize_request(self, request, *args, **kwargs):
        if request.method == "POST":
            project_id = kwargs.get("project_id")

            def may_upload() -> None:
                project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)

            self.upload_handler = LimitedUploadHandler(
                request, max_bytes=self.upload_max_bytes(), before_parse=may_upload
            )
            request.upload_handlers = [self.upload_handler]
        return super().initialize_request(request, *args, **kwargs)

    def release_uploads(self, uploads) -> None:
        for upload in uploads:
            upload.close()  # removes the temp file
        handler = getattr(self, "upload_handler", None)
        if handler is not None:
            handler.upload_interrupted()


def upload_temp_path(upload) -> Path:
    """Where ``upload`` was streamed; a 400 on ``file`` if it was not streamed to disk."""
    try:
        return Path(upload.temporary_file_path())
    except AttributeError:  # only our streaming handler is installed; be explicit anyway
        raise ValidationError({"file": "The upload could not be stored."}) from None


def _human(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:g} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover
