"""In real Chromium (issue 21): "Improve this model" opens its settings, prefilled from the
model (epochs, image size, starting weights, data), and only "Start training" queues the
job, with the settings as changed on the form."""

from __future__ import annotations

import pytest

from tests.conftest import login, screenshot, wait_for
from tests.training.helpers import make_frames
from training.models import TrainingJob
from webapp.jobs import job_request_cancel
from webapp.models import TERMINAL_STATUSES

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_improve_shows_the_settings_then_starts_with_them(
    celery_worker, page, project, owner, openfield_weights
):
    from tests.tracking.openfield_model import EPOCHS, IMGSZ, register_openfield_model

    make_frames(project, splits=["train"] * 6 + ["val"] * 2, unlabeled=2)
    model = register_openfield_model(project=project, weights=openfield_weights)
    login(page, owner)
    page.goto(f"/training/models/{model.pk}/")
    page.click("#improve-model")
    page.wait_for_url(f"**/training/models/{model.pk}/improve/")
    assert not TrainingJob.objects.exists()  # nothing starts before the settings are seen
    assert page.input_value("#id_epochs") == str(EPOCHS)
    assert page.input_value("#id_imgsz") == str(IMGSZ)
    assert f"Model #{model.pk}" in page.text_content("#improve-start")
    assert "8 labeled frames" in page.text_content("#improve-data")
    screenshot(page, "improve-settings")

    page.fill("#id_epochs", "0")
    page.click("#improve-start-button")
    page.wait_for_selector("#id_epochs.is-invalid")
    assert not TrainingJob.objects.exists()
    screenshot(page, "improve-settings-refused")

    page.fill("#id_epochs", "3")
    page.click("#improve-start-button")
    page.wait_for_url("**/training/jobs/*/")
    job = TrainingJob.objects.get()
    try:
        assert job.start_from == "model" and job.start_model_id == model.pk
        assert job.epochs_total == 3 and job.hyperparameters["epochs"] == 3
        assert job.hyperparameters["imgsz"] == IMGSZ
        screenshot(page, "improve-job-started")
        assert not page.js_errors, page.js_errors
    finally:
        # Training it is not this test's business: stop it and let the worker finish with it.
        job_request_cancel(job=job)
        wait_for(
            lambda: TrainingJob.objects.filter(pk=job.pk, status__in=TERMINAL_STATUSES).exists(),
            timeout=180,
            what="the cancelled job",
        )
