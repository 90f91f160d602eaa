"""Dataset imports and exports as jobs: a real Celery worker, progress, cancel, all or
nothing, the export's download and ``manage.py import_dataset`` following its job."""

from __future__ import annotations

import io
import zipfile

import pytest

from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from labeling.datasets import export_work, import_work, importing, job_services
from labeling.datasets.exporting import dataset_export
from labeling.models import DatasetExportJob, DatasetImportJob, Frame, Role
from labeling.services import project_create
from tests.conftest import wait_for
from tests.labeling.dataset_helpers import (
    image_bytes,
    media_files,
    populate,
    scratch_files,
    snapshot,
    upload_temp_files,
    write_zip,
)
from webapp.storage import delete_quietly


@pytest.fixture
def exported_zip(project, owner, tmp_path):
    """A COCO zip of 6 images exported from another project with the same classes."""
    source = project_create(name="Source", owner=owner, class_names=["mouse", "rat"])
    populate(source)
    path = tmp_path / "source-coco.zip"
    dataset_export(project=source, fmt="coco", zip_path=path)
    return path


def upload(client, project, path, **fields):
    with open(path, "rb") as fh:
        return client.post(
            reverse("api-dataset-import", args=[project.pk]),
            {"file": fh, **fields},
            format="multipart",
        )


def finished(client, url: str) -> dict:
    def done():
        body = client.get(url).json()
        return body if body["is_finished"] else None

    return wait_for(done, timeout=120, what=f"job {url} to finish")


def imported_uploads(project) -> set[str]:
    return {p for p in media_files() if p.startswith(f"imports/{project.pk}/")}


def polyglot_yolo(tmp_path):
    return write_zip(
        tmp_path / "yolo.zip",
        {
            "data.yaml": "train: images/train\nval: images/val\nnames: [mouse]\n",
            "images/train/a.jpg": image_bytes(2),
            "labels/train/a.txt": "0 0.5 0.5 0.2 0.2\n",
            "images/val/evil.jpg": image_bytes(3) + b"<html><script>alert(1)</script></html>",
            "labels/val/evil.txt": "0 0.5 0.5 0.2 0.2\n",
        },
    )


# --- imports through a real worker ------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_import_runs_as_a_job_with_progress_and_counts(
    celery_worker, project, owner, api_client_for, exported_zip
):
    client = api_client_for(owner)
    response = upload(client, project, exported_zip, format="coco", create_missing_classes="true")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["source_name"] == "source-coco.zip"
    job = finished(client, body["url"])
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0 and "Imported 6 images (COCO)" in job["message"]
    assert job["result"]["frames_created"] == 6 and job["result"]["classes_created"] == ["rat"]
    assert project.frames.filter(status=Frame.Status.LABELED).count() == 6
    assert not imported_uploads(project), "the received zip is removed once the job ended"
    row = DatasetImportJob.objects.get(pk=body["id"])
    assert row.attempts == 1 and row.worker
    # Importing the same zip again updates nothing and duplicates nothing.
    again = finished(client, upload(client, project, exported_zip, format="auto").json()["url"])
    assert (again["result"]["frames_created"], again["result"]["frames_unchanged"]) == (0, 6)
    listed = client.get(reverse("api-dataset-jobs", args=[project.pk])).json()
    assert [j["id"] for j in listed["imports"]] == [again["id"], job["id"]]


@pytest.mark.django_db(transaction=True)
def test_a_failed_import_job_stores_nothing(
    celery_worker, project, owner, api_client_for, tmp_path
):
    populate(project)
    before = snapshot()
    client = api_client_for(owner)
    response = upload(client, project, polyglot_yolo(tmp_path), format="yolo")
    assert response.status_code == 202
    job = finished(client, response.json()["url"])
    assert job["status"] == "failed"
    assert "nothing was imported" in job["error"] and "polyglot" in job["error"]
    assert "evil" in job["error"]
    assert snapshot() == before, "no row and no file (the received zip is gone too)"
    assert not [p for p in scratch_files() if p.startswith("imports/import-")]


