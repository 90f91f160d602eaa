"""Repeated requests never double their effect (RELIABILITY: "Repeats"): 20 identical
"swap from here" requests store one edit, and 20 identical tracking starts queue one run.
Real threads with their own database connections, on the configured database (SQLite by
default, PostgreSQL when DATABASE_URL points at one)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from tests.labeling.annotations.test_annotation_concurrency import run_in_threads
from tests.tracking.run_helpers import _placeholder_model, make_tracked_run, make_trajectory
from tests.tracking.run_helpers import make_video as make_video_row
from tracking.models import TrackingBatch, TrackingEdit, TrackingRun
from webapp.models import JobStatus

REQUESTS = 20


@pytest.fixture
def queued_nowhere(monkeypatch):
    """Publishing succeeds without a broker: these tests are about the rows, not the work."""
    from types import SimpleNamespace

    from tracking.tasks import tracking_run_execute_task

    monkeypatch.setattr(
        tracking_run_execute_task, "apply_async", lambda *a, **k: SimpleNamespace(id="stub")
    )


@pytest.fixture
def two_animal_run(project):
    t = np.arange(60)
    a = np.stack([20 + 2 * t, np.full(60, 50.0)], axis=-1)
    b = np.stack([200 - 2 * t, np.full(60, 120.0)], axis=-1)
    video = make_video_row(project, frame_count=60)
    return make_tracked_run(
        project=project, video=video, trajectory=make_trajectory(np.stack([a, b], axis=1))
    )


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_identical_swaps_store_one_edit(api_client_for, owner, two_animal_run):
    url = f"/api/tracking-runs/{two_animal_run.pk}/edits/"
    body = {"animal_a": 2, "animal_b": 1, "from_frame": 30}

    def swap(i: int):
        response = api_client_for(owner).post(url, body, format="json")
        return response.status_code, response.json()

    results = run_in_threads(REQUESTS, swap)
    assert not [r for r in results if isinstance(r, Exception)], results
    codes = Counter(code for code, _ in results)
    assert codes == {201: 1, 200: REQUESTS - 1}, codes
    assert TrackingEdit.objects.filter(run=two_animal_run).count() == 1
    assert len({answer["id"] for _, answer in results}) == 1
    # The trajectory is swapped once, not swapped back by a twin edit.
    client = api_client_for(owner)
    track = client.get(f"/api/tracking-runs/{two_animal_run.pk}/track/").json()
    assert track["edits"] == 1
    assert track["animals"][1]["boxes"][40][0] < 150  # animal 2 now walks animal 1's path


@pytest.mark.django_db
def test_a_reverted_swap_can_be_made_again_and_a_different_one_is_added(
    api_client_for, owner, two_animal_run
):
    client = api_client_for(owner)
    url = f"/api/tracking-runs/{two_animal_run.pk}/edits/"
    first = client.post(url, {"animal_a": 1, "animal_b": 2, "from_frame": 30}, format="json")
    assert first.status_code == 201
    other = client.post(url, {"animal_a": 1, "animal_b": 2, "from_frame": 31}, format="json")
    assert other.status_code == 201
    bounded = client.post(
        url, {"animal_a": 1, "animal_b": 2, "from_frame": 30, "to_frame": 40}, format="json"
    )
    assert bounded.status_code == 201
    client.post(f"/api/tracking-edits/{first.json()['id']}/revert/")
    again = client.post(url, {"animal_a": 1, "animal_b": 2, "from_frame": 30}, format="json")
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
    assert TrackingEdit.objects.filter(run=two_animal_run, reverted_at__isnull=True).count() == 3


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_identical_starts_queue_one_run(
    api_client_for, owner, project, queued_nowhere
):
    model = _placeholder_model(project)
    video = make_video_row(project)
    url = f"/api/projects/{project.pk}/tracking-runs/"
    body = {"model": model.pk, "videos": [video.pk], "n_animals": 1, "params": {"conf": 0.3}}

    def start(i: int):
        response = api_client_for(owner).post(url, body, format="json")
        return response.status_code, response.json()

    results = run_in_threads(REQUESTS, start)
    assert not [r for r in results if isinstance(r, Exception)], results
    codes = Counter(code for code, _ in results)
    assert codes == {201: 1, 400: REQUESTS - 1}, codes
    run = TrackingRun.objects.get()
    assert TrackingBatch.objects.count() == 1
    refusals = [answer for code, answer in results if code == 400]
    assert all(f"#{run.pk}" in json.dumps(r["videos"]) for r in refusals), refusals[0]

    # Other parameters, another model or another count of animals are another run.
    other = dict(body, params={"conf": 0.4})
    assert api_client_for(owner).post(url, other, format="json").status_code == 201
    # Once the first run ended, the same request is a new run again.
    TrackingRun.objects.filter(pk=run.pk).update(status=JobStatus.SUCCEEDED)
    assert api_client_for(owner).post(url, body, format="json").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_retry_is_refused_while_an_identical_run_is_queued(
    api_client_for, owner, project, queued_nowhere
):
    model = _placeholder_model(project)
    video = make_video_row(project)
    client = api_client_for(owner)
    url = f"/api/projects/{project.pk}/tracking-runs/"
    body = {"model": model.pk, "videos": [video.pk]}
    first = client.post(url, body, format="json").json()["runs"][0]["id"]
    TrackingRun.objects.filter(pk=first).update(status=JobStatus.FAILED)
    second = client.post(url, body, format="json").json()["runs"][0]["id"]
    retry = client.post(f"/api/tracking-runs/{first}/retry/")
    assert retry.status_code == 400 and f"#{second}" in json.dumps(retry.json())
    assert TrackingRun.objects.get(pk=first).status == JobStatus.FAILED
