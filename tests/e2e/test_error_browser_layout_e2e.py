"""In real Chromium: the error browser's box labels never overlap one another (a missed
animal and a false positive beside it used to print their labels on top of each other),
and the "Add to labeling" frame cap has a visible label (issue 21)."""

from __future__ import annotations

import pytest

from django.utils import timezone

from labeling.datasets.versions import dataset_version_create
from tests.conftest import login, screenshot
from tests.training.helpers import fake_model, make_frames

pytestmark = pytest.mark.e2e


def _gt(x, y, w, h, matched):
    return {"class_index": 0, "x": x, "y": y, "w": w, "h": h, "matched": matched}


def _box(x, y, w, h, score, match, iou):
    return {
        "class_index": 0,
        "x": x,
        "y": y,
        "w": w,
        "h": h,
        "score": score,
        "match": match,
        "iou": iou,
    }


@pytest.mark.django_db(transaction=True)
def test_box_labels_do_not_overlap_and_the_cap_has_a_label(page, owner, project):
    from evaluation.models import EvaluationRun, FramePrediction

    frames = make_frames(project, splits=["test"] * 3 + ["train"] * 3 + ["val"] * 2)
    version = dataset_version_create(project=project, name="v1", created_by=owner)
    model = fake_model(project, name="mice")
    run = EvaluationRun.objects.create(
        project=project,
        model=model,
        dataset_version=version,
        split="test",
        frame_count=3,
        status="succeeded",
        finished_at=timezone.now(),
        metrics={"precision": 0.5},
    )
    crowded = [
        # A miss with a false positive just beside it: both labels want the same corner.
        (
            [_gt(20, 30, 40, 24, False), _gt(70, 30, 36, 22, True)],
            [_box(23, 32, 38, 22, 0.41, -1, 0.0), _box(71, 31, 35, 22, 0.88, 1, 0.42)],
        ),
        # Two false positives stacked a few pixels apart, and a low-IoU match.
        (
            [_gt(10, 10, 50, 30, True)],
            [
                _box(12, 12, 50, 30, 0.93, 0, 0.38),
                _box(14, 16, 48, 28, 0.52, -1, 0.0),
                _box(60, 50, 30, 20, 0.33, -1, 0.0),
            ],
        ),
        # Boxes at the image's top edge: the labels go inside, still apart.
        ([_gt(0, 0, 40, 30, False)], [_box(2, 0, 40, 30, 0.3, -1, 0.0)]),
    ]
    for frame, (gt, boxes) in zip(frames[:3], crowded, strict=True):
        fp = sum(b["match"] < 0 for b in boxes)
        misses = sum(not g["matched"] for g in gt)
        FramePrediction.objects.create(
            run=run,
            frame=frame,
            boxes=boxes,
            ground_truth=gt,
            inference_ms=12.5,
            true_positives=len(boxes) - fp,
            false_positives=fp,
            misses=misses,
            min_iou=min([b["iou"] for b in boxes if b["match"] >= 0], default=None),
            error_count=fp + misses,
        )

    login(page, owner)
    page.goto(f"/evaluations/{run.pk}/errors/")
    page.wait_for_selector(".error-card svg text")
    page.wait_for_function("() => document.querySelectorAll('.error-card').length === 3")

    screenshot(page, "evaluation-error-browser")

    # The cap field has a visible label, tied to it.
    cap = page.get_by_label("Frames, at most")
    assert cap.get_attribute("name") == "cap" and cap.is_visible()
    assert page.locator("label[for=hard-frames-cap]").is_visible()

    overlaps = page.evaluate(
        """() => [...document.querySelectorAll('.error-card svg')].flatMap((svg, card) => {
            const r = [...svg.querySelectorAll('text')].map(t => [t.textContent,
                t.getBoundingClientRect()]);
            const out = [];
            for (let i = 0; i < r.length; i++) for (let j = i + 1; j < r.length; j++) {
              const [a, b] = [r[i][1], r[j][1]];
              const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
              const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
              if (w > 0.5 && h > 0.5) out.push([card, r[i][0], r[j][0]]);
            }
            return out;
        })"""
    )
    assert overlaps == [], overlaps
    # Labels stay within their card's image.
    outside = page.evaluate(
        """() => [...document.querySelectorAll('.error-card svg')].flatMap(svg => {
            const f = svg.getBoundingClientRect();
            return [...svg.querySelectorAll('text')].map(t => t.getBoundingClientRect())
              .filter(r => r.left < f.left - 1 || r.right > f.right + 1 || r.top < f.top - 1
                           || r.bottom > f.bottom + 1).map(r => [r.left, r.top]);
        })"""
    )
    assert outside == [], outside
    assert not page.js_errors, page.js_errors
