"""The same recording twice in one project (issue 21, item 12) could land in train and
test: identical content (sha256) is refused at upload, chunked upload and registration,
with a 400 naming the video it duplicates and nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.models import ChunkedUpload, Video, VideoUploadJob
from labeling.services import project_create
from labeling.videos.upload_work import video_upload_job_execute
from tests.labeling.video_helpers import files_on_disk, table_counts, upload, write_video

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("dup") / "cage.mp4", frames=12)


@pytest.fixture(scope="module")
def other_recording(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("dup2") / "other.mp4", frames=14)


def _first(client, project, recording) -> Video:
    response = upload(client, project.pk, ("mouse 1 day 1.mp4", recording))
    assert response.status_code == 201, response.content
    return Video.objects.get(pk=response.json()["id"])


def test_the_same_recording_uploaded_again_is_a_400_naming_the_first(
    api_client_for, owner, project, recording, other_recording
):
    client = api_client_for(owner)
    first = _first(client, project, recording)
    before, counts = files_on_disk(), table_counts()
    again = upload(client, project.pk, ("renamed copy.mp4", recording))
    assert again.status_code == 400, again.content
    message = again.json()["file"][0]
    assert "mouse 1 day 1.mp4" in message and f"#{first.pk}" in message, message
    assert "renamed copy.mp4" in message
    assert files_on_disk() == before and table_counts() == counts
    # Other content is fine, and so is the same recording in another project.
    assert upload(client, project.pk, ("other.mp4", other_recording)).status_code == 201
    elsewhere = project_create(name="Elsewhere", owner=owner)
    assert upload(client, elsewhere.pk, ("cage.mp4", recording)).status_code == 201


def test_a_deleted_recording_can_be_uploaded_again(api_client_for, owner, project, recording):
    client = api_client_for(owner)
    first = _first(client, project, recording)
    assert client.delete(f"/api/videos/{first.pk}/").status_code in (200, 204)
    assert upload(client, project.pk, ("cage.mp4", recording)).status_code == 201


def test_a_recording_registered_in_place_duplicates_an_uploaded_one_and_back(
    api_client_for, owner, project, recording, tmp_path, settings
):
    root = tmp_path / "share"
    root.mkdir()
    (root / "m1.mp4").write_bytes(recording.read_bytes())
    settings.SHARED_VIDEO_ROOTS = [root]
    client = api_client_for(owner)
    first = _first(client, project, recording)
    counts = table_counts()
    registered = client.post(
        f"/api/projects/{project.pk}/videos/register/",
        {"path": str(root / "m1.mp4")},
        format="json",
    )
    assert registered.status_code == 400, registered.content
    assert f"#{first.pk}" in registered.json()["path"][0]
    assert table_counts() == counts
    # The other way round: registered first, then the same bytes uploaded.
    assert client.delete(f"/api/videos/{first.pk}/").status_code in (200, 204)
    registered = client.post(
        f"/api/projects/{project.pk}/videos/register/",
        {"path": str(root / "m1.mp4")},
        format="json",
    )
    assert registered.status_code == 201, registered.content
    again = upload(client, project.pk, ("cage.mp4", recording))
    assert again.status_code == 400 and "m1.mp4" in again.json()["file"][0]


@pytest.mark.django_db(transaction=True)
def test_a_chunked_upload_of_the_same_recording_fails_its_job_naming_the_first(
    api_client_for, owner, project, recording, monkeypatch
):
    from labeling import tasks

    class Sent:
        id = "in-process"

    monkeypatch.setattr(
        tasks.video_upload_run,
        "apply_async",
        lambda args, **kw: (video_upload_job_execute(job_id=args[0]), Sent())[1],
    )
    client = api_client_for(owner)
    first = _first(client, project, recording)
    data = recording.read_bytes()
    body = client.post(
        f"/api/projects/{project.pk}/uploads/",
        {"file_name": "copy.mp4", "size": len(data)},
        format="json",
    ).json()
    sent = client.generic(
        "PATCH",
        body["url"],
        data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET="0",
    )
    assert sent.status_code == 204
    job = client.get(client.post(body["complete_url"]).json()["url"]).json()
    assert job["status"] == "failed", job
    assert "mouse 1 day 1.mp4" in job["error"] and f"#{first.pk}" in job["error"], job
    assert Video.objects.count() == 1 and not ChunkedUpload.objects.exists()
    assert VideoUploadJob.objects.get().video is None