@pytest.mark.django_db(transaction=True)
def test_cancelling_an_import_midway_stores_nothing(
    project, owner, exported_zip, monkeypatch, settings
):
    """Cancelled while images are being stored: the files stored so far are removed and no
    row is written (the job body runs here, in-process, to stop it at a chosen image)."""
    settings.JOB_HEARTBEAT_INTERVAL = 0  # every image beats
    populate(project)
    before = snapshot()
    job = job_services.dataset_import_job_create(
        project=project, user=owner, fmt="coco", upload=exported_zip, create_missing_classes=True
    )
    DatasetImportJob.objects.filter(pk=job.pk).update(celery_task_id="in-process")
    real_store = importing._store_image
    stored: list[str] = []

    def store_then_cancel(project, item):
        name = real_store(project, item)
        stored.append(name)
        if len(stored) == 3:
            DatasetImportJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        return name

    monkeypatch.setattr(importing, "_store_image", store_then_cancel)
    import_work.dataset_import_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "cancelled" and "nothing was imported" in job.message
    assert len(stored) == 3
    assert snapshot() == before
    assert not job.upload


@pytest.mark.django_db(transaction=True)
def test_a_job_cancelled_before_it_starts_never_runs(celery_worker, project, owner, exported_zip):
    job = job_services.dataset_import_job_create(
        project=project, user=owner, fmt="coco", upload=exported_zip
    )
    job_services.dataset_import_job_cancel(job=job)
    assert job.status == "cancelled"
    job_services.dataset_import_job_dispatch(job=job)  # a late delivery does nothing
    import_work.dataset_import_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "cancelled" and job.attempts == 0
    assert not project.frames.exists() and not imported_uploads(project)


@pytest.mark.django_db(transaction=True)
def test_the_request_checks_the_zip_before_queueing(project, owner, api_client_for, tmp_path):
    """Not a zip, unsafe names, a bad format or a missing file: 400 at once, no job."""
    before, temp = snapshot(), upload_temp_files()
    client = api_client_for(owner)
    slip = write_zip(tmp_path / "slip.zip", {"../evil.txt": "x"})
    response = upload(client, project, slip, format="auto")
    assert response.status_code == 400 and "escapes" in response.json()["file"][1]
    not_zip = tmp_path / "x.zip"
    not_zip.write_bytes(b"GIF89a nope")
    response = upload(client, project, not_zip, format="auto")
    assert response.status_code == 400 and "zip" in response.json()["file"][0]
    response = upload(client, project, slip, format="darknet")
    assert response.status_code == 400 and "format" in response.json()
    assert not DatasetImportJob.objects.exists()
    assert snapshot() == before and upload_temp_files() == temp


@pytest.mark.django_db(transaction=True)
def test_broker_down_is_503_with_no_job_and_no_stored_upload(
    project, owner, api_client_for, exported_zip, broker_down
):
    before = snapshot()
    response = upload(api_client_for(owner), project, exported_zip, format="coco")
    assert response.status_code == 503
    assert not DatasetImportJob.objects.exists()
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_import_job_permissions(
    celery_worker, project, owner, make_user, member_of, api_client_for, exported_zip
):
    client = api_client_for(owner)
    job = upload(client, project, exported_zip, format="coco", create_missing_classes="1").json()
    viewer = api_client_for(member_of(make_user("viewer"), Role.VIEWER))
    stranger = api_client_for(make_user("stranger"))
    assert viewer.get(job["url"]).status_code == 200
    assert viewer.post(job["cancel_url"]).status_code == 403
    assert stranger.get(job["url"]).status_code == 404
    assert stranger.post(job["cancel_url"]).status_code == 404
    assert stranger.get(reverse("api-dataset-jobs", args=[project.pk])).status_code == 404
    assert finished(client, job["url"])["status"] == "succeeded"


