"""In real Chromium with a real worker: bootstrap proposals on frames of the real video,
accept (Enter), edit, reject (Backspace) and "accept all above S" in the editor; only the
accepted boxes reach an export."""

from __future__ import annotations

import uuid

import pytest

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from assisted.models import PrelabelJob, Proposal
from assisted.services import prelabel_job_start
from labeling.datasets.exporting import dataset_for_export
from labeling.models import Frame, Video
from tests.conftest import login, screenshot, wait_for
from tests.e2e.test_editor import box_count_is, drag, screen_of, wait_ready, wait_saved
from webapp.models import JobStatus

pytestmark = pytest.mark.e2e

FRAME_INDICES = (0, 300, 600, 900, 1200, 1500, 1800, 2100)


def editor_state(page, key: str) -> str:
    return page.eval_on_selector("#editor", f"e => e.dataset.{key} || ''")


def wait_state(page, key: str, value: str) -> None:
    page.wait_for_function(f"v => document.getElementById('editor').dataset.{key} === v", arg=value)


@pytest.fixture
def frames(project, openfield_video) -> list[Frame]:
    import cv2

    capture = cv2.VideoCapture(str(openfield_video))
    video = Video.objects.create(
        project=project,
        original_name="openfield.mp4",
        width=640,
        height=480,
        fps=30.0,
        frame_count=2330,
    )
    frames = []
    for index in FRAME_INDICES:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = capture.read()
        assert ok
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        name = default_storage.save(f"frames/e2e-{uuid.uuid4().hex}.jpg", ContentFile(jpeg))
        frames.append(
            Frame.objects.create(
                project=project,
                video=video,
                frame_index=index,
                timestamp_s=index / 30,
                image=name,
                width=640,
                height=480,
            )
        )
    capture.release()
    return frames


def exported_boxes(project) -> dict[int, list]:
    dataset, _ = dataset_for_export(project=project)
    by_index = {}
    for image in dataset.images:
        by_index[image.file_name] = [(b.x, b.y, b.w, b.h) for b in image.boxes]
    return by_index


@pytest.mark.django_db(transaction=True)
def test_accept_edit_reject_and_accept_above_in_the_editor(
    celery_worker, page, project, owner, frames
):
    job = prelabel_job_start(project=project, user=owner)
    wait_for(
        lambda: PrelabelJob.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED,
        timeout=180,
        what="the bootstrap job",
    )
    assert Proposal.objects.filter(status="pending").count() == len(frames)
    first, second, third = frames[:3]
    proposal = Proposal.objects.get(frame=first)

    login(page, owner)
    page.goto(f"/projects/{project.pk}/label/?proposals=pending&frame={first.pk}")
    wait_ready(page, first)
    wait_state(page, "proposalCount", "1")
    assert editor_state(page, "boxCount") == "0"
    screenshot(page, "assisted-proposal-dashed")

    # Enter accepts: the proposal becomes a box, the frame machine-made.
    page.keyboard.press("Enter")
    box_count_is(page, 1)
    wait_state(page, "proposalCount", "0")
    wait_state(page, "machineMade", "true")
    screenshot(page, "assisted-accepted")
    first.refresh_from_db()
    assert first.status == Frame.Status.LABELED and first.annotation_version == 1

    # Then edit as usual: drag the box 30 px right; the person's save ends "machine-made".
    to_screen = screen_of(page)
    cx, cy = proposal.x + proposal.w / 2, proposal.y + proposal.h / 2
    drag(page, to_screen(cx, cy), to_screen(cx + 30, cy))
    wait_saved(page)
    wait_state(page, "machineMade", "false")
    first.refresh_from_db()
    (moved,) = first.boxes.all()
    assert abs(moved.x - (proposal.x + 30)) <= 1.5

    # Backspace rejects the next frame's proposals: nothing is labeled.
    page.keyboard.press("d")
    wait_ready(page, second)
    wait_state(page, "proposalCount", "1")
    page.keyboard.press("Backspace")
    wait_state(page, "proposalCount", "0")
    assert editor_state(page, "boxCount") == "0"
    wait_for(lambda: Proposal.objects.get(frame=second).status == "rejected", timeout=10)

    # The third: accepted and left as proposed (machine-made).
    page.keyboard.press("d")
    wait_ready(page, third)
    wait_state(page, "proposalCount", "1")
    page.keyboard.press("Enter")
    box_count_is(page, 1)

    # "Accept all in list" over what is still pending, at a score the rest all reach.
    rest = frames[3:]
    lowest = min(Proposal.objects.get(frame=f).score for f in rest)
    page.fill("#accept-above-score", f"{max(0.0, lowest - 0.01):.2f}")
    page.click("#btn-accept-above")
    wait_state(page, "acceptedAbove", str(len(rest)))
    screenshot(page, "assisted-accept-above")
    assert not page.js_errors, page.js_errors

    exported = exported_boxes(project)
    labeled = Frame.objects.filter(status=Frame.Status.LABELED).count()
    assert labeled == 2 + len(rest)
    assert len(exported) == labeled  # the rejected frame is not in the export
    boxes = sorted(len(b) for b in exported.values())
    assert boxes == [1] * labeled
    assert second.pk not in {f.pk for f in Frame.objects.exclude(status=Frame.Status.UNLABELED)}


@pytest.mark.django_db(transaction=True)
def test_add_hard_frames_from_a_tracking_run_and_open_them(
    celery_worker, page, project, owner, openfield_video
):
    from assisted.models import HardFrameJob
    from tests.assisted.test_hard_frame_jobs import openfield_run

    run = openfield_run(project, openfield_video)
    login(page, owner)
    page.goto(f"/tracking-runs/{run.pk}/")
    page.fill("#hard-frames-cap", "6")
    screenshot(page, "assisted-run-page")
    page.click("#hard-frames-add")
    page.wait_for_url("**/hard-frame-jobs/*/")
    # The page refreshes itself until the job is done.
    page.wait_for_selector("#open-editor", timeout=120_000)
    job = HardFrameJob.objects.get()
    assert job.status == JobStatus.SUCCEEDED and len(job.chosen) == 6
    assert page.locator("#chosen-table tbody tr").count() == 6
    screenshot(page, "assisted-hard-frame-job")

    page.click("#open-editor")
    page.wait_for_function("() => document.getElementById('editor').dataset.ready === '1'")
    assert page.text_content("#frame-position").strip() == "Frame 1 / 6"
    chosen = sorted(c["frame"] for c in job.chosen)
    indices = []
    for step in range(6):
        frame = Frame.objects.get(video=run.video, frame_index=chosen[step])
        wait_ready(page, frame)
        indices.append(frame.frame_index)
        if frame.frame_index == 1800:  # the outlier: the run's box as a proposal
            wait_state(page, "proposalCount", "1")
            screenshot(page, "assisted-hard-frame-outlier")
        if step < 5:
            page.keyboard.press("d")
    assert indices == chosen
    assert not page.js_errors, page.js_errors
