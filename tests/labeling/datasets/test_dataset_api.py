"""Dataset API and pages: export zip, import upload, counts, split assignment, permissions."""

from __future__ import annotations

import io
import zipfile

import pytest

from django.urls import reverse
from rest_framework.test import APIClient

from labeling.datasets.exporting import dataset_export
from labeling.models import DatasetExportJob, DatasetImportJob, Frame, Role
from labeling.services import project_create
from tests.conftest import PASSWORD, wait_for
from tests.labeling.dataset_helpers import (
    populate,
    scratch_files,
    snapshot,
    upload_temp_files,
    write_zip,
)


def export_url(project, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("api-dataset-export", args=[project.pk]) + (f"?{query}" if query else "")


def import_url(project):
    return reverse("api-dataset-import", args=[project.pk])


def stats_url(project):
    return reverse("api-dataset-stats", args=[project.pk])


def zip_names(response) -> list[str]:
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.namelist()


@pytest.fixture
def exported_zip(project, owner, tmp_path):
    """A COCO zip exported from another project with the same classes."""
    source = project_create(name="Source", owner=owner, class_names=["mouse", "rat"])
    populate(source)
    path = tmp_path / "source-coco.zip"
    dataset_export(project=source, fmt="coco", zip_path=path)
    return path


def record_dispatch(monkeypatch) -> list[int]:
    """Record import jobs handed to the queue instead of publishing them."""
    from labeling import tasks

    sent: list[int] = []

    class Result:
        id = "recorded"

    def apply_async(args, **kwargs):
        sent.append(args[0])
        return Result()

    monkeypatch.setattr(tasks.dataset_import_run, "apply_async", apply_async)
    return sent


def upload(client, project, path, **fields):
    with open(path, "rb") as fh:
        return client.post(import_url(project), {"file": fh, **fields}, format="multipart")


# --- export ---------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "fmt,marker",
    [
        ("yolo", "data.yaml"),
        ("coco", "annotations/"),
        ("voc", "Annotations/"),
        ("cvat", "annotations.xml"),
    ],
)
def test_export_answers_a_zip_attachment(fmt, marker, project, owner, api_client_for):
    populate(project)
    response = api_client_for(owner).get(export_url(project, format=fmt))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="open-field-{fmt}.zip"'
    assert any(n.startswith(marker) for n in zip_names(response))
    assert not [p for p in scratch_files() if p.startswith("exports")]


@pytest.mark.django_db
def test_export_of_one_split(project, owner, api_client_for):
    populate(project)
    response = api_client_for(owner).get(export_url(project, format="yolo", split="test"))
    assert response.status_code == 200
    assert "open-field-yolo-test.zip" in response["Content-Disposition"]
    images = [n for n in zip_names(response) if n.startswith("images/") and "." in n]
    assert len(images) == 1 and images[0].startswith("images/test/")


@pytest.mark.django_db
def test_export_bad_parameters_are_400_naming_the_field(project, owner, api_client_for):
    client = api_client_for(owner)
    assert client.get(export_url(project, format="tfrecord")).json().keys() == {"format"}
    assert client.get(export_url(project)).status_code == 400
    response = client.get(export_url(project, format="yolo", split="holdout"))
    assert response.status_code == 400 and "split" in response.json()
    empty = client.get(export_url(project, format="yolo"))
    assert empty.status_code == 400 and "no labeled frames" in empty.json()["split"][0]


# --- import (the job itself: tests/labeling/datasets/test_dataset_jobs.py) ----------------------
@pytest.mark.django_db
def test_import_over_the_size_limit_is_413_and_stores_nothing(
    project, owner, api_client_for, exported_zip, settings
):
    settings.MAX_UPLOAD_BYTES = 1024
    before, temp = snapshot(), upload_temp_files()
    response = upload(api_client_for(owner), project, exported_zip, format="coco")
    assert response.status_code == 413
    assert snapshot() == before
    assert upload_temp_files() == temp


# --- permissions ----------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "role,export,stats,imports,create_classes",
    [
        (None, 404, 404, 404, 404),
        (Role.VIEWER, 200, 200, 403, 403),
        (Role.ANNOTATOR, 200, 200, 202, 403),
        (Role.OWNER, 200, 200, 202, 202),
    ],
)
def test_permission_matrix(
    monkeypatch,
    role,
    export,
    stats,
    imports,
    create_classes,
    project,
    make_user,
    member_of,
    api_client_for,
    exported_zip,
):
    populate(project)
    sent = record_dispatch(monkeypatch)
    user = make_user("someone")
    if role:
        member_of(user, role)
    client = api_client_for(user)
    before = snapshot()
    assert client.get(export_url(project, format="voc")).status_code == export
    assert client.get(stats_url(project)).status_code == stats
    # Adding classes is refused before anything is written, for everyone but owners.
    response = upload(client, project, exported_zip, format="coco", create_missing_classes="1")
    assert response.status_code == create_classes
    if create_classes != 202:
        assert snapshot() == before
        response = upload(client, project, exported_zip, format="coco")
        assert response.status_code == imports
        if imports != 202:
            assert snapshot() == before
    assert len(sent) == (1 if imports == 202 else 0)


@pytest.mark.django_db
def test_anonymous_requests_are_refused(project, exported_zip):
    client = APIClient()
    assert client.get(export_url(project, format="yolo")).status_code in (401, 403)
    assert client.get(stats_url(project)).status_code in (401, 403)
    assert upload(client, project, exported_zip, format="coco").status_code in (401, 403)


