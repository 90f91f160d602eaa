"""The evaluation pages through Django's test client: access, forms, escaping, CSP."""

from __future__ import annotations

import re

import pytest

from django.template import Context, Template
from django.test import RequestFactory

from evaluation import evaluation_work, services
from evaluation.models import EvaluationRun
from tests.conftest import PASSWORD
from webapp.models import JobStatus

pytestmark = pytest.mark.slow


@pytest.fixture
def run(trained_model):
    created = services.evaluation_run_create(model=trained_model)
    evaluation_work.evaluation_run_execute(run_id=created.pk)
    created.refresh_from_db()
    assert created.status == JobStatus.SUCCEEDED, created.error
    return created


def _pages(run) -> list[str]:
    return [
        f"/projects/{run.project_id}/evaluation/",
        f"/models/{run.model_id}/evaluation/",
        f"/models/{run.model_id}/evaluation/?run={run.pk}",
        f"/projects/{run.project_id}/compare/?models={run.model_id}",
        f"/evaluations/{run.pk}/errors/",
    ]


@pytest.mark.django_db
def test_members_see_the_pages_and_outsiders_get_404(client, run, owner, people):
    for user in (owner, people["viewer"]):
        client.login(username=user.username, password=PASSWORD)
        for url in _pages(run):
            response = client.get(url)
            assert response.status_code == 200, url
            scripts = re.findall(r"<script\b[^>]*>", response.content.decode())
            assert scripts and all("src=" in tag for tag in scripts), url  # CSP: no inline
    client.login(username=people["outsider"].username, password=PASSWORD)
    for url in _pages(run):
        assert client.get(url).status_code == 404, url
    client.logout()
    for url in _pages(run):
        assert client.get(url).status_code == 302, url


@pytest.mark.django_db
def test_model_page_shows_cards_timing_and_downloads(client, run, owner):
    client.login(username=owner.username, password=PASSWORD)
    html = client.get(f"/models/{run.model_id}/evaluation/").content.decode()
    for text in (
        "mAP@0.5 (VOC 11-pt)",
        "COCO AP50",
        "COCO AP50:95",
        "Precision",
        "Recall",
        "Average IoU",
        "chart-pr",
        "chart-f1",
        "chart-time",
        "chart-map-epoch",
        "chart-loss",
        f"/api/evaluations/{run.pk}/metrics.csv",
        f"/api/evaluations/{run.pk}/metrics.json",
        f"/evaluations/{run.pk}/errors/",
        "vendor/chartjs-4.6.1/chart.umd.min.js",
    ):
        assert text in html, text


@pytest.mark.django_db
def test_annotator_starts_an_evaluation_from_the_page_and_viewer_cannot(
    client, trained_model, people, monkeypatch
):
    sent = []
    monkeypatch.setattr(services, "evaluation_run_dispatch", lambda *, run: sent.append(run.pk))
    url = f"/models/{trained_model.pk}/evaluations/new/"
    client.login(username=people["viewer"].username, password=PASSWORD)
    assert client.post(url, {"split": "test"}).status_code == 403
    client.login(username=people["annotator"].username, password=PASSWORD)
    response = client.post(url, {"split": "val", "conf_threshold": "0.4"})
    run = EvaluationRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/models/{trained_model.pk}/evaluation/?run={run.pk}"
    assert sent == [run.pk] and (run.split, run.conf_threshold) == ("val", 0.4)
    response = client.post(url, {"split": "test", "iou_threshold": "lots"}, follow=True)
    assert "iou_threshold" in response.content.decode()
    assert EvaluationRun.objects.count() == 1


@pytest.mark.django_db
def test_names_are_escaped(client, run, owner):
    run.model.name = '<img src=x onerror="alert(1)">'
    run.model.save()
    client.login(username=owner.username, password=PASSWORD)
    for url in _pages(run):
        html = client.get(url).content.decode()
        assert 'onerror="alert(1)"' not in html, url


@pytest.mark.django_db
def test_the_summary_tag_renders_the_latest_evaluation_for_another_page(run, owner):
    request = RequestFactory().get("/")
    request.user = owner
    html = Template(
        "{% load evaluation_summary from evaluation_tags %}{% evaluation_summary model %}"
    ).render(Context({"model": run.model, "request": request}))
    assert 'id="evaluation-summary"' in html and f"#{run.pk}" in html
    assert f"/models/{run.model_id}/evaluation/" in html


@pytest.mark.django_db
def test_the_training_model_page_includes_the_evaluation_summary(client, run, owner):
    from django.urls import NoReverseMatch, reverse

    try:
        url = reverse("trained-model-detail", args=[run.model_id])
    except NoReverseMatch:
        pytest.skip("the training model page is not there yet")
    client.login(username=owner.username, password=PASSWORD)
    html = client.get(url).content.decode()
    assert 'id="evaluation-summary"' in html
    assert f"/models/{run.model_id}/evaluation/" in html
