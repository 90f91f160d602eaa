"""One recording once per project: a video's bytes (sha256) are compared at upload,
chunked upload and registration, since the same recording under two names could land in
both train and test and make the test score meaningless."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from webapp.storage import sha256_of_file

from ..models import Project, Video


def video_refuse_duplicate(*, project: Project, sha256: str, name: str, field: str) -> None:
    """Refuse a recording whose bytes are already a video of ``project`` (one recording in
    both train and test would make the test score meaningless); the message names it."""
    existing = project.videos.filter(sha256=sha256).first()
    if existing is not None:
        raise ValidationError(
            {
                field: f"“{name}” is the same recording as “{existing.original_name}” "
                f"(video #{existing.pk}), already in this project: identical content "
                f"(sha256 {sha256[:12]}…). Nothing was stored."
            }
        )


def video_create_once(*, field: str, **fields) -> Video:
    """Create the row; another upload of the same bytes that won a race is named as
    :func:`video_refuse_duplicate` does."""
    try:
        with transaction.atomic():
            return Video.objects.create(**fields)
    except IntegrityError:
        video_refuse_duplicate(
            project=fields["project"],
            sha256=fields["sha256"],
            name=fields["original_name"],
            field=field,
        )
        raise


def video_with_same_content(*, project: Project, path: Path) -> Video | None:
    """The project's video whose bytes are the file at ``path``'s, if any."""
    return project.videos.filter(sha256=sha256_of_file(path)).first()
