"""Resumable chunked uploads: offsets, a chunk cut off midway, resuming, the assembled
file probed like any upload, and no trace of a refused one."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from django.conf import settings
from django.core.files.storage import default_storage
from django.urls import reverse

from labeling.models import ChunkedUpload, Role, Video
from labeling.videos import chunked
from tests.labeling.dataset_helpers import media_files

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


@pytest.mark.django_db
def test_an_interrupted_upload_resumes_and_assembles_the_same_bytes(
    project, owner, api_client_for, openfield_video
):
    data = openfield_video.read_bytes()
    client = api_client_for(owner)
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
    assert done.status_code == 201, done.json()
    video = Video.objects.get(pk=done.json()["id"])
    assert video.original_name == "openfield-m3v1.mp4" and video.frame_count == 2330
    with default_storage.open(video.file.name, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert not parts(), "the partial file is removed once the video is stored"
    again = client.post(body["complete_url"])
    assert again.status_code == 201 and again.json()["id"] == video.pk
    assert Video.objects.filter(project=project).count() == 1


@pytest.mark.django_db
def test_a_refused_file_leaves_no_trace(project, owner, api_client_for):
    junk = bytes(range(256)) * 4096  # 1 MiB that is no video
    client = api_client_for(owner)
    before_media, before_parts = media_files(), parts()
    body = start(client, project, name="clip.mp4", size=len(junk)).json()
    for offset in range(0, len(junk), CHUNK):
        assert patch(client, body["url"], offset, junk[offset : offset + CHUNK]).status_code == 204
    response = client.post(body["complete_url"])
    assert response.status_code == 400 and "file" in response.json()
    assert not ChunkedUpload.objects.exists() and not Video.objects.exists()
    assert media_files() == before_media and parts() == before_parts
    assert client.head(body["url"]).status_code == 404


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
