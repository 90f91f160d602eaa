"""The training API: membership scoping, input checks, uploads, broker outage, downloads.

No worker runs these jobs: dispatches are recorded (``record_dispatch``), except in the
broker-outage test, which publishes for real to a broker that is not there.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import DatasetVersion, Role
from labeling.services import project_create
from tests.training.helpers import (
    FAST_HP,
    fake_model,
    make_frames,
    record_dispatch,
    stored_files,
)
from training.models import TrainedModel, TrainingJob
from webapp.models import JobStatus


@pytest.fixture
def dispatched(monkeypatch):
    return record_dispatch(monkeypatch)


def _upload_tmp() -> set[str]:
    return set(os.listdir(django_settings.FILE_UPLOAD_TEMP_DIR))


def _post_job(client, project, **fields):
    return client.post(
        f"/api/projects/{project.pk}/training-jobs/",
        {"preset": "yolo11n", **FAST_HP, **fields},
        format="json",
    )


@pytest.mark.django_db(transaction=True)
def test_create_freezes_a_dataset_version_and_queues_the_job(
    project, owner, api_client_for, dispatched
):
    make_frames(project)
    # 96 px: at FAST_HP's 64 px Tiny could not learn these boxes (training.presets).
    response = _post_job(
        api_client_for(owner), project, preset="tiny", epochs=3, lr0=0.02, imgsz=96
    )
    assert response.status_code == 201, response.content
    body = response.json()
    job = TrainingJob.objects.get(pk=body["id"])
    assert dispatched == [job.pk]
    assert body["status"] == "queued" and body["queue_position"] == 0
    assert job.preset == "yolov3-tiny" and job.epochs_total == 3
    assert job.hyperparameters["lr0"] == 0.02 and job.hyperparameters["momentum"] == 0.9
    assert job.hyperparameters["weight_decay"] == 5e-4
    assert job.dataset_version.project == project
    assert job.dataset_version.frame_counts == {"train": 6, "val": 2, "test": 0}

    # A second job waits behind the first; both are listed with their queue position.
    second = _post_job(
        api_client_for(owner), project, dataset_version=job.dataset_version_id
    ).json()
    assert second["dataset_version"] == job.dataset_version_id
    listed = {
        j["id"]: j
        for j in api_client_for(owner).get(f"/api/projects/{project.pk}/training-jobs/").json()
    }
    assert listed[job.pk]["queue_position"] == 0 and listed[second["id"]]["queue_position"] == 1
    detail = api_client_for(owner).get(f"/api/training-jobs/{job.pk}/").json()
    assert detail["epochs"] == [] and "log_tail" in detail and detail["can_cancel"]

    # Cancelling a queued job is immediate; retrying it queues it again.
    cancelled = api_client_for(owner).post(f"/api/training-jobs/{job.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    retried = api_client_for(owner).post(f"/api/training-jobs/{job.pk}/retry/")
    assert retried.status_code == 200 and retried.json()["status"] == "queued"
    assert dispatched == [job.pk, second["id"], job.pk]
    # Only ended jobs can be retried.
    assert (
        api_client_for(owner).post(f"/api/training-jobs/{second['id']}/retry/").status_code == 400
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"epochs": 0}, "epochs"),
        ({"imgsz": 100}, "imgsz"),
        ({"device": "0,1"}, "device"),
        ({"lr0": -1}, "lr0"),
        ({"preset": "yolov9000"}, "preset"),
        ({"start_from": "model", "start_model": 999999}, "start_model"),
        ({"dataset_version": 999999}, "dataset_version"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_kept(
    project, owner, api_client_for, dispatched, fields, field
):
    make_frames(project)
    response = _post_job(api_client_for(owner), project, **fields)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not TrainingJob.objects.exists() and not DatasetVersion.objects.exists()
    assert dispatched == []


@pytest.mark.django_db(transaction=True)
def test_no_labeled_frames_is_a_400(project, owner, api_client_for, dispatched):
    response = _post_job(api_client_for(owner), project)
    assert response.status_code == 400 and "frames" in response.json()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_offline_hub_weights_fail_fast_with_a_clear_message(
    project, owner, api_client_for, dispatched
):
    make_frames(project)
    response = _post_job(
        api_client_for(owner), project, start_from="official", start_weights_name="yolo11n.pt"
    )
    assert response.status_code == 400
    message = response.json()["start_weights_name"][0]
    assert "yolo11n.pt is not installed on this server" in message and "upload" in message
    assert not TrainingJob.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_bad_uploaded_checkpoint_is_refused_and_nothing_is_stored(
    project, owner, api_client_for, dispatched
):
    make_frames(project)
    stored_before, tmp_before = stored_files("training"), _upload_tmp()
    for name, content in (
        ("weights.pt", os.urandom(4096)),
        ("notes.txt", b"hello"),
        ("empty.pt", b""),
    ):
        response = api_client_for(owner).post(
            f"/api/projects/{project.pk}/training-jobs/",
            {"start_from": "upload", "checkpoint": SimpleUploadedFile(name, content), "epochs": 2},
            format="multipart",
        )
        assert response.status_code == 400, response.content
        reason = response.json()["checkpoint"][0]
        if content:  # (DRF itself refuses an empty file, without naming it)
            assert name in reason  # the person's own file name, not a server path
        assert str(django_settings.SCRATCH_DIR) not in reason
    assert not TrainingJob.objects.exists() and not DatasetVersion.objects.exists()
    assert stored_files("training") == stored_before
    assert _upload_tmp() == tmp_before
    assert dispatched == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_valid_uploaded_checkpoint_is_stored_and_sets_the_architecture(
    project, owner, api_client_for, dispatched, tmp_path
):
    from training.ultralytics_setup import configure_offline

    configure_offline(Path(django_settings.VAR_DIR))
    from ultralytics import YOLO

    checkpoint = tmp_path / "lab-model.pt"
    YOLO("yolo11n.yaml").save(checkpoint)
    make_frames(project)
    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/training-jobs/",
        {
            "start_from": "upload",
            "preset": "yolov3",  # the checkpoint's architecture wins
            "checkpoint": SimpleUploadedFile("lab-model.pt", checkpoint.read_bytes()),
            "epochs": 2,
            "imgsz": 64,
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    job = TrainingJob.objects.get(pk=response.json()["id"])
    assert job.preset == "yolo11n" and job.start_checkpoint_name == "lab-model.pt"
    with default_storage.open(job.start_checkpoint.name, "rb") as fh:
        assert fh.read() == checkpoint.read_bytes()
    assert job.hyperparameters["augment"] is True  # left out of a multipart form: default
    assert dispatched == [job.pk]


@pytest.mark.django_db(transaction=True)
def test_broker_down_is_a_503_and_leaves_no_row(project, owner, api_client_for, request):
    make_frames(project)
    request.getfixturevalue("broker_down")
    response = _post_job(api_client_for(owner), project)
    assert response.status_code == 503, response.content
    assert not TrainingJob.objects.exists()
    assert not DatasetVersion.objects.exists()  # the version made for it went too


@pytest.mark.django_db(transaction=True)
def test_retry_with_the_broker_down_is_a_503_and_keeps_the_jobs_history(
    project, owner, api_client_for, request
):
    make_frames(project)
    with pytest.MonkeyPatch.context() as patch:
        record_dispatch(patch)
        job = TrainingJob.objects.get(pk=_post_job(api_client_for(owner), project).json()["id"])
    TrainingJob.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, attempts=3, error="CUDA out of memory", message="Failed"
    )
    request.getfixturevalue("broker_down")
    response = api_client_for(owner).post(f"/api/training-jobs/{job.pk}/retry/")
    assert response.status_code == 503, response.content
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (JobStatus.FAILED, 3, "CUDA out of memory")


@pytest.mark.django_db(transaction=True)
def test_every_endpoint_is_scoped_by_membership(
    project, owner, make_user, member_of, api_client_for, dispatched
):
    make_frames(project)
    viewer = member_of(make_user("vera"), Role.VIEWER)
    stranger = make_user("mallory")
    theirs = project_create(name="Other lab", owner=stranger)
    their_model = fake_model(theirs, name="theirs")
    model = fake_model(project, name="ours")
    job = TrainingJob.objects.get(pk=_post_job(api_client_for(owner), project).json()["id"])

    reads = [
        f"/api/projects/{project.pk}/training-jobs/",
        f"/api/training-jobs/{job.pk}/",
        f"/api/projects/{project.pk}/models/",
        f"/api/models/{model.pk}/",
        f"/api/models/{model.pk}/download/?format=pt",
        f"/api/models/{model.pk}/download/?format=onnx",
        f"/api/models/{model.pk}/card/?format=md",
        f"/api/models/{model.pk}/card/?format=json",
    ]
    writes = [
        f"/api/projects/{project.pk}/training-jobs/",
        f"/api/training-jobs/{job.pk}/cancel/",
        f"/api/training-jobs/{job.pk}/retry/",
    ]
    for url in reads:
        assert api_client_for(stranger).get(url).status_code == 404, url
        assert api_client_for(viewer).get(url).status_code == 200, url
        assert api_client_for(None).get(url).status_code in (401, 403), url
    for url in writes:
        assert api_client_for(stranger).post(url, {}, format="json").status_code == 404, url
        assert api_client_for(viewer).post(url, {}, format="json").status_code == 403, url
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and not job.cancel_requested
    assert TrainingJob.objects.count() == 1

    # Lists never include another lab's jobs or models.
    models = api_client_for(viewer).get(f"/api/projects/{project.pk}/models/").json()
    assert [m["id"] for m in models] == [model.pk]
    assert their_model.pk not in [m["id"] for m in models]
    assert api_client_for(stranger).get(f"/api/models/{model.pk}/").status_code == 404
    assert api_client_for(owner).get(f"/api/models/{their_model.pk}/").status_code == 404


@pytest.mark.django_db
def test_downloads_are_attachments_with_their_checksum(project, owner, api_client_for):
    model = fake_model(project, name="dl", onnx=False)
    client = api_client_for(owner)
    response = client.get(f"/api/models/{model.pk}/download/?format=pt")
    body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert hashlib.sha256(body).hexdigest() == model.weights_sha256
    assert response["X-Checksum-SHA256"] == model.weights_sha256
    assert response["ETag"] == f'"{model.weights_sha256}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == (
        f'attachment; filename="Open-field-model-{model.pk}.pt"'
    )
    assert client.get(f"/api/models/{model.pk}/download/").status_code == 200  # pt by default
    missing = client.get(f"/api/models/{model.pk}/download/?format=onnx")
    assert missing.status_code == 404 and "ONNX" in missing.json()["detail"]
    bad = client.get(f"/api/models/{model.pk}/download/?format=exe")
    assert bad.status_code == 400 and "format" in bad.json()
    card = client.get(f"/api/models/{model.pk}/card/?format=md")
    assert card["Content-Disposition"].startswith("attachment;")
    assert card["Content-Type"] == "text/markdown; charset=utf-8"
    assert card.content.startswith(b"# Model card: dl")
    assert TrainedModel.objects.count() == 1


@pytest.mark.django_db
def test_presets_are_listed_with_their_descriptions(owner, api_client_for):
    presets = {p["key"]: p for p in api_client_for(owner).get("/api/training-presets/").json()}
    assert {"yolov3-tiny", "yolov3", "yolo11n", "yolo11s"} <= set(presets)
    assert presets["yolov3"]["paper"] and presets["yolov3"]["description"]
    assert presets["yolov3-tiny"]["hyperparameters"]["momentum"] == 0.9


# --- pages ---------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_pages_are_scoped_by_membership(project, owner, make_user, member_of, client, dispatched):
    make_frames(project)
    viewer = member_of(make_user("vera"), Role.VIEWER)
    stranger = make_user("mallory")
    model = fake_model(project, name="<b>ours</b>")
    job = TrainingJob.objects.get(pk=_post_job(_api(owner), project).json()["id"])
    pages = [
        f"/projects/{project.pk}/training/",
        f"/training/jobs/{job.pk}/",
        f"/training/models/{model.pk}/",
    ]

    client.force_login(stranger)
    for url in [*pages, f"/projects/{project.pk}/training/new/"]:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/training/jobs/{job.pk}/cancel/").status_code == 404

    client.force_login(viewer)
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
    listing = client.get(pages[0]).content.decode()
    assert "&lt;b&gt;ours&lt;/b&gt;" in listing and "<b>ours</b>" not in listing  # escaped
    assert "New training" not in listing  # viewers can't start one
    assert client.get(f"/projects/{project.pk}/training/new/").status_code == 403
    assert client.post(f"/training/jobs/{job.pk}/cancel/").status_code == 403
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and not job.cancel_requested


@pytest.mark.django_db(transaction=True)
def test_the_form_starts_a_job_or_names_what_is_wrong(project, owner, client, dispatched):
    make_frames(project)
    client.force_login(owner)
    url = f"/projects/{project.pk}/training/new/"
    form = {
        "preset": "yolov3-tiny",
        "dataset_version": "",
        "start_from": "scratch",
        "epochs": "2",
        "imgsz": "96",  # Tiny cannot learn these boxes at 64 px (refused)
        "batch": "4",
        "lr0": "0.01",
        "momentum": "0.9",
        "weight_decay": "0.0005",
        "patience": "50",
        "seed": "0",
        "device": "cpu",
        "name": "from the form",
    }
    page = client.get(url).content.decode()
    for key in ("yolov3-tiny", "yolov3", "yolo11n", "yolo11s"):
        assert f'value="{key}"' in page
    # The paper's Tiny preset is the default, with its own hyperparameters filled in.
    assert 'id="preset-yolov3-tiny" checked' in page
    assert 'id="preset-yolo11n" checked' not in page
    assert 'name="imgsz" id="id_imgsz" value="416"' in page

    bad = client.post(url, {**form, "imgsz": "100"})
    assert bad.status_code == 400 and "multiple of 32" in bad.content.decode()
    assert not TrainingJob.objects.exists()

    response = client.post(url, form)
    job = TrainingJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/training/jobs/{job.pk}/"
    assert job.preset == "yolov3-tiny" and job.name == "from the form"
    assert job.hyperparameters["augment"] is False  # the unchecked switch
    assert dispatched == [job.pk]
    # The "queued" banner is tagged for the page script, which drops it once the job runs.
    shown = client.get(response["Location"]).content.decode()
    assert f"Training job #{job.pk} queued." in shown
    assert 'data-message-tags="job-queued"' in shown


def _api(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_the_model_page_shows_the_card_as_html_without_markdown_escapes(project, owner, client):
    model = fake_model(project, name="Tiny <b>run</b>")
    model.card = {
        "model": {
            "name": "Tiny <b>run</b>",
            "preset": "yolov3-tiny",
            "preset_label": "YOLOv3-tiny (paper)",
            "seed_paper_model": True,
            "class_names": ["mouse_1"],
            "metrics": {"map50": 0.5},
            "files": {"pt": {"sha256": "ab" * 32, "bytes": 2048}},
        },
        "training": {"id": 7, "status": "succeeded", "hyperparameters": {"epochs": 3}},
        "dataset": {"name": "v1", "content_hash": "cd" * 32},
    }
    model.save(update_fields=["card"])
    client.force_login(owner)
    page = client.get(f"/training/models/{model.pk}/").content.decode()
    card = page[page.index('id="model-card"') :]
    assert "YOLOv3-tiny (paper) (yolov3-tiny)" in card and "mouse_1" in card
    assert "\\-" not in card and "\\(" not in card and "\\_" not in card
    assert "<dt" in card and "<table" in card  # HTML, not a <pre> of Markdown
    assert "Tiny &lt;b&gt;run&lt;/b&gt;" in card and "<b>run</b>" not in card
    # The download stays Markdown.
    md = client.get(f"/api/models/{model.pk}/card/?format=md").content.decode()
    assert md.startswith("# Model card:") and "YOLOv3\\-tiny" in md
