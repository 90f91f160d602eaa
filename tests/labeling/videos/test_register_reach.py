"""Registering a file in place says which queues' workers cannot read it: each worker reports
the shared video folders it can read, and a queue none of whose workers can is named, on the
API answer, the video page and the command's output."""

from __future__ import annotations

import io

import pytest

from django.core.cache import cache
from django.core.management import call_command

from labeling.models import Video
from labeling.videos.selectors import video_reach_warnings
from tests.conftest import wait_for
from tests.labeling.video_helpers import write_video

pytestmark = pytest.mark.worker


@pytest.mark.django_db(transaction=True)
def test_registration_names_the_queue_whose_workers_cannot_read_the_file(
    start_worker, settings, tmp_path, project, owner, api_client_for, client
):
    shared = tmp_path / "lab-share"
    shared.mkdir()
    path = write_video(shared / "day1.mp4")
    settings.SHARED_VIDEO_ROOTS = [shared]
    start_worker(queues=("default",), env={"SHARED_VIDEO_ROOTS": str(shared)})
    start_worker(queues=("gpu",), env={"SHARED_VIDEO_ROOTS": str(tmp_path / "elsewhere")})

    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/videos/register/", {"path": str(path)}, format="json"
    )
    assert response.status_code == 201, response.content
    video = Video.objects.get(pk=response.json()["id"])

    def gpu_only():  # workers answer the broadcast within its timeout, under load or not
        cache.clear()
        warnings = video_reach_warnings(video=video)
        return warnings if len(warnings) == 1 and "'gpu' queue" in warnings[0] else None

    (warning,) = wait_for(gpu_only, timeout=60, what="the workers' shared folders")
    assert str(path) in warning and "tracking and pre-labeling" in warning
    assert "SHARED_VIDEO_ROOTS" in warning

    cache.clear()
    again = api_client_for(owner).post(
        f"/api/projects/{project.pk}/videos/register/", {"path": str(path)}, format="json"
    )
    assert again.status_code == 400  # already registered: the answer above is the one
    client.force_login(owner)
    page = client.get(f"/projects/{project.pk}/videos/{video.pk}/").content.decode()
    assert "reach-warning" in page and "&#x27;gpu&#x27; queue" in page


@pytest.mark.django_db(transaction=True)
def test_the_register_answer_and_the_command_carry_the_warning(
    start_worker, settings, tmp_path, project, owner, api_client_for
):
    shared = tmp_path / "share"
    shared.mkdir()
    settings.SHARED_VIDEO_ROOTS = [shared]
    start_worker(queues=("default", "gpu"), env={"SHARED_VIDEO_ROOTS": "/nonexistent-root"})
    first = write_video(shared / "a.mp4")

    def answer():
        cache.clear()
        Video.objects.filter(external_path__endswith="a.mp4").delete()
        body = (
            api_client_for(owner)
            .post(
                f"/api/projects/{project.pk}/videos/register/", {"path": str(first)}, format="json"
            )
            .json()
        )
        return body if len(body.get("reach_warnings", [])) == 2 else None

    body = wait_for(answer, timeout=60, what="both queues named")
    assert {w.split("'")[1] for w in body["reach_warnings"]} == {"default", "gpu"}

    cache.clear()
    err = io.StringIO()
    second = write_video(shared / "b.mp4", frames=14)  # another recording: not a duplicate
    call_command(
        "add_video", "--project", project.name, "--in-place", str(second),
        stdout=io.StringIO(), stderr=err,
    )  # fmt: skip
    assert "No worker on the 'gpu' queue can read" in err.getvalue()
