"""Resumable chunked uploads: offsets, a chunk cut off midway, resuming, the assembled
file probed like any upload (in a job, not in the request), and no trace of a refused one."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pytest

from django.conf import settings
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from labeling import tasks
from labeling.models import ChunkedUpload, FrameSamplingJob, Role, Video, VideoUploadJob
from labeling.videos import chunked
from labeling.videos.upload_work import video_upload_job_execute
from tests.labeling.dataset_helpers import media_files
from tests.labeling.video_helpers import write_video

CHUNK = 256 * 1024


def start(client, project, *, name: str, size: int, **extra):
    return client.post(
        reverse("api-chunked-upload-start", args=[project.pk]),
        {"file_name": name, "size": size, **extra},
        format="json",
    )


def patch(client, url: str, offset: int, data: bytes):
    return client.generic(
        "PATCH",
        url,
        data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=str(offset),
    )


class Dropping(io.BytesIO):
    """A request body whose connection resets after ``after`` bytes."""

    def __init__(self, data: bytes, *, after: int) -> None:
        super().__init__(data)
        self.after = after

    def read(self, n=-1):
        if self.tell() >= self.after:
            raise OSError("connection reset by peer")
        return super().read(min(n, self.after - self.tell()))


def parts() -> set[str]:
    return {p.name for p in (Path(settings.SCRATCH_DIR) / "chunked-uploads").glob("*.part")}


def stored_uploads() -> set[str]:
    """Received files waiting in media storage (``imports/``). Tests compare with what was
    there before them: a dataset import whose worker was killed keeps its zip for a retry."""
    return {f for f in media_files() if f.startswith("imports/")}


class _Sent:
    id = "in-process"


@pytest.fixture
def run_upload_jobs(monkeypatch) -> list[int]:
    """Video upload jobs run here, at once, instead of being published (the real worker
    path is tests/e2e/test_chunked_upload_e2e.py's); sampling jobs are only recorded."""
    ran: list[int] = []
    sampled: list[int] = []

    def run(args, **kwargs):
        ran.append(args[0])
        video_upload_job_execute(job_id=args[0])
        return _Sent()

    monkeypatch.setattr(tasks.video_upload_run, "apply_async", run)
    monkeypatch.setattr(
        tasks.frame_sampling_run,
        "apply_async",
        lambda args, **kw: sampled.append(args[0]) or _Sent(),
    )
    return ran


def send_all(client, body: dict, data: bytes) -> None:
    for offset in range(0, len(data), CHUNK):
        response = patch(client, body["url"], offset, data[offset : offset + CHUNK])
        assert response.status_code == 204, response.content


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_upload_resumes_and_assembles_the_same_bytes(
    project, owner, api_client_for, openfield_video, run_upload_jobs
):
    uploads_before = stored_uploads()
    data = openfield_video.read_bytes()
    client = api_client_for(owner)
    before_parts = parts()  # tests that ran before may have left theirs
    body = start(client, project, name="openfield-m3v1.mp4", size=len(data)).json()
    url = body["url"]
    assert body["offset"] == 0 and body["chunk_bytes"] > 0
    assert patch(client, url, 0, data[:CHUNK]).status_code == 204
    # The connection drops 1000 bytes into the second chunk: those are kept.
    upload = ChunkedUpload.objects.get(pk=body["id"])
    cut = Dropping(data[CHUNK : 2 * CHUNK], after=1000)
    assert chunked.chunked_upload_append(upload=upload, offset=CHUNK, stream=cut, length=CHUNK) == (
        CHUNK + 1000
    )
    head = client.head(url)
    assert head.status_code == 200
    offset = int(head["Upload-Offset"])
    assert offset == CHUNK + 1000 and int(head["Upload-Length"]) == len(data)
    # A chunk sent from a stale offset is refused with the right one.
    stale = patch(client, url, CHUNK, data[CHUNK : 2 * CHUNK])
    assert stale.status_code == 409 and stale.json()["offset"] == offset
    assert stale["Upload-Offset"] == str(offset)
    # Completing too early says what is missing.
    early = client.post(body["complete_url"])
    assert early.status_code == 400 and "offset" in early.json()
    while offset < len(data):
        response = patch(client, url, offset, data[offset : offset + CHUNK])
        assert response.status_code == 204, response.content
        offset = int(response["Upload-Offset"])
    done = client.post(body["complete_url"])
    # The request only hands the file to a job (202); the job probes and stores it.
    assert done.status_code == 202, done.json()
    assert done.json()["kind"] == "video_upload_job" and len(run_upload_jobs) == 1
    job = client.get(done.json()["url"]).json()
    assert job["status"] == "succeeded" and job["message"] == "Added (640×480, 2330 frames)."
    assert job["video_detail"]["frame_count"] == 2330 and job["page_url"]
    video = Video.objects.get(pk=job["video"])
    assert video.original_name == "openfield-m3v1.mp4" and video.frame_count == 2330
    with default_storage.open(video.file.name, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert parts() == before_parts, "the partial file is removed once the video is stored"
    assert stored_uploads() == uploads_before, "the job's copy too"
    assert ChunkedUpload.objects.get().status == "complete"
    # Completing again: the video, and no second job.
    again = client.post(body["complete_url"])
    assert again.status_code == 201 and again.json()["id"] == video.pk
    assert Video.objects.filter(project=project).count() == 1 and len(run_upload_jobs) == 1


def _truncated_video(folder: Path) -> bytes:
    """A real MP4 (index at the start) cut at two thirds, as a copy that stopped early."""
    data = write_video(folder / "cut.mp4", frames=60, faststart=True).read_bytes()
    return data[: len(data) * 2 // 3]


REFUSED = {
    "random bytes named .mp4": (lambda folder: bytes(range(256)) * 4096, "not a video"),
    "truncated video": (_truncated_video, "truncated"),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", list(REFUSED))
def test_a_refused_file_fails_its_job_with_the_reason_and_leaves_no_trace(
    project, owner, api_client_for, run_upload_jobs, tmp_path, case
):
    make, reason = REFUSED[case]
    data = make(tmp_path)
    client = api_client_for(owner)
    before_media, before_parts = media_files(), parts()
    body = start(client, project, name="clip.mp4", size=len(data), sample_every=1.5).json()
    send_all(client, body, data)
    response = client.post(body["complete_url"])
    assert response.status_code == 202, response.content
    job = client.get(response.json()["url"]).json()
    assert job["status"] == "failed" and reason in job["error"], job
    assert job["video"] is None and job["video_detail"] is None and job["sampling_job"] is None
    # Nothing kept: no video, no sampling, no stored or partial bytes, no upload to resume.
    assert not Video.objects.exists() and not FrameSamplingJob.objects.exists()
    assert not ChunkedUpload.objects.exists()
    assert media_files() == before_media and parts() == before_parts
    assert client.head(body["url"]).status_code == 404
    assert VideoUploadJob.objects.get().upload.name == ""


@pytest.mark.django_db(transaction=True)
def test_an_accepted_video_is_added_by_its_job_and_sampling_starts(
    project, owner, api_client_for, run_upload_jobs, tmp_path
):
    uploads_before = stored_uploads()
    data = write_video(tmp_path / "cage.mp4", frames=30, faststart=True).read_bytes()
    client = api_client_for(owner)
    body = start(client, project, name="cage 7.mp4", size=len(data), sample_every=0.5).json()
    send_all(client, body, data)
    job = client.get(client.post(body["complete_url"]).json()["url"]).json()
    assert job["status"] == "succeeded" and job["progress"] == 1.0, job
    video = Video.objects.get()
    assert job["video"] == video.pk and job["video_detail"]["original_name"] == "cage 7.mp4"
    assert (video.frame_count, video.width, video.height) == (30, 64, 48) and video.thumbnail
    sampling = FrameSamplingJob.objects.get()
    assert job["sampling_job"] == sampling.pk and job["sampling_error"] == ""
    assert sampling.video == video and sampling.params == {"seconds": 0.5}
    assert ChunkedUpload.objects.get().video == video
    assert stored_uploads() == uploads_before


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_completion_is_503_and_the_upload_can_complete_later(
    project, owner, api_client_for, tmp_path, request
):
    uploads_before = stored_uploads()
    data = write_video(tmp_path / "cage.mp4", frames=12).read_bytes()
    client = api_client_for(owner)
    body = start(client, project, name="cage.mp4", size=len(data)).json()
    send_all(client, body, data)
    request.getfixturevalue("broker_down")
    response = client.post(body["complete_url"])
    assert response.status_code == 503, response.content
    assert not VideoUploadJob.objects.exists() and not Video.objects.exists()
    # The bytes went back to the upload: it is whole and receiving, nothing else is kept.
    upload = ChunkedUpload.objects.get()
    assert upload.status == "receiving" and upload.offset == len(data)
    assert chunked.part_path(upload).read_bytes() == data
    assert stored_uploads() == uploads_before


@pytest.mark.django_db(transaction=True)
def test_a_lowered_size_limit_still_applies_when_completing(
    project, owner, api_client_for, settings, run_upload_jobs
):
    client = api_client_for(owner)
    body = start(client, project, name="x.mp4", size=5000).json()
    send_all(client, body, b"x" * 5000)
    settings.MAX_UPLOAD_BYTES = 4000
    response = client.post(body["complete_url"])
    assert response.status_code == 400 and "limit" in response.json()["file"][0]
    assert not ChunkedUpload.objects.exists() and not VideoUploadJob.objects.exists()
    assert f"{body['id'].replace('-', '')}.part" not in parts() and run_upload_jobs == []


@pytest.mark.django_db(transaction=True)
def test_completing_while_a_chunk_is_written_is_a_409(project, owner, api_client_for):
    client = api_client_for(owner)
    body = start(client, project, name="x.mp4", size=10).json()
    send_all(client, body, b"0123456789")
    with chunked.upload_locked(ChunkedUpload.objects.get()):
        response = client.post(body["complete_url"])
    assert response.status_code == 409 and response.json()["code"] == "busy"
    assert ChunkedUpload.objects.get().status == "receiving"


@pytest.mark.django_db(transaction=True)
def test_a_queued_upload_job_can_be_cancelled_and_only_members_see_it(
    project, owner, api_client_for, make_user, member_of, monkeypatch
):
    uploads_before = stored_uploads()
    monkeypatch.setattr(tasks.video_upload_run, "apply_async", lambda args, **kw: _Sent())
    client = api_client_for(owner)
    body = start(client, project, name="x.mp4", size=10).json()
    send_all(client, body, b"0123456789")
    job = client.post(body["complete_url"]).json()
    assert job["status"] == "queued" and ChunkedUpload.objects.get().status == "checking"
    assert stored_uploads() - uploads_before, "the bytes wait in storage"
    # Completing again while it waits answers with the same job.
    assert client.post(body["complete_url"]).json()["id"] == job["id"]
    viewer = api_client_for(member_of(make_user("vic"), Role.VIEWER))
    stranger = api_client_for(make_user("stranger"))
    assert viewer.get(job["url"]).status_code == 200
    assert viewer.post(job["cancel_url"]).status_code == 403
    assert stranger.get(job["url"]).status_code == 404
    cancelled = client.post(job["cancel_url"])
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    assert not ChunkedUpload.objects.exists()
    assert f"{body['id'].replace('-', '')}.part" not in parts()
    assert stored_uploads() == uploads_before
    # A worker that picks the message up later does nothing.
    video_upload_job_execute(job_id=job["id"])
    assert not Video.objects.exists()


@pytest.mark.django_db
def test_limits_and_bad_chunks_are_400_naming_the_field(project, owner, api_client_for, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    client = api_client_for(owner)
    response = start(client, project, name="big.mp4", size=1001)
    assert response.status_code == 400 and "size" in response.json()
    assert start(client, project, name="x.mp4", size=0).status_code == 400
    assert not ChunkedUpload.objects.exists()
    body = start(client, project, name="x.mp4", size=1000).json()
    over = patch(client, body["url"], 0, b"x" * 1001)
    assert over.status_code == 400 and "Content-Length" in over.json()
    bad = client.generic("PATCH", body["url"], b"x", content_type="application/offset+octet-stream")
    assert bad.status_code == 400 and "Upload-Offset" in bad.json()
    assert int(client.head(body["url"])["Upload-Offset"]) == 0
    assert client.delete(body["url"]).status_code == 204
    assert not ChunkedUpload.objects.exists() and not parts()


@pytest.mark.django_db
def test_only_the_uploader_sees_and_writes_an_upload(
    project, owner, make_user, member_of, api_client_for
):
    viewer = member_of(make_user("viewer"), Role.VIEWER)
    annotator = member_of(make_user("annotator"), Role.ANNOTATOR)
    stranger = make_user("stranger")
    assert start(api_client_for(viewer), project, name="a.mp4", size=10).status_code == 403
    assert start(api_client_for(stranger), project, name="a.mp4", size=10).status_code == 404
    body = start(api_client_for(owner), project, name="a.mp4", size=10).json()
    for user in (annotator, stranger):
        client = api_client_for(user)
        assert client.head(body["url"]).status_code == 404
        assert patch(client, body["url"], 0, b"0123456789").status_code == 404
        assert client.post(body["complete_url"]).status_code == 404
        assert client.delete(body["url"]).status_code == 404
    assert ChunkedUpload.objects.get().offset == 0


@pytest.mark.django_db
def test_abandoned_uploads_expire_when_a_new_one_starts(project, owner, api_client_for):
    from datetime import timedelta

    from django.utils import timezone

    client = api_client_for(owner)
    old = start(client, project, name="old.mp4", size=10).json()
    patch(client, old["url"], 0, b"01234")
    recent = start(client, project, name="recent.mp4", size=10).json()
    ChunkedUpload.objects.filter(pk=old["id"]).update(updated_at=timezone.now() - timedelta(days=8))
    assert len(parts()) >= 2
    start(client, project, name="new.mp4", size=10)
    assert not ChunkedUpload.objects.filter(pk=old["id"]).exists()
    assert ChunkedUpload.objects.filter(pk=recent["id"]).exists()
    assert f"{old['id'].replace('-', '')}.part" not in parts()


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_died_leaves_nothing_behind(project, owner, api_client_for, monkeypatch):
    uploads_before = stored_uploads()
    from webapp.jobs import jobs_fail_stale

    monkeypatch.setattr(tasks.video_upload_run, "apply_async", lambda args, **kw: _Sent())
    client = api_client_for(owner)
    body = start(client, project, name="x.mp4", size=10).json()
    send_all(client, body, b"0123456789")
    job = client.post(body["complete_url"]).json()
    # A worker took it and was killed: the stale check marks it failed.
    VideoUploadJob.objects.filter(pk=job["id"]).update(
        status="running", heartbeat_at=timezone.now() - timedelta(days=1)
    )
    assert jobs_fail_stale() == 1
    # The stale check itself removes what the dead attempt left: no browser needed.
    assert not ChunkedUpload.objects.exists()
    assert stored_uploads() == uploads_before
    # The job keeps the reason; the upload is gone, and asking to complete it says so.
    shown = client.get(f"/api/video-upload-jobs/{job['id']}/")
    assert shown.status_code == 200 and shown.json()["status"] == "failed"
    assert "stopped responding" in shown.json()["error"]
    assert client.post(body["complete_url"]).status_code == 404
    assert f"{body['id'].replace('-', '')}.part" not in parts()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type", ["application/json", "application/octet-stream", "text/plain", ""]
)
def test_a_chunk_of_another_content_type_is_415_and_writes_nothing(
    project, owner, api_client_for, content_type
):
    """As tus answers: a chunk is ``application/offset+octet-stream`` or it is refused."""
    client = api_client_for(owner)
    body = start(client, project, name="x.mp4", size=100).json()
    answer = client.generic(
        "PATCH", body["url"], b"x" * 10, content_type=content_type, HTTP_UPLOAD_OFFSET="0"
    )
    assert answer.status_code == 415, answer.content
    assert "application/offset+octet-stream" in answer.json()["detail"]
    assert int(client.head(body["url"])["Upload-Offset"]) == 0
    # The same bytes with the right type are taken.
    assert patch(client, body["url"], 0, b"x" * 10).status_code == 204
