"""An image-set zip job whose worker is SIGKILLed while it stores the set's images: the
stale check fails the job and removes what the dead attempt stored, and a retry then makes
the whole set (once, even when the dead attempt had written its rows)."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from labeling import tasks
from labeling.models import Frame, ImageSetImportJob, Video
from labeling.videos import imageset_services, imageset_work, services
from tests.conftest import wait_for
from tests.labeling.dataset_helpers import image_bytes, make_frame, make_source, media_files
from tests.labeling.job_kill import (
    assert_retry_offered,
    fail_stale,
    kill_mid_store,
    start_doomed_worker,
)
from tests.labeling.video_helpers import upload
from webapp import jobs
from webapp.jobs import kinds
from webapp.models import JobStatus
from webapp.storage import delete_quietly

IMAGES = 300


def images_zip(n: int = IMAGES) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(n):
            archive.writestr(f"session/img{i:04d}.jpg", image_bytes(9000 + i))
    return buffer.getvalue()


def stored_by(job) -> set[str]:
    folders = imageset_services.imageset_job_folders(job)
    return {n for n in media_files() if any(n.startswith(f + "/") for f in folders)}


def finished(job) -> bool:
    job.refresh_from_db()
    return job.is_finished


def image_sets(project):
    return Video.all_objects.filter(project=project, kind=Video.Kind.IMAGE_SET)


class RunHere:
    """Stands for the broker: runs the image-set job in this process at once."""

    id = "in-process"

    def __call__(self, args, **kwargs):
        imageset_work.imageset_job_execute(job_id=args[0])
        return self


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_store_leaves_no_orphans_and_a_retry_makes_the_set(
    start_worker, project, owner, api_client_for, monkeypatch, settings
):
    archive = images_zip()
    before = media_files()
    private, doomed = start_doomed_worker(start_worker, "imageset")
    client = api_client_for(owner)
    with monkeypatch.context() as patch:
        patch.setattr(tasks.imageset_import_run, "mousetrack_queue", private)
        response = upload(client, project.pk, ("session.zip", archive))
    assert response.status_code == 202, response.content
    job = ImageSetImportJob.objects.get(pk=response.json()["id"])

    kill_mid_store(job, doomed, stored_by=stored_by, total=IMAGES)
    assert not image_sets(project).exists() and not Frame.all_objects.exists()

    fail_stale(job, settings, stored_by=stored_by, finished=finished)
    assert media_files() - before == {job.upload.name}, "nothing else is left in media"
    assert not image_sets(project).exists() and not Frame.all_objects.exists()

    retry_url = reverse("api-imageset-job-retry", args=[job.pk])
    assert_retry_offered(
        client, detail_url=reverse("api-imageset-job", args=[job.pk]), retry_url=retry_url
    )
    fresh = start_worker(queues=("default",))
    response = client.post(retry_url)
    assert response.status_code == 202, response.content
    wait_for(lambda: finished(job), timeout=300, what="the retried image set")
    assert job.status == JobStatus.SUCCEEDED, f"{job.error}\n{fresh.log()[-3000:]}"
    video = image_sets(project).get()
    assert job.video_id == video.pk and video.frame_count == IMAGES
    frames = Frame.all_objects.filter(video=video)
    assert sorted(frames.values_list("source_name", flat=True)) == [
        f"session/img{i:04d}.jpg" for i in range(IMAGES)
    ]
    images = set(frames.values_list("image", flat=True))
    # Every file is the set's: nothing of the killed attempt is left, the zip is gone.
    assert stored_by(job) == images | {video.thumbnail.name}
    assert media_files() - before <= images | {video.thumbnail.name}
    # Retrying a job that succeeded is refused, and not offered.
    assert client.get(reverse("api-imageset-job", args=[job.pk])).json()["retry_url"] is None
    again = client.post(retry_url)
    assert again.status_code == 400 and "status" in again.json()


def queued_job(project, owner, tmp_path, n: int):
    path = tmp_path / "set.zip"
    path.write_bytes(images_zip(n))
    job = imageset_services.imageset_job_create(
        project=project, user=owner, path=path, name="set.zip"
    )
    ImageSetImportJob.objects.filter(pk=job.pk).update(celery_task_id="in-process")
    return job


@pytest.mark.django_db(transaction=True)
def test_an_attempt_the_stale_check_gave_up_on_writes_no_rows(
    project, owner, tmp_path, monkeypatch
):
    """The worker was only slow, not dead: the stale check failed the job while it stored
    (and swept its files). Its commit checks the job first: no rows, and its own files go."""
    job = queued_job(project, owner, tmp_path, n=4)
    real_store = services._store_set_image
    seen = []

    def store_then_go_stale(entry, *, folder, index):
        stored = real_store(entry, folder=folder, index=index)
        seen.append(stored[0])
        if len(seen) == 4:  # the last one: the stale check strikes before the rows
            ImageSetImportJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED)
        return stored

    monkeypatch.setattr(services, "_store_set_image", store_then_go_stale)
    imageset_work.imageset_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.video_id is None
    images, _ = imageset_services.imageset_job_folders(job)
    assert len(seen) == 4 and all(name.startswith(images + "/") for name in seen)
    assert not image_sets(project).exists() and not Frame.all_objects.exists()
    assert not stored_by(job)


class Killed(BaseException):
    """Stands for SIGKILL: no ``except Exception`` sees it."""


@pytest.mark.django_db(transaction=True)
def test_a_retry_after_a_kill_past_the_commit_keeps_the_one_set(
    project, owner, tmp_path, monkeypatch, settings
):
    """Killed after its rows were committed but before it was marked done: the stale check
    keeps the files the rows use, and the retry finishes the job with that set (no second
    one)."""
    job = queued_job(project, owner, tmp_path, n=3)
    with monkeypatch.context() as patch:
        # The job is marked done by the shared runner (webapp.jobs.kinds).
        patch.setattr(kinds, "job_finish", lambda **kwargs: (_ for _ in ()).throw(Killed))
        with pytest.raises(Killed):
            imageset_work.imageset_job_execute(job_id=job.pk)
    video = image_sets(project).get()
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.video_id == video.pk
    kept = stored_by(job)
    assert len(kept) == 4  # three images and the thumbnail

    past = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER + 5)
    ImageSetImportJob.objects.filter(pk=job.pk).update(heartbeat_at=past)
    assert jobs.jobs_fail_stale() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and stored_by(job) == kept

    monkeypatch.setattr(tasks.imageset_import_run, "apply_async", RunHere())
    job = imageset_services.imageset_job_retry(job=job)
    assert job.status == JobStatus.SUCCEEDED and job.video_id == video.pk
    assert image_sets(project).count() == 1 and Frame.all_objects.count() == 3
    assert stored_by(job) == kept and not job.upload


@pytest.mark.django_db
def test_the_stale_check_sweeps_only_files_nothing_refers_to(project, owner, settings):
    """Only the unreferenced files of the job's own folders go: a frame's image and a
    set's thumbnail stay, and so does a neighbouring job's file."""
    job = ImageSetImportJob.objects.create(
        project=project,
        status=JobStatus.RUNNING,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER + 5),
        created_by=owner,
    )
    images, thumbs = imageset_services.imageset_job_folders(job)

    def save(name: str, seed: int) -> str:
        return default_storage.save(name, ContentFile(image_bytes(seed)))

    used = save(f"{images}/000000.jpg", 1)
    orphan = save(f"{images}/000001.jpg", 2)
    thumb = save(f"{thumbs}/{'a' * 32}.jpg", 3)
    orphan_thumb = save(f"{thumbs}/{'b' * 32}.jpg", 4)
    neighbour = save(f"{images}0/000000.jpg", 5)
    source = make_source(project)
    Video.all_objects.filter(pk=source.pk).update(thumbnail=thumb)
    frame = make_frame(source, 0)
    Frame.all_objects.filter(pk=frame.pk).update(image=used)

    try:
        assert jobs.jobs_fail_stale() == 1
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        for name in (used, thumb, neighbour):
            assert default_storage.exists(name), name
        assert not default_storage.exists(orphan) and not default_storage.exists(orphan_thumb)
        assert imageset_services.imageset_job_sweep(job=job) == 0  # nothing more to do
    finally:
        # The rows roll back, the files would stay: a later job with the same ids would
        # find them in its folders.
        delete_quietly(used, orphan, thumb, orphan_thumb, neighbour)


@pytest.mark.django_db
def test_a_retry_needs_the_received_zip(project, owner):
    job = ImageSetImportJob.objects.create(
        project=project, status=JobStatus.FAILED, created_by=owner
    )
    assert not imageset_services.imageset_job_retryable(job=job)
    with pytest.raises(ValidationError, match="upload the zip again"):
        imageset_services.imageset_job_retry(job=job)


@pytest.mark.django_db(transaction=True)
def test_an_attempt_first_sweeps_what_a_killed_one_left(project, owner, tmp_path):
    """A redelivery (the killed worker's message given to another one before any stale
    check) finds the dead attempt's files in the job's folders and removes them first."""
    job = queued_job(project, owner, tmp_path, n=2)
    images, thumbs = imageset_services.imageset_job_folders(job)
    left = [
        default_storage.save(f"{images}/000000.jpg", ContentFile(image_bytes(1))),
        default_storage.save(f"{images}/000001.jpg", ContentFile(image_bytes(2))),
        default_storage.save(f"{thumbs}/{'c' * 32}.jpg", ContentFile(image_bytes(3))),
    ]
    imageset_work.imageset_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    frames = Frame.all_objects.filter(video=job.video)
    names = set(frames.values_list("image", flat=True)) | {job.video.thumbnail.name}
    assert stored_by(job) == names
    # The set's images took the names the dead attempt had used: the old bytes are gone.
    assert {f"{images}/000000.jpg", f"{images}/000001.jpg"} <= names
    with default_storage.open(f"{images}/000000.jpg", "rb") as fh:
        assert fh.read() == image_bytes(9000)  # the zip's first image, stored as uploaded
    assert left[2] not in names and not default_storage.exists(left[2])
