"""A run whose project is deleted while it tracks: its worker stops cleanly (a real Celery
worker, the real open-field clip and the small detector trained on it)."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import wait_for
from tests.tracking.openfield_model import register_openfield_model
from tests.tracking.test_tracking_runs import add_video, clip, start_run
from tracking import tasks
from tracking.models import TrackingRun

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.mark.django_db(transaction=True)
def test_deleting_the_project_of_a_running_run_stops_its_worker_cleanly(
    start_worker, openfield_weights, project, owner, api_client_for, tmp_path, monkeypatch
):
    """The worker sees its row gone: no traceback (no DoesNotExist in job_finish), and it
    stores nothing again under the deleted project's folder."""
    from django.core.files.storage import default_storage

    model = register_openfield_model(project=project, weights=openfield_weights)
    video = add_video(project, clip(tmp_path / "doomed.mp4", frames=900))
    # A worker of its own (workers other tests started live on): its log is the run's.
    private = f"gpu-deleted-{uuid.uuid4().hex[:6]}"
    worker = start_worker(queues=(private, "default"))
    with monkeypatch.context() as patch:
        patch.setattr(tasks.tracking_run_execute_task, "mousetrack_queue", private)
        run = start_run(api_client_for, owner, project, model, video)
    wait_for(
        lambda: TrackingRun.objects.get(pk=run.pk).frames_done > 0, timeout=300, what="progress"
    )
    log_from = len(worker.log())
    assert api_client_for(owner).delete(f"/api/projects/{project.pk}/").status_code == 204
    wait_for(
        lambda: f"tracking run {run.pk} was deleted" in worker.log()[log_from:],
        timeout=180,
        what="the worker to notice",
    )
    log = worker.log()[log_from:]
    assert "Traceback" not in log and "DoesNotExist" not in log, log[-3000:]
    assert not TrackingRun.objects.filter(pk=run.pk).exists()
    for area in ("tracking", "videos", "training"):
        try:
            dirs, files = default_storage.listdir(f"{area}/{project.pk}")
        except FileNotFoundError:
            continue
        assert not dirs and not files, (area, dirs, files)
