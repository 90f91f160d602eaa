"""In real Chromium: the model evaluation dashboard, the comparison page of two trained
models and the error browser, with their Chart.js charts drawn."""

from __future__ import annotations

import pytest

from evaluation import evaluation_work, services
from tests.conftest import login, screenshot
from tests.evaluation.helpers import register_model, store_dataset, tiny_model
from webapp.models import JobStatus

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _evaluate(model, **kwargs):
    run = services.evaluation_run_create(model=model, **kwargs)
    evaluation_work.evaluation_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.error
    return run


def _wait_for_charts(page, root: str, canvases: list[str]) -> None:
    page.wait_for_selector(f"{root}[data-charts-ready='1']")
    for canvas in canvases:
        page.wait_for_function(
            """(id) => {
                const c = document.getElementById(id);
                return c && window.Chart && window.Chart.getChart(c) && c.width > 0
                    && c.height > 0 && c.dataset.chartReady === '1';
            }""",
            arg=canvas,
        )


@pytest.mark.django_db(transaction=True)
def test_model_dashboard_comparison_and_error_browser(page, project, owner):
    version, _ = store_dataset(project=project, user=owner)
    tiny = register_model(
        project=project,
        dataset_version=version,
        tiny=tiny_model("yolov3-tinyu.yaml"),
        name="YOLOv3-tiny (u)",
        preset="yolov3-tiny",
    )
    nano = register_model(
        project=project,
        dataset_version=version,
        tiny=tiny_model("yolo11n.yaml"),
        name="YOLO11n",
        preset="yolo11n",
    )
    # A low threshold keeps the 2-epoch models' weak boxes, so the error browser has some.
    low = _evaluate(nano, conf_threshold=0.005)
    _evaluate(tiny)
    run = _evaluate(nano)
    login(page, owner)

    page.goto(f"/projects/{project.pk}/evaluation/")
    page.wait_for_selector("#models >> text=YOLO11n")
    screenshot(page, "dashboard-evaluate-home")

    page.goto(f"/models/{nano.pk}/evaluation/")
    _wait_for_charts(
        page,
        "#model-dashboard",
        ["chart-pr", "chart-f1", "chart-time", "chart-map-epoch", "chart-loss"],
    )
    cards = page.locator("#metric-cards .metric-card")
    assert cards.count() == 7
    assert "mAP@0.5 (VOC 11-pt)" in cards.first.inner_text()
    assert page.locator("#runs tbody tr").count() == 2
    assert page.locator(f"a[href='/api/evaluations/{run.pk}/metrics.csv']").is_visible()
    screenshot(page, "dashboard-model")

    page.goto(f"/projects/{project.pk}/compare/?models={tiny.pk},{nano.pk}")
    _wait_for_charts(
        page, "#compare-dashboard", ["chart-cmp-time", "chart-cmp-map", "chart-cmp-pr"]
    )
    for table in ("#table-prf", "#table-map", "#table-time", "#table-models"):
        text = page.locator(table).inner_text()
        assert "YOLOv3-tiny (u)" in text and "YOLO11n" in text, table
    bars = page.evaluate(
        "Chart.getChart(document.getElementById('chart-cmp-time')).data.datasets[0].errorBars"
    )
    assert len(bars) == 2 and all(b >= 0 for b in bars)
    screenshot(page, "dashboard-compare")

    page.goto(f"/evaluations/{low.pk}/errors/")
    page.wait_for_selector("#error-browser[data-loaded]")
    first = page.locator("#error-grid .error-card").first
    first.locator("img").evaluate("img => img.complete || new Promise(r => img.onload = r)")
    assert page.locator("#error-grid .error-card").count() == 4
    assert first.locator("svg rect.gt").count() == 1
    assert page.locator("#error-grid svg rect.fp").count() > 0
    screenshot(page, "dashboard-errors")
    frame_id = first.get_attribute("data-frame")
    first.locator(".fix-link").click()
    page.wait_for_url(f"**/projects/{project.pk}/label/?frame={frame_id}")
    assert not page.js_errors, page.js_errors
