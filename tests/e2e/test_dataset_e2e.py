"""In real Chromium: open the Dataset page, export a zip, import zips (a re-import, a new
image set, a broken archive), assign splits."""

from __future__ import annotations

import zipfile

import pytest

from django.core.files import File
from django.core.files.storage import default_storage

from labeling.datasets.exporting import dataset_export
from labeling.models import DatasetImportJob, Frame, Video
from labeling.services import label_class_add, project_create
from tests.conftest import login, screenshot
from tests.labeling.dataset_helpers import make_frame, make_source, populate, write_zip
from webapp.models import JobStatus

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_export_and_import_through_the_dataset_page(celery_worker, page, project, owner, tmp_path):
    populate(project)
    label_class_add(project=project, name="nest")
    extra = make_source(project, "openfield-m3v1.mp4", kind=Video.Kind.VIDEO)
    for i in range(4):
        make_frame(
            extra, 30 * i, boxes=[("mouse", 8 + i, 6, 20, 14)], status=Frame.Status.LABELED
        )  # no split yet
    # A dataset from another lab: same classes plus one this project lacks.
    other = project_create(name="Other lab", owner=owner, class_names=["mouse", "nest", "pup"])
    source = make_source(other, "home cage")
    for i in range(3):
        make_frame(
            source, i, boxes=[("pup", 4, 4, 10, 8), ("mouse", 20, 10, 30, 20)], split="train"
        )
    dataset_export(project=other, fmt="coco", zip_path=tmp_path / "other-lab-coco.zip")

    login(page, owner)
    page.goto(f"/projects/{project.pk}/")
    page.click("#dataset-link")
    page.wait_for_selector("#export-form")
    assert page.locator("#metric-unassigned").inner_text() == "4"

    # Assign the frames that have no split yet (YOLO has no "unassigned" subset).
    page.click("#assign-splits-form button[type=submit]")
    page.wait_for_selector("text=Assigned unassigned frames")
    assert page.locator("#metric-unassigned").inner_text() == "0"

    # Export: a job makes the zip; the page shows its progress, then its download.
    page.select_option("#export-format", "yolo")
    page.click("#export-form button[type=submit]")
    page.wait_for_selector(".job-row[data-kind=export] .job-download", timeout=60_000)
    screenshot(page, "dataset-export-ready")
    with page.expect_download() as info:
        page.click(".job-row[data-kind=export] .job-download")
    download = info.value
    assert download.suggested_filename == "open-field-yolo.zip"
    exported = tmp_path / download.suggested_filename
    download.save_as(exported)
    with zipfile.ZipFile(exported) as zf:
        assert "data.yaml" in zf.namelist()

    # Re-importing our own export updates in place: no new frames.
    frames = Frame.objects.count()
    page.set_input_files("#import-file", str(exported))
    page.click("#import-submit")
    done = ".job-row[data-kind=import] .job-status:text('succeeded')"
    page.wait_for_selector(done, timeout=60_000)
    assert (
        "0 new frames" in page.locator(".job-row[data-kind=import] .job-message").first.inner_text()
    )
    assert Frame.objects.count() == frames

    # A broken archive: the problems are listed and nothing is imported.
    broken = write_zip(
        tmp_path / "broken.zip",
        {
            "../../escape.txt": "x",
            "annotations/instances_train.json": "{not json",
        },
    )
    page.set_input_files("#import-file", str(broken))
    page.click("#import-submit")
    page.wait_for_selector("#import-errors")
    errors = page.locator("#import-errors").inner_text()
    assert "nothing was imported" in errors and "escapes" in errors
    assert Frame.objects.count() == frames
    screenshot(page, "dataset-import-errors")

    # Another lab's COCO zip becomes an image set, adding its missing class.
    page.set_input_files("#import-file", str(tmp_path / "other-lab-coco.zip"))
    page.select_option("#import-format", "coco")
    page.check("#import-create-classes")
    page.click("#import-submit")
    # The page reloads once the import landed, so the counts include it.
    page.wait_for_selector("#class-table >> text=pup", timeout=60_000)
    page.wait_for_selector(done)
    message = page.locator(".job-row[data-kind=import] .job-message").first.inner_text()
    assert "Imported 3 images (COCO): 3 new frames" in message and "New classes: pup" in message
    assert project.videos.filter(
        kind=Video.Kind.IMAGE_SET, original_name__startswith="other-lab-coco.zip"
    ).exists()
    assert page.locator("#class-table >> text=pup").is_visible()
    assert page.locator("#source-table >> text=other-lab-coco.zip (COCO import)").is_visible()
    assert not page.js_errors, page.js_errors
    screenshot(page, "dataset-page")


@pytest.mark.django_db(transaction=True)
def test_an_import_whose_worker_died_is_retried_from_the_dataset_page(
    celery_worker, page, project, owner, tmp_path
):
    """The stale check failed an import whose worker died (the received zip kept): the job
    row offers Retry, which imports the kept zip without a second upload."""
    other = project_create(name="Other lab", owner=owner, class_names=["mouse"])
    source = make_source(other, "home cage")
    for i in range(3):
        make_frame(source, i, boxes=[("mouse", 20, 10, 30, 20)], split="train")
    dataset_export(project=other, fmt="coco", zip_path=tmp_path / "lab.zip")
    with open(tmp_path / "lab.zip", "rb") as fh:
        upload = default_storage.save(f"imports/{project.pk}/lab.zip", File(fh))
    job = DatasetImportJob.objects.create(
        project=project,
        fmt="coco",
        source_name="lab.zip",
        upload=upload,
        upload_bytes=(tmp_path / "lab.zip").stat().st_size,
        status=JobStatus.FAILED,
        error="Its worker stopped answering (the stale check).",
        created_by=owner,
    )
    succeeded = DatasetImportJob.objects.create(
        project=project,
        fmt="coco",
        source_name="done.zip",
        status=JobStatus.SUCCEEDED,
        created_by=owner,
    )

    login(page, owner)
    page.goto(f"/projects/{project.pk}/dataset/")
    row = page.locator(f".job-row[data-job=import-{job.pk}]")
    row.locator(".job-retry").wait_for()
    assert page.locator(f".job-row[data-job=import-{succeeded.pk}] .job-retry").count() == 0
    screenshot(page, "dataset-import-retry")
    row.locator(".job-retry").click()
    # Once it lands the page reloads with the imported frames counted.
    page.wait_for_selector(
        f".job-row[data-job=import-{job.pk}] .job-status:text('succeeded')", timeout=60_000
    )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert Frame.objects.filter(project=project).count() == 3
    assert page.locator(f".job-row[data-job=import-{job.pk}] .job-retry").count() == 0
    assert not page.js_errors, page.js_errors
