"""Nothing is left behind: a deleted project takes its stored files with it (after the
transaction commits), and every trajectory download streams without leaving a file in
scratch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeling.services import project_create
from tests.tracking.run_helpers import make_tracked_run, make_trajectory
from tests.tracking.run_helpers import make_video as make_video_row
from tracking.exporting import EXPORTS

AREAS = ("videos", "thumbnails", "frames", "imports", "datasets", "exports", "training",
         "models", "tracking")  # fmt: skip


def stored_files(project_id: int) -> list[str]:
    """Every file under the project's folders of media."""
    found: list[str] = []

    def walk(prefix: str) -> None:
        try:
            dirs, files = default_storage.listdir(prefix)
        except (FileNotFoundError, NotADirectoryError):
            return
        found.extend(f"{prefix}/{f}" for f in files)
        for d in dirs:
            walk(f"{prefix}/{d}")

    for area in AREAS:
        walk(f"{area}/{project_id}")
    return found


def a_project_with_files(owner, name: str):
    """A project with a video file, thumbnail, frame image, model weights, a finished
    run (trajectory + chunk folder + render) and a stored export zip."""
    from labeling.models import Frame
    from tracking.models import TrackingRender
    from webapp.models import JobStatus

    project = project_create(name=name, owner=owner)
    video = make_video_row(project, frame_count=30)
    video.file = default_storage.save(f"videos/{project.pk}/v.mp4", ContentFile(b"not a video"))
    video.save(update_fields=["file"])
    frame_image = default_storage.save(
        f"frames/{project.pk}/{video.pk}/0000001.jpg", ContentFile(b"jpeg")
    )
    Frame.objects.create(
        project=project, video=video, frame_index=1, image=frame_image, width=640, height=480
    )
    centres = np.stack([np.arange(30.0) + 50, np.full(30, 60.0)], axis=1)
    run = make_tracked_run(project=project, video=video, trajectory=make_trajectory(centres))
    default_storage.save(
        f"tracking/{project.pk}/{run.pk}/detections/chunk-000000.parquet", ContentFile(b"x")
    )
    render_file = default_storage.save(
        f"tracking/{project.pk}/{run.pk}/render-1.mp4", ContentFile(b"mp4")
    )
    TrackingRender.objects.create(run=run, file=render_file, status=JobStatus.SUCCEEDED)
    default_storage.save(f"exports/{project.pk}/e.zip", ContentFile(b"zip"))
    default_storage.save(f"models/{project.pk}/imported/m.pt", ContentFile(b"pt"))
    return project


@pytest.mark.django_db(transaction=True)
def test_deleting_a_project_removes_its_files_and_keeps_the_others(api_client_for, owner):
    doomed = a_project_with_files(owner, "Doomed")
    kept = a_project_with_files(owner, "Kept")
    before = stored_files(kept.pk)
    assert len(stored_files(doomed.pk)) >= 9
    response = api_client_for(owner).delete(f"/api/projects/{doomed.pk}/")
    assert response.status_code == 204, response.content
    assert stored_files(doomed.pk) == []
    assert stored_files(kept.pk) == before


@pytest.mark.django_db(transaction=True)
def test_a_refused_project_deletion_keeps_its_files(api_client_for, owner, monkeypatch):
    from django.core.exceptions import ValidationError

    from labeling import services

    project = a_project_with_files(owner, "Stays")
    before = stored_files(project.pk)

    def refuse(*args, **kwargs):
        raise ValidationError({"project": "refused for the test"})

    monkeypatch.setattr(services, "_delete_with_protecting_rows", refuse)
    response = api_client_for(owner).delete(f"/api/projects/{project.pk}/")
    assert response.status_code == 400
    assert stored_files(project.pk) == before


@pytest.mark.django_db(transaction=True)
def test_downloads_of_every_format_leave_nothing_in_scratch(api_client_for, owner, project):
    centres = np.stack([np.arange(40.0) + 50, np.full(40, 60.0)], axis=1)
    video = make_video_row(project, frame_count=40)
    run = make_tracked_run(project=project, video=video, trajectory=make_trajectory(centres))
    client = api_client_for(owner)
    scratch = Path(settings.SCRATCH_DIR)
    before = {p for p in scratch.rglob("*")} if scratch.exists() else set()
    for _ in range(3):
        for fmt in EXPORTS:
            response = client.get(f"/api/tracking-runs/{run.pk}/trajectory.{fmt}")
            assert response.status_code == 200, (fmt, response.content)
            assert b"".join(response.streaming_content), fmt
            response.close()
    left = {p for p in scratch.rglob("*") if p.is_file()} - before
    assert not left, sorted(left)
    exports = scratch / "exports"
    assert not exports.exists() or not any(exports.iterdir()), list(exports.iterdir())
