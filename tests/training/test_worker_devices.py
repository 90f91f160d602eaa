"""The training form lists the devices the workers report and says truthfully what
happens to a new job (issue 13): no made-up "GPU 0–3", no "waits for a GPU worker"
while a CPU worker takes the job at once."""

from __future__ import annotations

import pytest

from tests.conftest import wait_for
from training.forms import device_choices, queue_note
from webapp.worker_devices import WorkerReport, WorkersReport, workers_report

H200 = {"index": 0, "name": "NVIDIA H200", "memory_gb": 139.8}


def _report(*workers):
    return WorkersReport(reachable=True, workers=tuple(workers))


def _worker(name, queues=("default", "gpu"), gpus=(), probed=True):
    return WorkerReport(name=name, queues=tuple(queues), gpus=tuple(gpus), probed=probed)


def test_a_cpu_only_lab_is_offered_auto_and_cpu_and_told_the_job_runs_on_the_cpu():
    report = _report(_worker("celery@laptop"))
    assert [v for v, _ in device_choices(report)] == ["auto", "cpu"]
    note = queue_note(report)
    assert "CPU" in note and "waits" not in note


def test_gpus_are_listed_as_the_gpu_workers_report_them():
    report = _report(
        _worker("celery@gpu1", queues=("gpu",), gpus=(H200, {**H200, "index": 1})),
        _worker("celery@web", queues=("default",), gpus=({**H200, "index": 5},)),
    )
    choices = dict(device_choices(report))
    assert choices["0"] == "GPU 0 · NVIDIA H200" and "1" in choices
    assert "5" not in choices  # that worker does not take training jobs
    assert "next free GPU worker" in queue_note(report)


def test_no_consumer_of_the_gpu_queue_says_the_job_waits_and_how_to_start_one():
    note = queue_note(_report(_worker("celery@web", queues=("default",))))
    assert "waits" in note and "make worker" in note
    assert "broker" in queue_note(WorkersReport(reachable=False))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_reports_its_queues_and_devices_and_the_form_shows_them(
    celery_worker, client, owner, project
):
    from django.core.cache import cache

    def probed():
        cache.clear()
        report = workers_report(timeout=2.0)
        return report if report.workers and all(w.probed for w in report.workers) else None

    report = wait_for(probed, timeout=120, what="the worker's device probe")
    # Every worker on the broker answers (on a shared Redis, the session's worker and any
    # other test's); each consumer of the gpu queue reports what this machine has.
    gpu_workers = report.consuming("gpu")
    assert gpu_workers
    import torch

    expected_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    for worker in gpu_workers:
        assert len(worker.gpus) == expected_gpus
    assert any({"default", "gpu"} <= set(w.queues) for w in gpu_workers)
    worker = gpu_workers[0]
    client.force_login(owner)
    page = client.get(f"/projects/{project.pk}/training/new/").content.decode()
    assert "Auto (first GPU, else CPU)" in page and "waits for a GPU worker" not in page
    if not worker.gpus:
        assert ">GPU 0" not in page and "CPU-only worker" in page