# --- exports ----------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_export_job_makes_a_zip_to_download(
    celery_worker, project, owner, make_user, member_of, api_client_for
):
    populate(project)
    viewer = api_client_for(member_of(make_user("viewer"), Role.VIEWER))
    annotator = api_client_for(member_of(make_user("annotator"), Role.ANNOTATOR))
    response = annotator.post(
        reverse("api-dataset-export-start", args=[project.pk]),
        {"format": "voc", "split": "all"},
        format="json",
    )
    assert response.status_code == 202, response.json()
    # A viewer reads and downloads it, but starts no export (docs/ROLES.md).
    job = finished(viewer, response.json()["url"])
    assert job["status"] == "succeeded", job
    assert job["result"] == {"images": 6, "boxes": 5, "negatives": 2, "unlabeled": 0}
    assert job["download_name"] == "open-field-voc.zip" and job["file_bytes"] > 0
    download = viewer.get(job["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    data = b"".join(download.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
    assert sum(n.startswith("Annotations/") for n in names) == 6
    stranger = api_client_for(make_user("stranger"))
    assert stranger.get(job["download_url"]).status_code == 404
    bad = annotator.post(
        reverse("api-dataset-export-start", args=[project.pk]), {"format": "tf"}, format="json"
    )
    assert bad.status_code == 400 and "format" in bad.json()
    bad = annotator.post(
        reverse("api-dataset-export-start", args=[project.pk]),
        {"format": "yolo", "split": "bogus"},
        format="json",
    )
    assert bad.status_code == 400 and "split" in bad.json()


@pytest.mark.django_db(transaction=True)
def test_an_export_with_nothing_to_export_fails_clearly(
    celery_worker, project, owner, api_client_for
):
    client = api_client_for(owner)
    response = client.post(
        reverse("api-dataset-export-start", args=[project.pk]), {"format": "yolo"}, format="json"
    )
    job = finished(client, response.json()["url"])
    assert job["status"] == "failed" and "no labeled frames" in job["error"]
    assert job["download_url"] is None
    assert not [p for p in media_files() if p.startswith(f"exports/{project.pk}/")]


@pytest.mark.django_db(transaction=True)
def test_cancelling_an_export_midway_keeps_no_file(project, owner, monkeypatch, settings):
    settings.JOB_HEARTBEAT_INTERVAL = 0
    populate(project)
    job = job_services.dataset_export_job_create(project=project, user=owner, fmt="cvat")
    DatasetExportJob.objects.filter(pk=job.pk).update(celery_task_id="in-process")
    from labeling.datasets import exporting

    real_call = exporting._StoredImages.__call__

    def call_then_cancel(self, image):
        if self.done == 2:
            DatasetExportJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        return real_call(self, image)

    monkeypatch.setattr(exporting._StoredImages, "__call__", call_then_cancel)
    before_scratch = scratch_files()
    export_work.dataset_export_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "cancelled" and not job.file
    assert not [p for p in media_files() if p.startswith(f"exports/{project.pk}/")]
    assert scratch_files() == before_scratch


# --- the shell command follows its job --------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_import_dataset_command_queues_and_follows_the_job(
    celery_worker, project, owner, exported_zip, tmp_path
):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_dataset",
        "--project",
        project.name,
        "--format",
        "auto",
        "--owner",
        owner.username,
        "--create-classes",
        str(exported_zip),
        stdout=out,
        stderr=err,
    )
    assert "Imported 6 images (coco)" in out.getvalue()
    assert "queued" in err.getvalue() and "succeeded" in err.getvalue()
    assert project.frames.count() == 6
    before = snapshot()
    with pytest.raises(CommandError, match="polyglot"):
        call_command(
            "import_dataset",
            "--project",
            project.name,
            "--format",
            "yolo",
            str(polyglot_yolo(tmp_path)),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_keep_alive_beats_while_a_step_has_no_progress_hook(project, owner, exported_zip, request):
    """Unpacking or parsing a huge zip reports no progress; the job must not look dead."""
    import time

    from webapp.jobs import job_claim

    job = job_services.dataset_import_job_create(
        project=project, user=owner, fmt="coco", upload=exported_zip
    )
    # The job never runs: its received zip is removed here (the flush drops only the row,
    # and a later test checks that nothing is left under imports/).
    request.addfinalizer(lambda: delete_quietly(job.upload.name))
    job = job_claim(model=DatasetImportJob, job_id=job.pk)
    first = job.heartbeat_at
    with import_work.keep_alive(job, every_s=0.05):
        time.sleep(0.5)
    job.refresh_from_db()
    assert job.heartbeat_at > first
    stopped = job.heartbeat_at
    time.sleep(0.2)
    job.refresh_from_db()
    assert job.heartbeat_at == stopped, "the thread stops with the step"
