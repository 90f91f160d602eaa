"""In real Chromium with a real worker: start a training from the form, watch the job page
update live (progress, curves, log), open the registered model."""

from __future__ import annotations

import pytest

from tests.conftest import login, screenshot, wait_for
from tests.training.helpers import make_frames
from training.models import TrainedModel, TrainingJob

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.slow]


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_start_a_training_and_follow_it_live(page, celery_worker, project, owner):
    make_frames(project)
    login(page, owner)
    page.goto(f"/projects/{project.pk}/training/")
    page.click("#new-training")
    page.wait_for_selector("#training-form")
    assert page.is_checked("#preset-yolov3-tiny")  # the paper's Tiny preset by default
    # Picking a preset fills in its defaults; a field changed by hand is kept.
    page.check("#preset-yolov3")
    assert page.input_value("#id_batch") == "8"
    page.check("#preset-yolo11n")
    assert page.input_value("#id_imgsz") == "640"
    page.fill("#id_epochs", "3")
    page.fill("#id_imgsz", "64")
    page.fill("#id_batch", "4")
    page.select_option("#id_device", "cpu")
    page.uncheck("#id_augment")
    page.fill("#id_name", "Browser run")
    screenshot(page, "training-new")

    page.click("#start-training")
    page.wait_for_url("**/training/jobs/*/")
    job = TrainingJob.objects.get()
    assert job.hyperparameters["epochs"] == 3 and job.hyperparameters["augment"] is False

    # The page follows the job by polling: the epoch counter and the table move on their own.
    # (Locators, not wait_for_function: the CSP forbids the eval it uses.)
    page.wait_for_selector("#epoch-table tbody tr:nth-child(2)", timeout=300_000)
    # The counter comes from the job row, the table from the epoch rows: a poll may land
    # between the two writes, so the next poll brings the counter along.
    wait_for(lambda: int(page.inner_text("#job-epochs")) >= 2, timeout=60, what="epoch counter")
    wait_for(lambda: page.locator("#job-log").inner_text().count("epoch ") >= 2, timeout=60)
    screenshot(page, "training-job-running")

    page.wait_for_selector("#job-status[data-status=succeeded]", timeout=300_000)
    # "Training job #N queued." went when the job left the queue.
    assert page.locator(".alert", has_text="queued.").count() == 0
    page.wait_for_selector("#model-link:not([hidden])")
    width = page.eval_on_selector("#job-progress", "el => el.style.width")
    assert width == "100%"
    assert page.locator("#cancel-form").is_hidden()
    # The attempt history, refreshed by the poller: one attempt, on the test worker.
    wait_for(lambda: "succeeded" in page.inner_text("#job-attempts"), timeout=30, what="attempts")
    assert page.inner_text("#job-attempts").startswith("#1 on ")
    convergence = page.inner_text("#job-convergence")
    assert "reached at epoch" in convergence and "early stopping after 50 epochs" in convergence
    screenshot(page, "training-job-done")

    page.click("#model-link")
    model = TrainedModel.objects.get(job=job)
    page.wait_for_url(f"**/training/models/{model.pk}/")
    assert page.locator("#download-pt").inner_text().count(model.weights_sha256) == 1
    assert page.locator("#download-onnx").is_visible()
    assert "Model card: Browser run" in page.locator("#model-card").inner_text()
    screenshot(page, "training-model")

    page.goto(f"/projects/{project.pk}/training/")
    page.wait_for_selector("#trained-models")
    assert page.locator("#training-jobs [data-field=status]").inner_text() == "Succeeded"
    screenshot(page, "training-list")
    assert not page.js_errors, page.js_errors
