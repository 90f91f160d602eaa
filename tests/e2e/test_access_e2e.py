"""In real Chromium (issue 21): a second copy of a recording and a copy cut short, dropped
on the upload box, fail with messages that name the first video and say "incomplete
file"; an owner creates a labmate's account on the project page and sees its temporary
password once."""

from __future__ import annotations

import pytest

from django.contrib.auth import authenticate

from labeling.models import Video
from labeling.videos.services import IncomingFile, video_upload
from tests.conftest import login, screenshot
from tests.labeling.video_helpers import write_video

pytestmark = pytest.mark.e2e


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_second_copy_and_a_cut_copy_are_refused_with_the_reason(
    page, celery_worker, owner, project, tmp_path
):
    first = write_video(tmp_path / "mouse 4 day 1.mp4", frames=30)
    video = video_upload(
        project=project,
        user=owner,
        incoming=IncomingFile(path=first, name=first.name, size=first.stat().st_size),
    )
    copy = tmp_path / "copy of day 1.mp4"
    copy.write_bytes(first.read_bytes())
    cut = tmp_path / "day 2 (copy stopped).mp4"
    cut.write_bytes(write_video(tmp_path / "day2.mp4", frames=60).read_bytes()[:9000])
    login(page, owner)
    page.goto(f"/projects/{project.pk}/videos/")
    page.uncheck("#sample-after")
    page.set_input_files("#drop-zone input[type=file]", [str(copy), str(cut)])
    failed = page.locator(".upload-item.is-failed")
    page.wait_for_function("() => document.querySelectorAll('.upload-item.is-failed').length == 2")
    texts = {
        failed.nth(i).locator(".name").text_content(): failed.nth(i).text_content()
        for i in range(2)
    }
    assert "same recording as “mouse 4 day 1.mp4”" in texts[copy.name], texts
    assert f"#{video.pk}" in texts[copy.name]
    assert "incomplete file (the upload or copy was cut short)" in texts[cut.name], texts
    assert Video.objects.count() == 1
    screenshot(page, "videos-duplicate-and-cut-refused")


@pytest.mark.django_db(transaction=True)
def test_an_owner_creates_a_labmates_account_on_the_project_page(page, owner, project):
    login(page, owner)
    page.goto(f"/projects/{project.pk}/")
    page.click("#account-create summary")
    page.fill("#id_account_username", "lena")
    page.fill("#id_account_email", "lena@lab.test")
    page.select_option("#id_account_role", "annotator")
    page.click("#account-form button[type=submit]")
    password = page.text_content("#new-account-password").strip()
    assert authenticate(username="lena", password=password) is not None
    assert "lena" in page.text_content("#members")
    screenshot(page, "members-account-created")
    page.goto(f"/projects/{project.pk}/")
    assert password not in page.content()
    assert not page.js_errors, page.js_errors


@pytest.mark.django_db(transaction=True)
def test_a_viewer_sees_exports_but_no_export_form_and_no_cancel(
    page, owner, project, make_user, member_of
):
    from labeling.models import DatasetExportJob, Role

    DatasetExportJob.objects.create(project=project, fmt="yolo", status="running", created_by=owner)
    login(page, owner)
    page.goto(f"/projects/{project.pk}/dataset/")
    page.wait_for_selector("#dataset-jobs .job-row .job-cancel")
    assert page.locator("#export-form").count() == 1
    page.context.clear_cookies()
    viewer = member_of(make_user("vera"), Role.VIEWER)
    login(page, viewer)
    page.goto(f"/projects/{project.pk}/dataset/")
    page.wait_for_selector("#dataset-jobs .job-row")
    assert page.locator("#dataset-jobs .job-cancel").count() == 0
    assert page.locator("#export-form").count() == 0
    assert "Exports are made by annotators and owners" in page.text_content("#export-readonly")
    screenshot(page, "dataset-viewer-readonly")
    assert not page.js_errors, page.js_errors