# --- counts ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_stats(project, owner, api_client_for):
    populate(project)
    body = api_client_for(owner).get(stats_url(project)).json()
    assert (body["frames"], body["annotated"], body["unlabeled"], body["boxes"]) == (7, 6, 1, 5)
    assert body["splits"] == {"train": 3, "val": 2, "test": 1, "unassigned": 0}
    assert [c["name"] for c in body["classes"]] == ["mouse", "rat"]
    assert body["classes"][1]["boxes"]["test"] == 1
    assert [s["name"] for s in body["sources"]] == ["cage A", "cage B"]


# --- pages ----------------------------------------------------------------------------
def page_client(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.mark.django_db
def test_dataset_page_shows_counts_and_actions_by_role(
    client, project, owner, make_user, member_of
):
    populate(project)
    detail = page_client(client, owner).get(reverse("project-detail", args=[project.pk]))
    assert reverse("dataset", args=[project.pk]).encode() in detail.content
    page = client.get(reverse("dataset", args=[project.pk]))
    assert page.status_code == 200
    for text in (
        b'id="export-form"',
        b'id="import-form"',
        b'id="reassign-splits-form"',
        b"cage A",
        b"rat",
    ):
        assert text in page.content
    viewer = member_of(make_user("viewer"), Role.VIEWER)
    client.logout()
    page = page_client(client, viewer).get(reverse("dataset", args=[project.pk]))
    # Exports are for annotators and up (docs/ROLES.md): the viewer sees why, no form.
    assert b'id="export-form"' not in page.content and b'id="import-form"' not in page.content
    assert b'id="export-readonly"' in page.content
    assert b'data-readonly="1"' in page.content
    stranger = make_user("stranger")
    client.logout()
    page_client(client, stranger)
    assert client.get(reverse("dataset", args=[project.pk])).status_code == 404
    assert (
        client.get(reverse("dataset-export", args=[project.pk]) + "?format=yolo").status_code == 404
    )


@pytest.mark.django_db(transaction=True)
def test_page_export_and_import(celery_worker, client, project, owner, exported_zip):
    populate(project)
    page_client(client, owner)
    response = client.get(
        reverse("dataset-export", args=[project.pk]), {"format": "cvat", "split": ""}
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    with open(exported_zip, "rb") as fh:
        response = client.post(
            reverse("dataset-import", args=[project.pk]), {"file": fh, "format": "auto"}
        )
    assert response.status_code == 302
    follow = client.get(response["Location"])
    job = DatasetImportJob.objects.get(project=project)
    assert f"Import #{job.pk} of “source-coco.zip” queued".encode() in follow.content
    job = wait_for(
        lambda: DatasetImportJob.objects.filter(pk=job.pk, finished_at__isnull=False).first(),
        what="the import",
    )
    assert job.message.startswith("Imported 6 images (COCO): 6 new frames"), job.error
    response = client.post(
        reverse("dataset-export-start", args=[project.pk]), {"format": "yolo", "split": "train"}
    )
    assert response.status_code == 302
    export = wait_for(
        lambda: DatasetExportJob.objects.filter(project=project, finished_at__isnull=False).first(),
        what="the export",
    )
    assert export.status == "succeeded" and export.download_name == "open-field-yolo-train.zip"


@pytest.mark.django_db
def test_page_import_errors_are_listed(client, project, owner, tmp_path):
    """What the request checks itself (the archive) is listed at once; nothing is queued."""
    page_client(client, owner)
    bad = write_zip(tmp_path / "bad.zip", {"data.yaml": "names: [mouse]\n", "../up.txt": "x"})
    with open(bad, "rb") as fh:
        response = client.post(
            reverse("dataset-import", args=[project.pk]), {"file": fh, "format": "yolo"}
        )
    assert response.status_code == 400
    assert b"nothing was imported" in response.content and b"escapes" in response.content
    assert not DatasetImportJob.objects.exists()


@pytest.mark.django_db
def test_page_import_needs_csrf_and_the_annotator_role(
    project, owner, make_user, member_of, exported_zip
):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    page_client(strict, owner)
    with open(exported_zip, "rb") as fh:
        response = strict.post(
            reverse("dataset-import", args=[project.pk]), {"file": fh, "format": "coco"}
        )
    assert response.status_code == 403
    viewer = member_of(make_user("viewer"), Role.VIEWER)
    other = Client()
    page_client(other, viewer)
    with open(exported_zip, "rb") as fh:
        response = other.post(
            reverse("dataset-import", args=[project.pk]), {"file": fh, "format": "coco"}
        )
    assert response.status_code == 403
    assert not project.frames.exists()


@pytest.mark.django_db
def test_page_split_actions_are_for_owners(client, project, owner, make_user, member_of):
    frames = populate(project)
    Frame.objects.filter(pk__in=[f.pk for f in frames]).update(split="")
    annotator = member_of(make_user("annotator"), Role.ANNOTATOR)
    page_client(client, annotator)
    url = reverse("dataset-splits", args=[project.pk])
    assert client.post(url, {"mode": "unassigned"}).status_code == 403
    client.logout()
    page_client(client, owner)
    assert client.post(url, {"mode": "unassigned"}).status_code == 302
    assert not project.frames.filter(split="").exclude(status="unlabeled").exists()
    assert project.frames.get(status="unlabeled").split == ""


@pytest.mark.django_db
def test_page_import_over_the_size_limit_is_refused_and_stores_nothing(
    client, project, owner, exported_zip, settings
):
    settings.MAX_UPLOAD_BYTES = 1024
    page_client(client, owner)
    before, temp = snapshot(), upload_temp_files()
    with open(exported_zip, "rb") as fh:
        response = client.post(
            reverse("dataset-import", args=[project.pk]), {"file": fh, "format": "coco"}
        )
    assert response.status_code == 413
    assert b"larger than the limit" in response.content
    assert snapshot() == before
    assert upload_temp_files() == temp
