"""In real Chromium at a laptop's width: the comparison page's tables fit their cards (no
"Avg Io" cut off) and times stay on one line ("10.3 s"), issue 13."""

from __future__ import annotations

import pytest

from django.utils import timezone

from labeling.datasets.versions import dataset_version_create
from tests.conftest import login, screenshot
from tests.training.helpers import fake_model, make_frames

pytestmark = pytest.mark.e2e

METRICS = {
    "precision": 0.9731,
    "recall": 0.9512,
    "f1": 0.962,
    "map50_voc11": 0.9091,
    "coco_ap50": 0.9901,
    "coco_ap50_95": 0.7213,
    "average_iou": 0.8312,
}
TIMING = {"total_s": 10.3, "per_image_ms_mean": 143.27, "per_image_ms_std": 12.85}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 1440])
def test_the_comparison_tables_fit_and_times_do_not_wrap(
    browser, live_server, owner, project, width
):
    from evaluation.models import EvaluationRun

    make_frames(project)
    version = dataset_version_create(project=project, name="v1", created_by=owner)
    models = []
    for name, train_s in (("YOLOv3 Tiny, 150 epochs, day 3", 1177.4), ("YOLO11n", 612.0)):
        model = fake_model(project, name=name)
        model.training_time_s = train_s
        model.dataset_version = version
        model.save(update_fields=["training_time_s", "dataset_version"])
        EvaluationRun.objects.create(
            project=project,
            model=model,
            dataset_version=version,
            split="test",
            frame_count=120,
            status="succeeded",
            finished_at=timezone.now(),
            metrics=METRICS,
            timing=TIMING,
        )
        models.append(model)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 900}
    )
    page = context.new_page()
    try:
        login(page, owner)
        page.goto(f"/projects/{project.pk}/compare/?models={models[0].pk},{models[1].pk}")
        page.wait_for_selector("#table-map")
        overflow = page.evaluate(
            """() => ['#table-prf', '#table-map', '#table-time'].map(id => {
                const t = document.querySelector(id);
                const body = t.closest('.card-body');
                const room = body.clientWidth - parseFloat(getComputedStyle(body).paddingLeft)
                    - parseFloat(getComputedStyle(body).paddingRight);
                return [id, Math.ceil(t.getBoundingClientRect().width - room)];
            }).filter(([, over]) => over > 1)"""  # 1 px: clientWidth is rounded
        )
        assert overflow == [], overflow
        wrapped = page.evaluate(
            """() => [...document.querySelectorAll('.table-paper td, .table-paper th')]
                .filter(c => {
                  const r = document.createRange(); r.selectNodeContents(c);
                  const lines = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
                  return lines.size > 1 && !c.classList.contains('model-name');
                }).map(c => c.textContent.trim())"""
        )
        assert wrapped == [], wrapped
        assert "Avg IoU" in page.inner_text("#table-map")
        screenshot(page, f"compare-tables-{width}")
    finally:
        context.close()
