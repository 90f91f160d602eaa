"""Frame sources through the API and the pages: upload, register, list, get, delete,
serve; bad files refused with nothing left behind; every endpoint scoped by membership."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kombu.exceptions import OperationalError

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from labeling import tasks, uploads
from labeling.models import Box, Frame, FrameSamplingJob, Project, Role, Video
from labeling.services import project_create
from tests.labeling.dataset_helpers import scratch_files
from tests.labeling.video_helpers import (
    files_on_disk,
    jpeg_bytes,
    png_bytes,
    table_counts,
    temp_files,
    upload,
    write_video,
    zip_bytes,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("videos") / "tiny.mp4", frames=12)


@pytest.fixture(scope="module")
def faststart_video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("videos") / "fs.mp4", frames=30, faststart=True)


@pytest.fixture
def people(make_user, member_of):
    return {
        "annotator": member_of(make_user("ann"), Role.ANNOTATOR),
        "viewer": member_of(make_user("vic"), Role.VIEWER),
        "outsider": make_user("oscar"),
    }


def _stored_video(project, *, name="cage.mp4", data: bytes = b"", **fields) -> Video:
    """A Video row with a stored file, made without probing (for access tests)."""
    stored = default_storage.save(f"videos/{project.pk}/test.mp4", ContentFile(data or b"x" * 64))
    thumb = default_storage.save(f"thumbnails/{project.pk}/t.jpg", ContentFile(jpeg_bytes()))
    defaults = {
        "frame_count": 12,
        "fps": 10.0,
        "width": 64,
        "height": 48,
        "duration_s": 1.2,
        "codec": "mpeg4",
    }
    return Video.objects.create(
        project=project,
        original_name=name,
        file=stored,
        thumbnail=thumb,
        size_bytes=len(data or b"x" * 64),
        **{**defaults, **fields},
    )


# --- a real upload ----------------------------------------------------------------------
def test_uploading_the_open_field_video_probes_and_stores_it(
    api_client_for, owner, project, openfield_video
):
    client = api_client_for(owner)
    response = upload(client, project.pk, ("openfield-m3v1.mp4", openfield_video))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "video" and body["original_name"] == "openfield-m3v1.mp4"
    assert (body["frame_count"], body["width"], body["height"]) == (2330, 640, 480)
    assert body["fps"] == pytest.approx(30.0, abs=0.01)
    assert body["duration_s"] == pytest.approx(77.67, abs=0.05)
    assert body["codec"] == "h264" and body["sampling_job"] is None
    video = Video.objects.get(pk=body["id"])
    # A generated name: the client's name is display text only.
    assert re.fullmatch(rf"videos/{project.pk}/[0-9a-f]{{32}}\.mp4", video.file.name)
    assert video.size_bytes == openfield_video.stat().st_size
    with default_storage.open(video.file.name, "rb") as fh:
        assert fh.read() == openfield_video.read_bytes()
    assert video.thumbnail and default_storage.exists(video.thumbnail.name)
    assert temp_files() == []

    listed = client.get(f"/api/projects/{project.pk}/videos/").json()
    assert [v["id"] for v in listed] == [video.pk]
    detail = client.get(f"/api/videos/{video.pk}/").json()
    assert detail["frames_sampled"] == 0 and detail["file_url"].endswith("/file")


def test_a_real_video_with_a_hostile_name_is_stored_under_a_generated_name(
    api_client_for, client, owner, project, tiny_video
):
    hostile = "<img src=x onerror=alert(1)>\u202egpm.mp4.php"
    response = upload(api_client_for(owner), project.pk, (hostile, tiny_video))
    assert response.status_code == 201, response.content
    video = Video.objects.get(pk=response.json()["id"])
    assert re.fullmatch(rf"videos/{project.pk}/[0-9a-f]{{32}}\.mp4", video.file.name)
    # The bidi override is dropped; the rest is kept as text and escaped when shown.
    assert video.original_name == "<img src=x onerror=alert(1)>gpm.mp4.php"
    client.force_login(owner)
    page = client.get(f"/projects/{project.pk}/videos/").content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page


# --- bad files: 400, nothing kept ------------------------------------------------------------
def _truncated(path: Path) -> bytes:
    data = path.read_bytes()
    return data[: len(data) * 2 // 3]


BAD_FILES = {
    "random bytes named .mp4": lambda v: ("clip.mp4", bytes(range(256)) * 400),
    "HTML/PNG polyglot": lambda v: (
        "poly.mp4",
        png_bytes() + b"<html><script>alert(document.cookie)</script></html>",
    ),
    "PHP script named x.mp4.php": lambda v: ("x.mp4.php", b"<?php system($_GET['c']); ?>\n" * 50),
    "truncated video (index at the end)": lambda v: ("cut.mp4", _truncated(v["tiny"])),
    "truncated video (index at the start)": lambda v: ("cut.mp4", _truncated(v["faststart"])),
    "zero-length file": lambda v: ("empty.mp4", b""),
    "HTML page": lambda v: ("page.mp4", b"<!doctype html><html><body>hi</body></html>"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_gets_a_400_that_says_why_and_leaves_no_trace(
    api_client_for, owner, project, tiny_video, faststart_video, case
):
    name, data = BAD_FILES[case]({"tiny": tiny_video, "faststart": faststart_video})
    before_files, before_rows = files_on_disk(), table_counts()
    response = upload(api_client_for(owner), project.pk, (name, data))
    assert response.status_code == 400, response.content
    message = " ".join(response.json()["file"])
    assert message and len(message) > 10
    assert files_on_disk() == before_files
    assert table_counts() == before_rows


def test_bad_file_messages_say_what_is_wrong(api_client_for, owner, project, faststart_video):
    client = api_client_for(owner)
    empty = upload(client, project.pk, ("empty.mp4", b"")).json()["file"][0]
    assert "empty" in empty
    cut = upload(client, project.pk, ("cut.mp4", _truncated(faststart_video))).json()["file"][0]
    assert "truncated" in cut
    junk = upload(client, project.pk, ("junk.mp4", b"\x01" * 5000)).json()["file"][0]
    assert "not a video" in junk


def test_an_upload_without_a_file_is_a_400_naming_the_field(api_client_for, owner, project):
    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/videos/", {}, format="multipart"
    )
    assert response.status_code == 400
    assert "file" in response.json()


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_a_bad_sample_every_is_refused_before_anything_is_stored(
    api_client_for, owner, project, tiny_video, value
):
    before_files, before_rows = files_on_disk(), table_counts()
    response = upload(api_client_for(owner), project.pk, ("a.mp4", tiny_video), sample_every=value)
    assert response.status_code == 400
    assert "sample_every" in response.json()
    assert (files_on_disk(), table_counts()) == (before_files, before_rows)


def test_two_videos_in_one_request_are_refused(api_client_for, owner, project, tiny_video):
    before_files, before_rows = files_on_disk(), table_counts()
    response = upload(
        api_client_for(owner), project.pk, [("a.mp4", tiny_video), ("b.mp4", tiny_video)]
    )
    assert response.status_code == 400
    assert "one video per request" in response.json()["file"][0].lower()
    assert (files_on_disk(), table_counts()) == (before_files, before_rows)


# --- size limit, enforced while streaming ---------------------------------------------------
def test_an_upload_past_the_limit_by_content_length_is_refused_before_storing(
    api_client_for, owner, project, settings, monkeypatch
):
    settings.MAX_UPLOAD_BYTES = 10_000
    opened = []
    real_init = uploads.StreamedUpload.__init__
    monkeypatch.setattr(
        uploads.StreamedUpload,
        "__init__",
        lambda self, *a, **k: (opened.append(1), real_init(self, *a, **k))[1],
    )
    before_files, before_rows = files_on_disk(), table_counts()
    response = upload(
        api_client_for(owner),
        project.pk,
        ("big.mp4", b"\0" * (uploads.FORM_OVERHEAD_BYTES + 20_000)),
    )
    assert response.status_code == 413
    assert "limit" in response.json()["file"][0]
    assert opened == []  # not even a temp file was started
    assert (files_on_disk(), table_counts()) == (before_files, before_rows)


def test_an_upload_past_the_limit_is_stopped_while_streaming_and_its_temp_file_removed(
    api_client_for, owner, project, settings
):
    # Content-Length within the slack for form fields, so only the byte count catches it.
    settings.MAX_UPLOAD_BYTES = 100_000
    before_files, before_rows = files_on_disk(), table_counts()
    response = upload(api_client_for(owner), project.pk, ("big.mp4", b"\0" * 150_000))
    assert response.status_code == 413
    assert (files_on_disk(), table_counts()) == (before_files, before_rows)


def test_the_handler_counts_bytes_when_the_length_is_unknown(settings):
    """A chunked body has no Content-Length: the chunk count alone stops it."""
    handler = uploads.LimitedUploadHandler(max_bytes=1000)
    assert handler.handle_raw_input(None, {}, None, b"b") is None
    handler.new_file("file", "x.mp4", "video/mp4", None)
    temp = handler.file.temporary_file_path()
    handler.receive_data_chunk(b"a" * 600, 0)
    assert Path(temp).exists()
    with pytest.raises(uploads.UploadTooLarge):
        handler.receive_data_chunk(b"a" * 600, 600)
    assert not Path(temp).exists()


# --- permissions -----------------------------------------------------------------------------
def _targets(project):
    video = _stored_video(project)
    job = FrameSamplingJob.objects.create(
        video=video, strategy="every_seconds", params={"seconds": 1.5}
    )
    return {"p": project.pk, "v": video.pk, "j": job.pk}


ENDPOINTS = [
    ("get", "/api/projects/{p}/videos/", None),
    ("post", "/api/projects/{p}/videos/", "upload"),
    ("post", "/api/projects/{p}/videos/register/", {"path": "/tmp/x.mp4"}),
    ("get", "/api/videos/{v}/", None),
    ("delete", "/api/videos/{v}/", None),
    ("post", "/api/videos/{v}/sample/", {"strategy": "uniform", "n": 3}),
    ("get", "/api/videos/{v}/sampling-jobs/", None),
    ("get", "/api/sampling-jobs/{j}/", None),
    ("post", "/api/sampling-jobs/{j}/cancel/", None),
]
WRITES = [e for e in ENDPOINTS if e[0] in ("post", "delete")]


def _call(client, method, path, body, ids, tiny_video):
    url = path.format(**ids)
    if body == "upload":
        return upload(client, ids["p"], ("a.mp4", tiny_video))
    return getattr(client, method)(url, body, format="json")


def _state():
    return (
        table_counts(),
        list(FrameSamplingJob.objects.values_list("id", "status", "cancel_requested")),
        files_on_disk(),
    )


@pytest.mark.parametrize("method,path,body", ENDPOINTS)
def test_a_non_member_gets_404_everywhere_and_nothing_changes(
    api_client_for, project, people, tiny_video, method, path, body
):
    ids = _targets(project)
    before = _state()
    response = _call(api_client_for(people["outsider"]), method, path, body, ids, tiny_video)
    assert response.status_code == 404, response.content
    assert _state() == before


@pytest.mark.parametrize("method,path,body", WRITES)
def test_a_viewer_cannot_write_403_and_nothing_changes(
    api_client_for, project, people, tiny_video, method, path, body
):
    ids = _targets(project)
    before = _state()
    response = _call(api_client_for(people["viewer"]), method, path, body, ids, tiny_video)
    assert response.status_code == 403, response.content
    assert _state() == before


def test_anonymous_requests_are_refused(project, tiny_video):
    ids = _targets(project)
    for method, path, body in ENDPOINTS:
        response = _call(APIClient(), method, path, body, ids, tiny_video)
        assert response.status_code in (401, 403), (method, path, response.status_code)


def test_a_viewers_session_upload_is_refused_before_a_byte_is_stored(
    project, people, tiny_video, monkeypatch
):
    """Session auth reads the body for the CSRF token before the view runs: the role
    check in the upload handler still comes first."""
    opened = []
    real_init = uploads.StreamedUpload.__init__
    monkeypatch.setattr(
        uploads.StreamedUpload,
        "__init__",
        lambda self, *a, **k: (opened.append(1), real_init(self, *a, **k))[1],
    )
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(people["viewer"])
    client.get(f"/projects/{project.pk}/videos/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    before = _state()
    with open(tiny_video, "rb") as fh:
        response = client.post(
            f"/api/projects/{project.pk}/videos/",
            {"file": fh, "csrfmiddlewaretoken": token},
            format="multipart",
        )
    assert response.status_code == 403
    assert opened == [] and _state() == before


def test_a_session_upload_needs_the_csrf_token(project, owner, tiny_video):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(owner)
    before = _state()
    response = upload(client, project.pk, ("a.mp4", tiny_video))
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert _state() == before


def test_an_annotator_can_upload(api_client_for, project, people, tiny_video):
    response = upload(api_client_for(people["annotator"]), project.pk, ("a.mp4", tiny_video))
    assert response.status_code == 201
    assert Video.objects.get(pk=response.json()["id"]).created_by == people["annotator"]


def test_lists_and_lookups_never_cross_projects(api_client_for, project, owner, make_user):
    other_owner = make_user("pat")
    other = project_create(name="Home cage", owner=other_owner)
    mine, theirs = _stored_video(project, name="mine.mp4"), _stored_video(other, name="theirs.mp4")
    their_job = FrameSamplingJob.objects.create(video=theirs, strategy="uniform", params={"n": 2})
    client = api_client_for(owner)
    assert [v["id"] for v in client.get(f"/api/projects/{project.pk}/videos/").json()] == [mine.pk]
    assert client.get(f"/api/projects/{other.pk}/videos/").status_code == 404
    assert client.get(f"/api/videos/{theirs.pk}/").status_code == 404
    assert client.get(f"/api/sampling-jobs/{their_job.pk}/").status_code == 404
    assert client.get(f"/projects/{other.pk}/videos/{theirs.pk}/").status_code in (302, 404)


@pytest.mark.parametrize("who,expected", [("outsider", 404), ("viewer", 200)])
@pytest.mark.parametrize("page", ["", "file", "thumbnail"])
def test_pages_and_media_are_for_members_only(client, project, people, who, expected, page):
    video = _stored_video(project)
    client.force_login(people[who])
    response = client.get(f"/projects/{project.pk}/videos/{video.pk}/{page}")
    assert response.status_code == expected
    # A member asking through another project's URL is not served either.
    other = project_create(name=f"Other {who} {page}", owner=people[who])
    assert client.get(f"/projects/{other.pk}/videos/{video.pk}/{page}").status_code == 404


def test_media_needs_a_login(client, project):
    video = _stored_video(project)
    response = client.get(f"/projects/{project.pk}/videos/{video.pk}/file")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- serving the video with ranges ---------------------------------------------------------
def test_the_video_is_served_with_byte_ranges(client, project, owner):
    data = bytes(range(256)) * 40  # 10240 bytes
    video = _stored_video(project, data=data)
    client.force_login(owner)
    url = f"/projects/{project.pk}/videos/{video.pk}/file"

    whole = client.get(url)
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == data
    assert whole["Content-Type"] == "video/mp4" and whole["Accept-Ranges"] == "bytes"
    assert whole["Content-Length"] == str(len(data))
    assert whole["X-Content-Type-Options"] == "nosniff"
    assert whole["Content-Disposition"].startswith("inline")

    part = client.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and b"".join(part.streaming_content) == data[100:200]
    assert part["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert part["Content-Length"] == "100"

    tail = client.get(url, HTTP_RANGE="bytes=-10")
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == data[-10:]
    rest = client.get(url, HTTP_RANGE="bytes=10000-")
    assert b"".join(rest.streaming_content) == data[10000:]
    beyond_end = client.get(url, HTTP_RANGE="bytes=10000-99999")
    assert beyond_end["Content-Range"] == f"bytes 10000-10239/{len(data)}"

    past = client.get(url, HTTP_RANGE="bytes=20000-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(data)}"
    several = client.get(url, HTTP_RANGE="bytes=0-1,5-6")  # allowed to answer in full
    assert several.status_code == 200
    assert client.head(url).status_code == 200


# --- shared storage: registration in place --------------------------------------------------
@pytest.fixture
def shared_root(tmp_path, settings, tiny_video):
    root = tmp_path / "share" / "lab"
    (root / "2024").mkdir(parents=True)
    (root / "2024" / "m1.mp4").write_bytes(tiny_video.read_bytes())
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(tiny_video.read_bytes())
    (root / "link-out.mp4").symlink_to(outside / "secret.mp4")
    (root / "dir-link").symlink_to(outside, target_is_directory=True)
    settings.SHARED_VIDEO_ROOTS = [root]
    return root


def test_a_file_on_shared_storage_is_registered_in_place(
    api_client_for, client, owner, project, shared_root
):
    before = files_on_disk()
    path = str(shared_root / "2024" / "m1.mp4")
    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/videos/register/", {"path": path}, format="json"
    )
    assert response.status_code == 201, response.content
    video = Video.objects.get(pk=response.json()["id"])
    assert video.external_path == path and not video.file
    assert video.frame_count == 12 and video.original_name == "m1.mp4"
    assert response.json()["is_external"] is True
    # No copy: the only new stored file is the thumbnail.
    assert {Path(p).parent.name for p in files_on_disk() - before} == {str(project.pk)}
    assert all("/thumbnails/" in p for p in files_on_disk() - before)
    client.force_login(owner)
    served = client.get(f"/projects/{project.pk}/videos/{video.pk}/file", HTTP_RANGE="bytes=0-3")
    assert served.status_code == 206
    assert b"".join(served.streaming_content) == Path(path).read_bytes()[:4]
    again = api_client_for(owner).post(
        f"/api/projects/{project.pk}/videos/register/", {"path": path}, format="json"
    )
    assert again.status_code == 400 and "already registered" in again.json()["path"][0]


@pytest.mark.parametrize(
    "raw",
    [
        "{root}/../../private/secret.mp4",
        "{root}/link-out.mp4",
        "{root}/dir-link/secret.mp4",
        "/etc/passwd",
        "{root}/2024/../../lab-evil/m1.mp4",
    ],
)
def test_paths_outside_the_shared_roots_are_refused(
    api_client_for, owner, project, shared_root, raw
):
    before = (files_on_disk(), table_counts())
    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/videos/register/",
        {"path": raw.format(root=shared_root)},
        format="json",
    )
    assert response.status_code == 400
    assert "outside the shared video folders" in response.json()["path"][0]
    assert (files_on_disk(), table_counts()) == before


@pytest.mark.parametrize(
    "raw,reason",
    [
        ("2024/m1.mp4", "absolute"),
        ("{root}/2024/missing.mp4", "No such file"),
        ("{root}/2024", "not a regular file"),
        ("{root}/2024/m1.mp4\x00.txt", "Null characters"),
    ],
)
def test_bad_register_paths_are_a_400_naming_the_path(
    api_client_for, owner, project, shared_root, raw, reason
):
    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/videos/register/",
        {"path": raw.format(root=shared_root)},
        format="json",
    )
    assert response.status_code == 400
    assert reason in response.json()["path"][0]


def test_registration_is_off_without_shared_roots(api_client_for, owner, project, settings):
    settings.SHARED_VIDEO_ROOTS = []
    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/videos/register/", {"path": "/data/x.mp4"}, format="json"
    )
    assert response.status_code == 400 and "not enabled" in response.json()["path"][0]


def test_a_registered_file_that_is_not_a_video_is_refused(
    api_client_for, owner, project, shared_root
):
    (shared_root / "notes.mp4").write_text("not a video")
    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/videos/register/",
        {"path": str(shared_root / "notes.mp4")},
        format="json",
    )
    assert response.status_code == 400 and "not a video" in response.json()["path"][0]
    assert not Video.objects.exists()


# --- delete -------------------------------------------------------------------------------------
def _frame(video, index, *, boxes=0, status=Frame.Status.UNLABELED) -> Frame:
    image = default_storage.save(
        f"frames/{video.project_id}/{video.pk}/{index}.jpg", ContentFile(jpeg_bytes())
    )
    frame = Frame.objects.create(
        project=video.project,
        video=video,
        frame_index=index,
        image=image,
        width=32,
        height=24,
        status=status,
    )
    for _ in range(boxes):
        Box.objects.create(frame=frame, label_class=video.project.classes.get(), x=1, y=1, w=5, h=5)
    return frame


def test_deleting_a_video_removes_it_its_frames_and_its_files(api_client_for, owner, project):
    video = _stored_video(project)
    frames = [_frame(video, i) for i in (0, 5)]
    names = [video.file.name, video.thumbnail.name, *(f.image.name for f in frames)]
    response = api_client_for(owner).delete(f"/api/videos/{video.pk}/")
    assert response.status_code == 204
    assert not Video.objects.filter(pk=video.pk).exists() and not Frame.objects.exists()
    assert not any(default_storage.exists(n) for n in names)


@pytest.mark.parametrize("annotation", ["boxes", "negative", "reviewed"])
def test_a_video_with_annotated_frames_is_not_deleted(api_client_for, owner, project, annotation):
    video = _stored_video(project)
    _frame(video, 0)
    if annotation == "boxes":
        _frame(video, 5, boxes=2, status=Frame.Status.LABELED)
    elif annotation == "negative":
        Frame.objects.filter(pk=_frame(video, 5).pk).update(
            is_negative=True, status=Frame.Status.LABELED
        )
    else:
        _frame(video, 5, status=Frame.Status.REVIEWED)
    before = _state()
    response = api_client_for(owner).delete(f"/api/videos/{video.pk}/")
    assert response.status_code == 400
    assert "annotated" in response.json()["video"][0]
    assert _state() == before


def test_the_delete_page_refuses_with_a_message(client, owner, project):
    video = _stored_video(project)
    _frame(video, 3, boxes=1, status=Frame.Status.LABELED)
    client.force_login(owner)
    response = client.post(f"/projects/{project.pk}/videos/{video.pk}/delete/", follow=True)
    assert "are annotated" in response.content.decode()
    assert Video.objects.filter(pk=video.pk).exists()
    page = client.get(f"/projects/{project.pk}/videos/{video.pk}/").content.decode()
    # Deleting it takes a confirmation that states what goes (the labels) and what stays.
    assert 'name="confirm" value="labels' in page and "1 labeled frame(s)" in page


def test_the_delete_page_deletes_and_goes_back_to_the_list(client, owner, project):
    video = _stored_video(project, name="old.mp4")
    client.force_login(owner)
    response = client.post(f"/projects/{project.pk}/videos/{video.pk}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == f"/projects/{project.pk}/videos/"
    assert "“old.mp4” was deleted" in response.content.decode()
    assert not Video.objects.exists()


def test_a_viewer_cannot_delete_through_the_page(client, project, people):
    video = _stored_video(project)
    client.force_login(people["viewer"])
    assert client.post(f"/projects/{project.pk}/videos/{video.pk}/delete/").status_code == 403
    assert Video.objects.filter(pk=video.pk).exists()


# --- sampling requests ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body,field",
    [
        ({"strategy": "sometimes"}, "strategy"),
        ({"strategy": "every_seconds", "seconds": 0}, "seconds"),
        ({"strategy": "every_seconds", "seconds": "nan"}, "seconds"),
        ({"strategy": "uniform"}, "n"),
        ({"strategy": "uniform", "n": 0}, "n"),
        ({"strategy": "kmeans", "n": 5000}, "n"),
        ({"strategy": "indices", "indices": []}, "indices"),
        ({"strategy": "indices", "indices": [12]}, "indices"),
        ({"strategy": "indices", "indices": [-1]}, "indices"),
        ({"strategy": "uniform", "n": 3, "skip_similar": 2}, "skip_similar"),
    ],
)
def test_bad_sampling_requests_are_a_400_naming_the_field(
    api_client_for, owner, project, body, field
):
    video = _stored_video(project)
    response = api_client_for(owner).post(f"/api/videos/{video.pk}/sample/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not FrameSamplingJob.objects.exists()


@pytest.mark.parametrize("raw", ["1e400", "-1e400", "1" * 30, "1" * 5000])
def test_sampling_counts_past_any_range_are_a_400(api_client_for, owner, project, raw):
    video = _stored_video(project)
    response = api_client_for(owner).post(
        f"/api/videos/{video.pk}/sample/",
        '{"strategy": "uniform", "n": ' + raw + "}",
        content_type="application/json",
    )
    assert response.status_code == 400  # naming "n", or the body (5,000 digits)
    assert not FrameSamplingJob.objects.exists()


def test_an_image_set_cannot_be_sampled(api_client_for, owner, project):
    video = Video.objects.create(project=project, kind=Video.Kind.IMAGE_SET, original_name="set")
    response = api_client_for(owner).post(
        f"/api/videos/{video.pk}/sample/", {"strategy": "uniform", "n": 2}, format="json"
    )
    assert response.status_code == 400 and "image set" in response.json()["strategy"][0]


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_sampling_answers_503_and_keeps_no_job(
    api_client_for, owner, project, request
):
    video = _stored_video(project)
    request.getfixturevalue("broker_down")
    response = api_client_for(owner).post(
        f"/api/videos/{video.pk}/sample/", {"strategy": "uniform", "n": 3}, format="json"
    )
    assert response.status_code == 503
    assert not FrameSamplingJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_upload_with_the_broker_down_keeps_the_video_and_says_sampling_did_not_start(
    api_client_for, owner, project, tiny_video, monkeypatch
):
    def refuse(*args, **kwargs):
        raise OperationalError("Connection refused.")

    monkeypatch.setattr(tasks.frame_sampling_run, "apply_async", refuse)
    response = upload(api_client_for(owner), project.pk, ("a.mp4", tiny_video), sample_every="1.5")
    assert response.status_code == 201
    body = response.json()
    assert body["sampling_job"] is None and "not started" in body["sampling_error"]
    assert Video.objects.count() == 1 and not FrameSamplingJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_sampling_request_queues_a_job_and_its_status_can_be_read(
    api_client_for, owner, project, monkeypatch
):
    sent = []
    monkeypatch.setattr(
        tasks.frame_sampling_run,
        "apply_async",
        lambda args, **kw: sent.append((args, kw)) or type("R", (), {"id": "t1"}),
    )
    video = _stored_video(project)
    client = api_client_for(owner)
    response = client.post(
        f"/api/videos/{video.pk}/sample/",
        {"strategy": "every_seconds", "skip_similar": 0.02},
        format="json",
    )
    assert response.status_code == 202, response.content
    job = FrameSamplingJob.objects.get(pk=response.json()["id"])
    assert job.params == {"seconds": 1.5, "skip_similar": 0.02}  # the seed paper's default
    assert sent == [([job.pk], {"retry": False})] and job.celery_task_id == "t1"
    status = client.get(f"/api/sampling-jobs/{job.pk}/").json()
    assert status["status"] == "queued" and status["progress"] == 0 and not status["is_finished"]
    assert [j["id"] for j in client.get(f"/api/videos/{video.pk}/sampling-jobs/").json()] == [
        job.pk
    ]
    cancelled = client.post(f"/api/sampling-jobs/{job.pk}/cancel/").json()
    assert cancelled["status"] == "cancelled"


# --- pages ----------------------------------------------------------------------------------------
def test_the_list_page_shows_the_drop_zone_to_writers_only(client, project, owner, people):
    _stored_video(project, name="m3v1.mp4")
    client.force_login(owner)
    page = client.get(f"/projects/{project.pk}/videos/").content.decode()
    assert 'id="drop-zone"' in page and "m3v1.mp4" in page and "0:01" in page
    client.force_login(people["viewer"])
    page = client.get(f"/projects/{project.pk}/videos/").content.decode()
    assert 'id="drop-zone"' not in page and "m3v1.mp4" in page
    assert "<script>" not in page.replace("<script src=", "")  # no inline scripts (CSP)


def test_the_video_page_shows_player_frames_and_sampling_form(client, project, owner, people):
    video = _stored_video(project, name="m3v1.mp4")
    frame = _frame(video, 45, boxes=1, status=Frame.Status.LABELED)
    client.force_login(owner)
    page = client.get(f"/projects/{project.pk}/videos/{video.pk}/").content.decode()
    assert f"/projects/{project.pk}/videos/{video.pk}/file" in page
    assert 'id="sample-form"' in page and 'id="take-frame"' in page
    assert f"/api/frames/{frame.pk}/image/" in page and "#45" in page and "1 box" in page
    client.force_login(people["viewer"])
    page = client.get(f"/projects/{project.pk}/videos/{video.pk}/").content.decode()
    assert 'id="sample-form"' not in page and 'id="take-frame"' not in page


def test_an_unknown_project_or_video_is_404(client, owner, project):
    client.force_login(owner)
    assert client.get(f"/projects/{project.pk}/videos/999999/").status_code == 404
    assert client.get("/projects/999999/videos/").status_code == 404
    assert Project.objects.count() == 1


# --- image sets -----------------------------------------------------------------------------------
def run_imageset_jobs(monkeypatch) -> None:
    """Run image-set jobs here, at once, instead of publishing them (the real worker path
    is tests/e2e/test_videos_e2e.py's)."""
    from labeling.videos.imageset_work import imageset_job_execute

    class Result:
        id = "in-process"

    def apply_async(args, **kwargs):
        imageset_job_execute(job_id=args[0])
        return Result()

    monkeypatch.setattr(tasks.imageset_import_run, "apply_async", apply_async)


@pytest.mark.django_db(transaction=True)
def test_a_zip_of_images_becomes_an_image_set_in_natural_order(
    api_client_for, owner, project, monkeypatch
):
    run_imageset_jobs(monkeypatch)
    archive = zip_bytes(
        {
            "frames/img10.png": png_bytes(color=(10, 10, 10)),
            "frames/img2.jpg": jpeg_bytes(color=(2, 2, 2)),
            "frames/img1.png": png_bytes(color=(1, 1, 1)),
            "__MACOSX/._img1.png": b"junk",
        }
    )
    client = api_client_for(owner)
    response = upload(client, project.pk, ("session 3.zip", archive))
    assert response.status_code == 202, response.content
    job = client.get(response.json()["url"]).json()
    assert job["status"] == "succeeded" and job["message"] == "Image set added: 3 frames."
    assert job["frame_count"] == 3 and job["page_url"]
    body = client.get(f"/api/videos/{job['video']}/").json()
    assert body["kind"] == "imageset" and body["original_name"] == "session 3.zip"
    assert body["frame_count"] == 3 and body["frames_sampled"] == 3
    assert (body["width"], body["height"]) == (32, 24) and body["file_url"] is None
    video = Video.objects.get(pk=body["id"])
    frames = list(video.frames.order_by("frame_index"))
    assert [f.frame_index for f in frames] == [0, 1, 2]
    exts = [f.image.name.rsplit(".", 1)[1] for f in frames]
    assert exts == ["png", "jpg", "png"]  # img1, img2, img10; kept as uploaded
    with default_storage.open(frames[0].image.name, "rb") as fh:
        assert fh.read() == png_bytes(color=(1, 1, 1))
    assert video.thumbnail and temp_files() == []


def test_several_images_become_one_image_set(api_client_for, owner, project):
    response = upload(
        api_client_for(owner), project.pk, [("b.png", png_bytes()), ("a.jpg", jpeg_bytes())]
    )
    assert response.status_code == 201, response.content
    video = Video.objects.get(pk=response.json()["id"])
    assert video.kind == Video.Kind.IMAGE_SET and video.original_name == "2 images"
    assert video.frames.count() == 2


@pytest.mark.django_db(transaction=True)
def test_many_loose_images_become_an_image_set_through_a_job(
    api_client_for, owner, project, monkeypatch, settings
):
    """Over IMAGESET_IN_REQUEST_MAX_FILES the request only checks names and sizes and
    packs the images into a zip; the job decodes them, as for a zip of them."""
    settings.IMAGESET_IN_REQUEST_MAX_FILES = 2
    run_imageset_jobs(monkeypatch)
    client = api_client_for(owner)
    images = [(f"img{i}.png", png_bytes(color=(i, i, i))) for i in (10, 2, 1)]
    response = upload(client, project.pk, images)
    assert response.status_code == 202, response.content
    job = client.get(response.json()["url"]).json()
    assert job["status"] == "succeeded" and job["frame_count"] == 3, job
    video = Video.objects.get(pk=job["video"])
    assert video.kind == Video.Kind.IMAGE_SET and video.original_name == "3 images"
    frames = list(video.frames.order_by("frame_index"))
    assert [f.source_name for f in frames] == ["img1.png", "img2.png", "img10.png"]
    with default_storage.open(frames[0].image.name, "rb") as fh:
        assert fh.read() == png_bytes(color=(1, 1, 1))
    assert temp_files() == []
    assert not [p for p in scratch_files() if p.startswith("imagesets/")]


@pytest.mark.django_db(transaction=True)
def test_many_loose_images_with_a_bad_one_leave_no_trace(
    api_client_for, owner, project, monkeypatch, settings
):
    settings.IMAGESET_IN_REQUEST_MAX_FILES = 2
    run_imageset_jobs(monkeypatch)
    client = api_client_for(owner)
    before_files, before_rows = files_on_disk(), table_counts()
    # Refused in the request (a name twice): 400, no job.
    twice = [("a.png", png_bytes()), ("b.png", png_bytes()), ("A.png", png_bytes())]
    response = upload(client, project.pk, twice)
    assert response.status_code == 400 and "appears twice" in response.json()["file"][0]
    assert (files_on_disk(), table_counts()) == (before_files, before_rows)
    # Refused by the job (a polyglot among them): the job says why, nothing is kept.
    poly = png_bytes() + b"<script>alert(1)</script>"
    bad = [("a.png", png_bytes()), ("b.png", poly), ("c.png", png_bytes())]
    response = upload(client, project.pk, bad)
    assert response.status_code == 202, response.content
    job = client.get(response.json()["url"]).json()
    assert job["status"] == "failed" and "b.png" in job["error"], job
    assert files_on_disk() == before_files
    assert not Video.all_objects.filter(project=project).exists()


def test_tiff_and_rotated_jpeg_images_are_stored_upright_as_png(api_client_for, owner, project):
    import io

    from PIL import Image

    tiff = io.BytesIO()
    Image.new("RGB", (40, 20), (0, 200, 0)).save(tiff, "TIFF")
    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.new("RGB", (40, 20), (200, 0, 0)).save(rotated, "JPEG", exif=exif)
    response = upload(
        api_client_for(owner),
        project.pk,
        [("a.tif", tiff.getvalue()), ("b.jpg", rotated.getvalue())],
    )
    assert response.status_code == 201, response.content
    frames = list(Video.objects.get(pk=response.json()["id"]).frames.order_by("frame_index"))
    assert [f.image.name.rsplit(".", 1)[1] for f in frames] == ["png", "png"]
    assert [(f.width, f.height) for f in frames] == [(40, 20), (20, 40)]
    with default_storage.open(frames[1].image.name, "rb") as fh:
        assert Image.open(fh).size == (20, 40)


def _bomb() -> bytes:
    return zip_bytes({"a.png": png_bytes(), "b.bmp": bytes(8_000_000)})


BAD_SETS = {
    "zip with a ../ entry": lambda: (
        "set.zip",
        zip_bytes({"ok.png": png_bytes(), "../../evil.png": png_bytes()}),
    ),
    "zip with an absolute entry": lambda: ("set.zip", zip_bytes({"/etc/evil.png": png_bytes()})),
    "zip bomb-ish ratio": lambda: ("set.zip", _bomb()),  # 8 MB of zeros in ~8 KB
    "zip with a non-image": lambda: (
        "set.zip",
        zip_bytes({"a.png": png_bytes(), "b.png": b"<html>not an image</html>"}),
    ),
    "empty zip": lambda: ("set.zip", zip_bytes({})),
    "zip holding a polyglot": lambda: (
        "set.zip",
        zip_bytes({"a.png": png_bytes() + b"<script>alert(1)</script>"}),
    ),
    "truncated zip": lambda: (
        "set.zip",
        zip_bytes({"a.png": png_bytes(), "b.png": png_bytes()})[:150],
    ),
    "PNG/HTML polyglot named .png": lambda: (
        "photo.png",
        png_bytes() + b"<html><script>alert(1)</script></html>",
    ),
}


#: Refused by the job that decodes every image (the request only checks the directory).
BAD_IN_THE_JOB = {"zip with a non-image", "empty zip", "zip holding a polyglot"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", list(BAD_SETS))
def test_a_bad_image_set_is_refused_and_leaves_no_trace(
    api_client_for, owner, project, case, monkeypatch
):
    run_imageset_jobs(monkeypatch)
    name, data = BAD_SETS[case]()
    before_files, before_rows = files_on_disk(), table_counts()
    client = api_client_for(owner)
    response = upload(client, project.pk, (name, data))
    if case in BAD_IN_THE_JOB:
        assert response.status_code == 202, response.content
        job = client.get(response.json()["url"]).json()
        assert job["status"] == "failed" and job["error"], job
    else:
        assert response.status_code == 400, response.content
        assert response.json()["file"][0]
    assert files_on_disk() == before_files
    assert table_counts() == before_rows


def test_an_image_among_images_that_is_not_one_is_named(api_client_for, owner, project):
    response = upload(
        api_client_for(owner), project.pk, [("a.png", png_bytes()), ("notes.txt", b"hello " * 100)]
    )
    assert response.status_code == 400
    assert "“notes.txt” is not an image" in response.json()["file"][0]


def test_too_many_files_in_one_request_is_a_400_with_nothing_kept(
    api_client_for, owner, project, settings
):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    before_files, before_rows = files_on_disk(), table_counts()
    response = upload(
        api_client_for(owner), project.pk, [(f"{i}.png", png_bytes()) for i in range(4)]
    )
    assert response.status_code == 400
    assert (files_on_disk(), table_counts()) == (before_files, before_rows)
