"""A dataset import whose worker is SIGKILLed while it stores images: the stale check fails
the job and removes what the dead attempt stored, and a retry then imports everything."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from labeling import tasks
from labeling.datasets import import_work, job_services
from labeling.models import DatasetImportJob, Frame
from tests.conftest import wait_for
from tests.labeling.dataset_helpers import (
    H,
    W,
    image_bytes,
    make_frame,
    make_source,
    media_files,
    scratch_files,
    write_zip,
)
from tests.labeling.job_kill import (
    assert_retry_offered,
    fail_stale,
    kill_mid_store,
    start_doomed_worker,
)
from webapp import jobs
from webapp.models import JobStatus
from webapp.storage import delete_quietly

IMAGES = 300


def coco_zip(path, n: int = IMAGES):
    images = [{"id": i, "file_name": f"img{i:04d}.jpg", "width": W, "height": H} for i in range(n)]
    annotations = [
        {"id": i, "image_id": i, "category_id": 1, "bbox": [2, 3, 10, 12], "area": 120}
        for i in range(n)
    ]
    doc = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "mouse"}]}
    files: dict[str, bytes | str] = {"annotations/instances_train.json": json.dumps(doc)}
    files.update({f"images/train/img{i:04d}.jpg": image_bytes(7000 + i) for i in range(n)})
    return write_zip(path, files)


def stored_by(job) -> set[str]:
    folder = job_services.import_job_folder(job)
    return {name for name in media_files() if name.startswith(folder + "/")}


def dead_attempt_scratch() -> set[str]:
    """The import folders in scratch (``imports/import-<owner>…``)."""
    return {p.split("/")[1] for p in scratch_files() if p.startswith("imports/import-")}


def finished(job) -> bool:
    job.refresh_from_db()
    return job.is_finished


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_store_leaves_no_orphans_and_a_retry_imports_everything(
    start_worker, project, owner, api_client_for, monkeypatch, settings, tmp_path
):
    archive = coco_zip(tmp_path / "big.zip")
    before = media_files()
    private, doomed = start_doomed_worker(start_worker, "import")
    client = api_client_for(owner)
    with monkeypatch.context() as patch:
        patch.setattr(tasks.dataset_import_run, "mousetrack_queue", private)
        with open(archive, "rb") as fh:
            response = client.post(
                reverse("api-dataset-import", args=[project.pk]),
                {"file": fh, "format": "coco"},
                format="multipart",
            )
    assert response.status_code == 202, response.content
    job = DatasetImportJob.objects.get(pk=response.json()["id"])

    kill_mid_store(job, doomed, stored_by=stored_by, total=IMAGES)
    assert not Frame.objects.filter(project=project).exists()

    fail_stale(job, settings, stored_by=stored_by, finished=finished)

    retry_url = reverse("api-dataset-import-job-retry", args=[job.pk])
    assert_retry_offered(
        client, detail_url=reverse("api-dataset-import-job", args=[job.pk]), retry_url=retry_url
    )
    # No finally ran in the killed worker: its extracted zip is still in scratch.
    left = dead_attempt_scratch()
    assert left
    fresh = start_worker(queues=("default",))
    response = client.post(retry_url)
    assert response.status_code == 202, response.content
    wait_for(lambda: finished(job), timeout=300, what="the retried import")
    assert job.status == JobStatus.SUCCEEDED, f"{job.error}\n{fresh.log()[-3000:]}"
    assert job.result["frames_created"] == IMAGES and job.result["boxes"] == IMAGES
    frames = Frame.objects.filter(project=project)
    assert frames.count() == IMAGES
    assert set(frames.values_list("source_name", flat=True)) == {
        f"img{i:04d}.jpg" for i in range(IMAGES)
    }
    images = set(frames.values_list("image", flat=True))
    # Every file is a frame's: nothing of the killed attempt is left, the zip is gone.
    assert stored_by(job) == images
    assert media_files() - before == images
    # It goes when a worker starts on this host (``fresh``; the retry itself may have run
    # on another test worker, so wait for this one).
    wait_for(lambda: not left & dead_attempt_scratch(), timeout=180, what="the scratch sweep")
    # Retrying a job that succeeded is refused, and not offered.
    assert client.get(reverse("api-dataset-import-job", args=[job.pk])).json()["retry_url"] is None
    again = client.post(retry_url)
    assert again.status_code == 400 and "status" in again.json()


@pytest.mark.django_db
def test_a_retry_needs_the_received_zip(project, owner):
    job = DatasetImportJob.objects.create(
        project=project, fmt="coco", status=JobStatus.FAILED, created_by=owner
    )
    assert not job_services.dataset_import_job_retryable(job=job)
    with pytest.raises(ValidationError, match="upload the dataset again"):
        job_services.dataset_import_job_retry(job=job)


@pytest.mark.django_db(transaction=True)
def test_an_attempt_the_stale_check_gave_up_on_writes_no_rows(
    project, owner, tmp_path, monkeypatch
):
    """The worker was only slow, not dead: the stale check failed the job while it stored
    (and swept its files). Its commit checks the job first: no rows, and its own files go."""
    archive = coco_zip(tmp_path / "small.zip", n=4)
    job = job_services.dataset_import_job_create(
        project=project, user=owner, fmt="coco", upload=archive
    )
    DatasetImportJob.objects.filter(pk=job.pk).update(celery_task_id="in-process")
    from labeling.datasets import importing

    real_store = importing._store_image
    seen = []

    def store_then_go_stale(folder, item):
        name = real_store(folder, item)
        seen.append(name)
        if len(seen) == 4:  # the last one: the stale check strikes before the rows
            DatasetImportJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED)
        return name

    monkeypatch.setattr(importing, "_store_image", store_then_go_stale)
    import_work.dataset_import_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert len(seen) == 4 and all(n.startswith(job_services.import_job_folder(job)) for n in seen)
    assert not Frame.objects.filter(project=project).exists()
    assert not stored_by(job)


@pytest.mark.django_db
def test_the_stale_check_sweeps_only_files_no_frame_refers_to(project, owner, settings):
    """A job killed after its rows were written (before it was marked done) keeps the
    images its frames use; only the unreferenced ones of its folder go, and only its own."""
    job = DatasetImportJob.objects.create(
        project=project,
        fmt="coco",
        status=JobStatus.RUNNING,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER + 5),
        created_by=owner,
    )
    folder = job_services.import_job_folder(job)
    used = default_storage.save(f"{folder}/{'a' * 64}.jpg", ContentFile(image_bytes(1)))
    orphan = default_storage.save(f"{folder}/{'b' * 64}.jpg", ContentFile(image_bytes(2)))
    neighbour = default_storage.save(f"{folder}0/{'c' * 64}.jpg", ContentFile(image_bytes(3)))
    frame = make_frame(make_source(project), 0)
    Frame.objects.filter(pk=frame.pk).update(image=used)

    try:
        assert jobs.jobs_fail_stale() == 1
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        assert default_storage.exists(used) and default_storage.exists(neighbour)
        assert not default_storage.exists(orphan)
        assert job_services.dataset_import_job_sweep(job=job) == 0  # nothing more to do
    finally:
        # The rows roll back, the files would stay: a later job with the same ids would
        # find them in its folder, and its sweep would delete what another test counts.
        delete_quietly(used, orphan, neighbour)
