"""Frame sampling: the service on tiny videos in this process, and the real Celery worker
on the lab's open-field recording (52 frames every 1.5 s, with their container times)."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from django.core.files.storage import default_storage

from labeling.models import Box, Frame, FrameSamplingJob, Video
from labeling.videos import sampling_services, sampling_work, services
from labeling.videos.services import IncomingFile
from tests.conftest import wait_for
from tests.labeling.video_helpers import files_on_disk, upload, write_video
from webapp.jobs import job_request_cancel
from webapp.models import JobStatus


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("videos") / "tiny.mp4", frames=12, fps=10)


@pytest.fixture(scope="module")
def still_path(tmp_path_factory) -> Path:
    return write_video(
        tmp_path_factory.mktemp("videos") / "still.mp4", frames=12, fps=10, still=True
    )


def _video(project, path: Path) -> Video:
    return services.video_upload(
        project=project,
        user=None,
        incoming=IncomingFile(path=path, name=path.name, size=path.stat().st_size),
    )


def _run(video: Video, strategy: str, **params) -> FrameSamplingJob:
    job = sampling_services.sampling_job_create(
        video=video, user=None, strategy=strategy, params=params
    )
    sampling_work.sampling_job_execute(job_id=job.pk)
    job.refresh_from_db()
    return job


def _indices(video: Video) -> list[int]:
    return list(video.frames.order_by("frame_index").values_list("frame_index", flat=True))


# --- the service, in this process ---------------------------------------------------------
@pytest.mark.django_db
def test_every_n_seconds_stores_jpeg_frames_with_index_and_container_time(project, tiny_path):
    video = _video(project, tiny_path)
    job = _run(video, "every_seconds", seconds=0.5)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.frames_created == 3 and job.progress == 1.0
    assert job.message.startswith("Done: 3 new frames")
    frames = list(video.frames.order_by("frame_index"))
    assert [(f.frame_index, f.timestamp_s) for f in frames] == [(0, 0.0), (5, 0.5), (10, 1.0)]
    for frame in frames:
        assert frame.project_id == project.pk and (frame.width, frame.height) == (64, 48)
        assert frame.status == Frame.Status.UNLABELED
        with default_storage.open(frame.image.name, "rb") as fh:
            image = Image.open(io.BytesIO(fh.read()))
            assert image.format == "JPEG" and image.size == (64, 48)


@pytest.mark.django_db
def test_a_redelivered_job_does_nothing(project, tiny_path):
    video = _video(project, tiny_path)
    job = _run(video, "every_seconds", seconds=0.5)
    before = list(video.frames.values_list("id", "image"))
    sampling_work.sampling_job_execute(job_id=job.pk)  # the same message again
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 1
    assert list(video.frames.values_list("id", "image")) == before


@pytest.mark.django_db
def test_resampling_never_duplicates_and_never_touches_existing_frames(project, tiny_path):
    video = _video(project, tiny_path)
    _run(video, "every_seconds", seconds=0.5)
    labeled = video.frames.get(frame_index=5)
    Box.objects.create(frame=labeled, label_class=project.classes.get(), x=1, y=2, w=3, h=4)
    Frame.objects.filter(pk=labeled.pk).update(status=Frame.Status.LABELED)
    before = {f.frame_index: (f.pk, f.image.name) for f in video.frames.all()}

    again = _run(video, "every_seconds", seconds=0.5)
    assert again.status == JobStatus.SUCCEEDED and again.frames_created == 0
    uniform = _run(video, "uniform", n=4)  # 0, 4, 7, 11: frame 0 is already there
    assert uniform.frames_created == 3
    assert _indices(video) == [0, 4, 5, 7, 10, 11]
    after = {f.frame_index: (f.pk, f.image.name) for f in video.frames.all()}
    assert all(after[i] == before[i] for i in before)
    assert video.frames.get(frame_index=5).boxes.count() == 1


@pytest.mark.django_db
def test_take_this_frame_stores_exactly_that_frame(project, tiny_path):
    video = _video(project, tiny_path)
    job = _run(video, "indices", indices=[7])
    assert job.status == JobStatus.SUCCEEDED
    frame = video.frames.get()
    assert frame.frame_index == 7 and frame.timestamp_s == pytest.approx(0.7)


@pytest.mark.django_db
def test_near_duplicates_are_skipped_by_the_threshold(project, owner, still_path):
    from labeling.services import project_create

    video = _video(project, still_path)
    job = _run(video, "every_seconds", seconds=0.2, skip_similar=0.02)
    assert job.status == JobStatus.SUCCEEDED
    assert _indices(video) == [0]  # every later frame is the same picture
    assert "5 skipped as near-duplicates" in job.message
    # The same recording again: in another project (one project holds it once).
    other = project_create(name="Still, again", owner=owner)
    plain = _run(_video(other, still_path), "every_seconds", seconds=0.2)
    assert plain.frames_created == 6


@pytest.mark.django_db
def test_kmeans_picks_at_most_n_diverse_frames(project, tiny_path):
    video = _video(project, tiny_path)
    job = _run(video, "kmeans", n=3)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert 1 <= len(_indices(video)) <= 3 and job.frames_created == len(_indices(video))


@pytest.mark.django_db
def test_a_job_cancelled_before_it_starts_samples_nothing(project, tiny_path):
    video = _video(project, tiny_path)
    job = sampling_services.sampling_job_create(
        video=video, user=None, strategy="uniform", params={"n": 5}
    )
    job_request_cancel(job=job)
    sampling_work.sampling_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and not video.frames.exists()


@pytest.mark.django_db
def test_a_job_cancelled_while_running_stops_and_keeps_what_it_stored(
    project, tiny_path, settings, monkeypatch
):
    settings.JOB_HEARTBEAT_INTERVAL = 0  # beat at every frame
    video = _video(project, tiny_path)
    job = sampling_services.sampling_job_create(
        video=video, user=None, strategy="uniform", params={"n": 12}
    )
    real_store = sampling_work.frame_store

    def store_then_cancel(**kwargs):
        frame = real_store(**kwargs)
        job_request_cancel(job=FrameSamplingJob.objects.get(pk=job.pk))
        return frame

    monkeypatch.setattr(sampling_work, "frame_store", store_then_cancel)
    sampling_work.sampling_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.frames_created == 1 and _indices(video) == [0]
    assert job.message.startswith("Stopped: 1 new frame")


@pytest.mark.django_db(transaction=True)
def test_deleting_the_video_while_it_is_sampled_leaves_no_frame_files(
    project, tiny_path, settings, monkeypatch
):
    settings.JOB_HEARTBEAT_INTERVAL = 0
    video = _video(project, tiny_path)
    before = files_on_disk()
    job = sampling_services.sampling_job_create(
        video=video, user=None, strategy="uniform", params={"n": 12}
    )
    real_store = sampling_work.frame_store

    def store_then_delete(**kwargs):
        frame = real_store(**kwargs)
        services.video_delete(video=Video.objects.get(pk=video.pk))
        return frame

    monkeypatch.setattr(sampling_work, "frame_store", store_then_delete)
    sampling_work.sampling_job_execute(job_id=job.pk)
    assert not FrameSamplingJob.objects.filter(pk=job.pk).exists()
    assert not Frame.objects.exists()
    left = files_on_disk() - before
    assert not [p for p in left if "/frames/" in p]


@pytest.mark.django_db
def test_a_video_that_no_longer_decodes_fails_with_a_reason(project, tiny_path):
    video = _video(project, tiny_path)
    with open(default_storage.path(video.file.name), "wb") as fh:
        fh.write(b"\0garbage" * 1000)
    job = _run(video, "every_seconds", seconds=0.5)
    assert job.status == JobStatus.FAILED
    assert "not a video" in job.error and not video.frames.exists()


@pytest.mark.django_db
def test_a_registered_file_moved_out_of_the_shared_roots_fails_the_job(
    project, tiny_path, tmp_path, settings
):
    settings.SHARED_VIDEO_ROOTS = [tmp_path]
    target = tmp_path / "m.mp4"
    target.write_bytes(tiny_path.read_bytes())
    video = services.video_register(project=project, user=None, path=str(target))
    settings.SHARED_VIDEO_ROOTS = []
    job = _run(video, "every_seconds", seconds=0.5)
    assert job.status == JobStatus.FAILED and "no longer available" in job.error


# --- the real worker on the lab recording ---------------------------------------------------
def _decoded(path: Path, index: int) -> np.ndarray:
    """Frame ``index`` decoded the plain way (every frame, in order), as RGB int16."""
    with av.open(str(path)) as container:
        for number, decoded in enumerate(container.decode(video=0)):
            if number == index:
                return decoded.to_ndarray(format="rgb24").astype(np.int16)
    raise AssertionError(f"the video has no frame {index}")


def _finished(job_id: int) -> FrameSamplingJob | None:
    job = FrameSamplingJob.objects.get(pk=job_id)
    return job if job.is_finished else None


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_worker_samples_the_open_field_video_every_1_5_s(
    celery_worker, api_client_for, owner, project, openfield_video
):
    client = api_client_for(owner)
    response = upload(
        client, project.pk, ("openfield-m3v1.mp4", openfield_video), sample_every="1.5"
    )
    assert response.status_code == 201, response.content
    video = Video.objects.get(pk=response.json()["id"])
    job_id = response.json()["sampling_job"]
    job = wait_for(lambda: _finished(job_id), timeout=300, what="the sampling job")
    assert job.status == JobStatus.SUCCEEDED, (job.error, celery_worker.log()[-3000:])
    assert job.strategy == "every_seconds" and job.params == {"seconds": 1.5}

    frames = list(video.frames.order_by("frame_index"))
    assert len(frames) == 52 and job.frames_created == 52
    assert [f.frame_index for f in frames] == [45 * k for k in range(52)]
    # The container's timestamps (29.9997 fps: frame 45 is at 1.499985 s), not index/fps.
    for k, frame in enumerate(frames):
        assert frame.timestamp_s == pytest.approx(1.5 * k, abs=2e-3)
    assert frames[1].timestamp_s == pytest.approx(1.499985, abs=1e-6)
    assert {(f.width, f.height) for f in frames} == {(640, 480)}
    # The stored pixels are those of the frame the index names (JPEG q95 noise only).
    reference = _decoded(openfield_video, 1350)
    with default_storage.open(video.frames.get(frame_index=1350).image.name, "rb") as fh:
        stored = np.asarray(Image.open(io.BytesIO(fh.read())).convert("RGB"), dtype=np.int16)
    assert np.abs(stored - reference).mean() < 3
    status = client.get(f"/api/sampling-jobs/{job_id}/").json()
    assert status["status"] == "succeeded" and status["progress"] == 1.0

    # "Take this frame" from the player, then the same sampling again: no duplicates.
    take = client.post(
        f"/api/videos/{video.pk}/sample/", {"strategy": "indices", "indices": [100]}, format="json"
    )
    assert take.status_code == 202
    taken = wait_for(lambda: _finished(take.json()["id"]), timeout=120, what="take-this-frame")
    assert taken.status == JobStatus.SUCCEEDED and taken.frames_created == 1
    assert video.frames.get(frame_index=100).timestamp_s == pytest.approx(100 / 30, abs=2e-3)
    again = client.post(
        f"/api/videos/{video.pk}/sample/",
        {"strategy": "every_seconds", "seconds": 1.5},
        format="json",
    )
    repeat = wait_for(lambda: _finished(again.json()["id"]), timeout=300, what="re-sampling")
    assert repeat.status == JobStatus.SUCCEEDED and repeat.frames_created == 0
    assert video.frames.count() == 53


@pytest.mark.django_db
def test_a_frame_taken_alone_and_the_thumbnail_show_the_videos_pixels(project, openfield_video):
    reference = _decoded(openfield_video, 1000)
    video = _video(project, openfield_video)
    job = _run(video, "indices", indices=[1000])
    assert job.status == JobStatus.SUCCEEDED
    with default_storage.open(video.frames.get().image.name, "rb") as fh:
        taken = np.asarray(Image.open(io.BytesIO(fh.read())).convert("RGB"), dtype=np.int16)
    assert np.abs(taken - reference).mean() < 3  # JPEG q95 noise only
    with default_storage.open(video.thumbnail.name, "rb") as fh:
        red, green, blue = np.asarray(Image.open(io.BytesIO(fh.read()))).mean(axis=(0, 1))
    assert abs(red - green) < 5 and abs(green - blue) < 5  # a grey arena, not green
