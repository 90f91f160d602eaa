"""evaluation.metrics on plain data: hand-checked cases, and oracles (pycocotools' COCOeval,
the py-faster-rcnn ``voc_eval``, a loop-by-loop matcher) on randomized cases."""

from __future__ import annotations

import contextlib
import copy
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from evaluation.average_precision import COCO_IOU_THRESHOLDS, ap_coco101, ap_voc11, ap_voc_all
from evaluation.matching import iou, iou_matrix, match_detections, xywh_to_xyxy, xyxy_to_xywh
from evaluation.metrics import DetectionBox, GroundTruthBox, evaluate_detections, summarize_images

GT = GroundTruthBox
DT = DetectionBox


# --- random cases ------------------------------------------------------------------------
def random_case(seed: int, *, score_ties: bool = False, duplicate_gt: bool = False):
    """Images 1..n with up to 3 classes; jittered detections, duplicates, misses, FPs.

    Class ``n_classes`` (when present) has detections but never ground truth.
    """
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(1, 4))
    gt: dict[int, list[GroundTruthBox]] = {}
    dt: dict[int, list[DetectionBox]] = {}

    def score() -> float:
        return float(rng.integers(1, 6) / 5) if score_ties else float(rng.random())

    for image_id in range(1, int(rng.integers(1, 9)) + 1):
        gts, dts = [], []
        for c in range(n_classes):
            for _ in range(int(rng.integers(0, 5))):
                x, y = rng.uniform(0, 400, 2)
                w, h = rng.uniform(4, 90, 2)
                gts.append(GT(c, float(x), float(y), float(w), float(h)))
                if duplicate_gt and rng.random() < 0.3:
                    gts.append(gts[-1])
                for _ in range(int(rng.choice([0, 1, 1, 1, 2]))):
                    sigma = rng.choice([0.03, 0.1, 0.25])
                    jx, jy, jw, jh = rng.normal(0, sigma, 4) * [w, h, w, h]
                    dts.append(
                        DT(
                            c,
                            float(x + jx),
                            float(y + jy),
                            max(1.0, w + jw),
                            max(1.0, h + jh),
                            score(),
                        )
                    )
        for _ in range(int(rng.integers(0, 4))):
            x, y = rng.uniform(0, 400, 2)
            w, h = rng.uniform(4, 90, 2)
            c = int(rng.integers(0, n_classes + 1))
            dts.append(DT(c, float(x), float(y), float(w), float(h), score()))
        gt[image_id] = [gts[i] for i in rng.permutation(len(gts))]
        if dts or rng.random() < 0.5:
            dt[image_id] = [dts[i] for i in rng.permutation(len(dts))]
    return gt, dt, n_classes + 1


def to_coco(gt, dt, n_classes):
    """The same boxes as a COCO instances dict and results list (category id = class + 1)."""
    anns = [
        {
            "id": len_before + 1,
            "image_id": image_id,
            "category_id": b.class_index + 1,
            "bbox": [b.x, b.y, b.w, b.h],
            "area": b.w * b.h,
            "iscrowd": 0,
        }
        for len_before, (image_id, b) in enumerate(
            (image_id, b) for image_id, boxes in gt.items() for b in boxes
        )
    ]
    coco_gt = {
        "images": [{"id": image_id, "width": 640, "height": 480} for image_id in gt],
        "annotations": anns,
        "categories": [{"id": c + 1, "name": f"c{c}"} for c in range(n_classes)],
    }
    results = [
        {
            "image_id": image_id,
            "category_id": b.class_index + 1,
            "bbox": [b.x, b.y, b.w, b.h],
            "score": b.score,
        }
        for image_id, boxes in dt.items()
        for b in boxes
    ]
    return coco_gt, results


def pycocotools_eval(coco_gt: dict, results: list) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        gt_api = COCO()
        gt_api.dataset = copy.deepcopy(coco_gt)
        gt_api.createIndex()
        dt_api = gt_api.loadRes(copy.deepcopy(results))
        ev = COCOeval(gt_api, dt_api, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


# --- py-faster-rcnn voc_eval, written out as the reference ---------------------------------
def voc_ap(rec, prec, use_07_metric=False):
    """py-faster-rcnn lib/datasets/voc_eval.py, verbatim."""
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            if np.sum(rec >= t) == 0:
                p = 0
            else:
                p = np.max(prec[rec >= t])
            ap = ap + p / 11.0
    else:
        mrec = np.concatenate(([0.0], rec, [1.0]))
        mpre = np.concatenate(([0.0], prec, [0.0]))
        for i in range(mpre.size - 1, 0, -1):
            mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
        i = np.where(mrec[1:] != mrec[:-1])[0]
        ap = np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])
    return ap


def voc_eval(gt, dt, classname, ovthresh=0.5, use_07_metric=True):
    """voc_eval's matching loop on our data. Only change: no "+1" in widths (continuous
    pixel coordinates, like darknet and pycocotools); no "difficult" boxes."""
    class_recs = {}
    npos = 0
    for image_id, boxes in gt.items():
        R = [b for b in boxes if b.class_index == classname]
        bbox = np.array([[b.x, b.y, b.x + b.w, b.y + b.h] for b in R]).reshape(-1, 4)
        npos += len(R)
        class_recs[image_id] = {"bbox": bbox, "det": [False] * len(R)}
    dets = [(i, b) for i, boxes in dt.items() for b in boxes if b.class_index == classname]
    image_ids = [i for i, _ in dets]
    confidence = np.array([b.score for _, b in dets])
    BB = np.array([[b.x, b.y, b.x + b.w, b.y + b.h] for _, b in dets]).reshape(-1, 4)
    sorted_ind = np.argsort(-confidence)
    BB = BB[sorted_ind, :]
    image_ids = [image_ids[x] for x in sorted_ind]
    nd = len(image_ids)
    tp = np.zeros(nd)
    fp = np.zeros(nd)
    for d in range(nd):
        R = class_recs[image_ids[d]]
        bb = BB[d, :].astype(float)
        ovmax = -np.inf
        BBGT = R["bbox"].astype(float)
        if BBGT.size > 0:
            ixmin = np.maximum(BBGT[:, 0], bb[0])
            iymin = np.maximum(BBGT[:, 1], bb[1])
            ixmax = np.minimum(BBGT[:, 2], bb[2])
            iymax = np.minimum(BBGT[:, 3], bb[3])
            iw = np.maximum(ixmax - ixmin, 0.0)
            ih = np.maximum(iymax - iymin, 0.0)
            inters = iw * ih
            uni = (
                (bb[2] - bb[0]) * (bb[3] - bb[1])
                + (BBGT[:, 2] - BBGT[:, 0]) * (BBGT[:, 3] - BBGT[:, 1])
                - inters
            )
            overlaps = inters / uni
            ovmax = np.max(overlaps)
            jmax = np.argmax(overlaps)
        if ovmax > ovthresh:
            if not R["det"][jmax]:
                tp[d] = 1.0
                R["det"][jmax] = 1
            else:
                fp[d] = 1.0
        else:
            fp[d] = 1.0
    fp = np.cumsum(fp)
    tp = np.cumsum(tp)
    rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return voc_ap(rec, prec, use_07_metric)


# --- oracle tests ------------------------------------------------------------------------
SEEDS = range(50)


@pytest.mark.parametrize("seed", SEEDS)
def test_coco_ap_equals_pycocotools(seed):
    gt, dt, n_classes = random_case(seed)
    if not any(dt.values()):  # loadRes cannot take an empty list
        dt = {1: [DT(0, 1.0, 1.0, 10.0, 10.0, 0.5)]}
    ev = pycocotools_eval(*to_coco(gt, dt, n_classes))
    ours = evaluate_detections(gt, dt)
    if ev.stats[0] == -1:
        assert ours.coco_ap50_95 is None and ours.coco_ap50 is None
        return
    assert ours.coco_ap50_95 == pytest.approx(ev.stats[0], abs=1e-4)
    assert ours.coco_ap50 == pytest.approx(ev.stats[1], abs=1e-4)
    # Per class too (precision[T, R, K, area=all, maxDets=100]; -1 = class without GT).
    by_index = {c.class_index: c for c in ours.per_class}
    for k in range(n_classes):
        p = ev.eval["precision"][:, :, k, 0, -1]
        ours_k = by_index.get(k)
        if (p == -1).all():
            assert ours_k is None or ours_k.coco_ap50_95 is None
        else:
            assert ours_k.coco_ap50_95 == pytest.approx(p.mean(), abs=1e-9)
            assert ours_k.coco_ap50 == pytest.approx(p[0].mean(), abs=1e-9)


@pytest.mark.parametrize("seed", range(100, 125))
def test_coco_ap_equals_pycocotools_with_score_and_iou_ties(seed):
    """Scores from {0.2, ..., 1.0} and duplicated ground-truth boxes exercise pycocotools'
    tie rules: stable score order, and the later of equally good ground-truth boxes."""
    gt, dt, n_classes = random_case(seed, score_ties=True, duplicate_gt=True)
    if not any(dt.values()):
        dt = {1: [DT(0, 1.0, 1.0, 10.0, 10.0, 0.5)]}
    ev = pycocotools_eval(*to_coco(gt, dt, n_classes))
    ours = evaluate_detections(gt, dt)
    if ev.stats[0] == -1:
        assert ours.coco_ap50_95 is None
        return
    assert ours.coco_ap50_95 == pytest.approx(ev.stats[0], abs=1e-4)
    assert ours.coco_ap50 == pytest.approx(ev.stats[1], abs=1e-4)


def test_coco_ap_keeps_only_100_detections_per_image_and_class_like_pycocotools():
    rng = np.random.default_rng(7)
    gt = {1: [GT(0, 10.0 * i, 0.0, 8.0, 8.0) for i in range(30)], 2: [GT(0, 0.0, 0.0, 50.0, 50.0)]}
    dets = [DT(0, float(x), float(y), 8.0, 8.0, float(s)) for x, y, s in rng.random((130, 3)) * 300]
    # Exact hits ranked below 100 junk boxes: only VOC sees them.
    hits = [DT(0, 10.0 * i, 0.0, 8.0, 8.0, -1.0 - i) for i in range(30)]
    dt = {1: dets + hits, 2: [DT(0, 0.0, 0.0, 50.0, 50.0, 0.9)]}
    ev = pycocotools_eval(*to_coco(gt, dt, 1))
    ours = evaluate_detections(gt, dt)
    assert ours.coco_ap50_95 == pytest.approx(ev.stats[0], abs=1e-4)
    assert ours.coco_ap50 == pytest.approx(ev.stats[1], abs=1e-4)
    assert ours.map50_voc_all > ours.coco_ap50


@pytest.mark.parametrize("seed", SEEDS)
def test_voc_aps_equal_reference_voc_eval(seed):
    gt, dt, n_classes = random_case(seed)
    ours = evaluate_detections(gt, dt, class_names=[f"c{c}" for c in range(n_classes)])
    ref11, ref_all = [], []
    for c in ours.per_class:
        if c.num_ground_truth == 0:
            assert c.ap50_voc11 is None and c.ap50_voc_all is None
            continue
        r11 = voc_eval(gt, dt, c.class_index, use_07_metric=True)
        rall = voc_eval(gt, dt, c.class_index, use_07_metric=False)
        assert c.ap50_voc11 == pytest.approx(r11, abs=1e-9)
        assert c.ap50_voc_all == pytest.approx(rall, abs=1e-9)
        ref11.append(r11)
        ref_all.append(rall)
    if ref11:
        assert ours.map50_voc11 == pytest.approx(np.mean(ref11), abs=1e-9)
        assert ours.map50_voc_all == pytest.approx(np.mean(ref_all), abs=1e-9)
    else:
        assert ours.map50_voc11 is None


@pytest.mark.parametrize("seed", range(10))
def test_voc_aps_at_other_iou_threshold_equal_reference(seed):
    gt, dt, _ = random_case(seed)
    ours = evaluate_detections(gt, dt, iou_threshold=0.7)
    for c in ours.per_class:
        if c.num_ground_truth:
            assert c.ap_voc11 == pytest.approx(voc_eval(gt, dt, c.class_index, 0.7), abs=1e-9)
            assert c.ap_voc_all == pytest.approx(
                voc_eval(gt, dt, c.class_index, 0.7, use_07_metric=False), abs=1e-9
            )


# --- the batched matcher against a plain loop ----------------------------------------------
def loop_match(gt_boxes, det_boxes, scores, thr, rule):
    """Direct transcription of the two greedy rules, one detection at a time."""
    order = sorted(range(len(det_boxes)), key=lambda i: -scores[i])  # stable
    taken = [False] * len(gt_boxes)
    out = [-1] * len(det_boxes)
    for d in order:
        ious = [iou(det_boxes[d], g) for g in gt_boxes]
        if rule == "voc":
            if ious and max(ious) > thr and not taken[ious.index(max(ious))]:
                out[d] = ious.index(max(ious))
        else:
            best, m = min(thr, 1 - 1e-10), -1
            for g, v in enumerate(ious):
                if not taken[g] and v >= best:
                    best, m = v, g
            out[d] = m
        if out[d] >= 0:
            taken[out[d]] = True
    return out


grid_box = st.tuples(
    st.integers(0, 6), st.integers(0, 6), st.integers(1, 5), st.integers(1, 5)
).map(lambda b: [float(v) for v in b])


@settings(max_examples=150, deadline=None)
@given(
    gts=st.lists(grid_box, max_size=6),
    dets=st.lists(st.tuples(grid_box, st.sampled_from([0.2, 0.5, 0.9])), max_size=8),
    thr=st.sampled_from([0.0, 0.3, 0.5, 0.75, 1.0]),
    rule=st.sampled_from(["voc", "coco"]),
)
def test_batched_matching_equals_a_plain_loop(gts, dets, thr, rule):
    """Small integer boxes and three scores make IoU and score ties common."""
    boxes = [b for b, _ in dets]
    scores = [s for _, s in dets]
    result = match_detections(gts, boxes, scores, iou_threshold=thr, rule=rule)
    assert result.gt_index.tolist() == loop_match(gts, boxes, scores, thr, rule)
    matched = result.gt_index[result.gt_index >= 0]
    assert len(set(matched.tolist())) == len(matched)  # each ground truth at most once


@pytest.mark.parametrize("seed", range(5))
def test_per_image_summary_equals_matching_each_image_alone(seed):
    gt, dt, _ = random_case(seed, duplicate_gt=True)
    summary = summarize_images(gt, dt, iou_threshold=0.5, conf_threshold=0.4)
    for image_id, boxes in gt.items():
        dets = dt.get(image_id, [])
        fps, hits, ious = [], set(), []
        for c in {b.class_index for b in boxes} | {d.class_index for d in dets}:
            g_idx = [i for i, b in enumerate(boxes) if b.class_index == c]
            d_idx = [i for i, d in enumerate(dets) if d.class_index == c and d.score >= 0.4]
            r = match_detections(
                [[boxes[i].x, boxes[i].y, boxes[i].w, boxes[i].h] for i in g_idx],
                [[dets[i].x, dets[i].y, dets[i].w, dets[i].h] for i in d_idx],
                [dets[i].score for i in d_idx],
            )
            for k, i in enumerate(d_idx):
                if r.gt_index[k] < 0:
                    fps.append(i)
                else:
                    hits.add(g_idx[r.gt_index[k]])
                    ious.append(r.iou[k])
        s = summary[image_id]
        assert s.false_positive_indices == tuple(sorted(fps))
        assert s.missed_indices == tuple(i for i in range(len(boxes)) if i not in hits)
        assert s.misses == len(boxes) - len(hits) and s.true_positives == len(hits)
        assert s.min_iou == (pytest.approx(min(ious)) if ious else None)


# --- IoU and boxes -----------------------------------------------------------------------
def test_iou_of_simple_pairs():
    assert iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert iou([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(50 / 150)
    assert iou([0, 0, 10, 10], [2, 2, 5, 5]) == pytest.approx(25 / 100)
    assert iou([0, 0, 10, 10], [10, 0, 10, 10]) == 0.0  # touching edges
    assert iou([0, 0, 10, 10], [50, 50, 1, 1]) == 0.0
    assert iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0  # degenerate, no division by zero


def test_iou_matrix_matches_pairwise_iou_and_handles_empty_inputs():
    rng = np.random.default_rng(0)
    a = np.c_[rng.uniform(0, 50, (5, 2)), rng.uniform(1, 30, (5, 2))]
    b = np.c_[rng.uniform(0, 50, (3, 2)), rng.uniform(1, 30, (3, 2))]
    m = iou_matrix(a, b)
    assert m.shape == (5, 3)
    assert m[2, 1] == iou(a[2], b[1])
    np.testing.assert_allclose(iou_matrix(b, a), m.T)
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)
    assert iou_matrix([], []).shape == (0, 0)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        iou_matrix([[1, 2, 3]], b)


def test_xywh_xyxy_round_trip():
    boxes = np.array([[1.5, 2.0, 3.0, 4.0], [0.0, 0.0, 10.0, 5.0]])
    np.testing.assert_array_equal(xywh_to_xyxy(boxes), [[1.5, 2.0, 4.5, 6.0], [0, 0, 10, 5]])
    np.testing.assert_array_equal(xyxy_to_xywh(xywh_to_xyxy(boxes)), boxes)
    np.testing.assert_array_equal(xywh_to_xyxy([1, 2, 3, 4]), [1, 2, 4, 6])


# --- AP formulas -------------------------------------------------------------------------
def test_ap_formulas_on_a_hand_computed_curve():
    # Detections: TP, FP, TP with 2 ground-truth boxes.
    rec = np.array([0.5, 0.5, 1.0])
    prec = np.array([1.0, 0.5, 2 / 3])
    # 11-point: r in 0..0.5 -> 1.0 (6 points), r in 0.6..1.0 -> 2/3 (5 points).
    assert ap_voc11(rec, prec) == pytest.approx((6 * 1.0 + 5 * 2 / 3) / 11)
    assert ap_voc_all(rec, prec) == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)
    # 101-point: recall 0..0.5 (51 points) -> 1.0, 0.51..1.0 (50 points) -> 2/3.
    assert ap_coco101(rec, prec) == pytest.approx((51 + 50 * 2 / 3) / 101)
    assert ap_voc11([], []) == 0.0 and ap_voc_all([], []) == 0.0 and ap_coco101([], []) == 0.0


def test_coco_thresholds_are_pycocotools_own():
    np.testing.assert_array_equal(COCO_IOU_THRESHOLDS, COCOeval(iouType="bbox").params.iouThrs)


# --- evaluate_detections, hand-checked -----------------------------------------------------
def two_images():
    return {
        "a": [GT(0, 10, 10, 20, 20), GT(0, 50, 50, 10, 10)],
        "b": [GT(0, 100, 100, 30, 30)],
    }


def perfect(gt, score=0.9):
    return {k: [DT(b.class_index, b.x, b.y, b.w, b.h, score) for b in v] for k, v in gt.items()}


def test_perfect_detections_score_one_everywhere():
    gt = two_images()
    r = evaluate_detections(gt, perfect(gt))
    for key in ("map50_voc11", "map50_voc_all", "map_voc11", "map_voc_all", "coco_ap50"):
        assert getattr(r, key) == pytest.approx(1.0)
    assert r.coco_ap50_95 == pytest.approx(1.0)
    assert (r.precision, r.recall, r.f1, r.average_iou) == (1.0, 1.0, 1.0, 1.0)
    assert (r.tp, r.fp, r.fn) == (3, 0, 0)
    assert r.best_f1 == 1.0 and r.best_f1_threshold == 0.9
    assert all(s.false_positives == 0 and s.misses == 0 for s in r.per_image.values())


def test_no_detections_score_zero_and_count_every_box_missed():
    r = evaluate_detections(two_images(), {})
    assert r.map50_voc11 == 0.0 and r.map50_voc_all == 0.0
    assert r.coco_ap50 == 0.0 and r.coco_ap50_95 == 0.0
    assert (r.tp, r.fp, r.fn) == (0, 0, 3)
    assert (r.precision, r.recall, r.f1) == (0.0, 0.0, 0.0)
    assert r.average_iou is None and r.best_f1 == 0.0 and r.best_f1_threshold is None
    assert r.per_image["a"].misses == 2 and r.per_image["a"].missed_indices == (0, 1)


def test_a_lone_false_positive_gives_zero_ap_and_zero_precision():
    gt = {"a": [GT(0, 0, 0, 10, 10)]}
    r = evaluate_detections(gt, {"a": [DT(0, 50, 50, 10, 10, 0.9)]})
    assert r.map50_voc11 == 0.0 and r.coco_ap50_95 == 0.0
    assert (r.tp, r.fp, r.fn, r.precision, r.recall) == (0, 1, 1, 0.0, 0.0)
    assert r.per_image["a"].false_positive_indices == (0,)
    assert r.average_iou is None and r.average_iou_darknet == 0.0


def test_a_false_positive_ranked_first_halves_precision():
    gt = {"a": [GT(0, 0, 0, 10, 10)]}
    dt = {"a": [DT(0, 0, 0, 10, 10, 0.8), DT(0, 50, 50, 10, 10, 0.9)]}
    r = evaluate_detections(gt, dt)
    # rec [0, 1], prec [0, 0.5]: the envelope is 0.5 at every recall.
    assert r.map50_voc11 == pytest.approx(0.5)
    assert r.map50_voc_all == pytest.approx(0.5)
    assert r.coco_ap50 == pytest.approx(0.5, abs=1e-12)
    assert (r.precision, r.recall) == (0.5, 1.0)
    assert r.f1 == pytest.approx(2 / 3)
    assert r.best_f1_threshold == 0.8


def test_average_iou_is_the_mean_over_true_positives_at_the_confidence_threshold():
    gt = {"a": [GT(0, 0, 0, 10, 10), GT(0, 100, 0, 10, 10)]}
    dt = {
        "a": [
            DT(0, 0, 0, 10, 10, 0.9),  # IoU 1
            DT(0, 102, 0, 10, 10, 0.8),  # IoU 80/120
            DT(0, 300, 0, 10, 10, 0.7),  # FP
            DT(0, 101, 0, 10, 10, 0.1),  # below conf: ignored
        ]
    }
    r = evaluate_detections(gt, dt, conf_threshold=0.25)
    assert r.average_iou == pytest.approx((1 + 80 / 120) / 2)
    assert r.average_iou_darknet == pytest.approx((1 + 80 / 120) / 3)
    assert r.per_image["a"].min_iou == pytest.approx(80 / 120)
    assert r.per_image["a"].num_detections == 3
    assert [m.ground_truth_index for m in r.per_image["a"].matches] == [0, 1]


def test_a_duplicate_detection_is_a_false_positive():
    gt = {"a": [GT(0, 0, 0, 10, 10)]}
    dt = {"a": [DT(0, 0, 0, 10, 10, 0.9), DT(0, 1, 0, 10, 10, 0.8)]}
    r = evaluate_detections(gt, dt)
    assert (r.tp, r.fp) == (1, 1)
    assert r.per_image["a"].false_positive_indices == (1,)
    assert r.map50_voc11 == 1.0  # the duplicate ranks below full recall


def test_voc_rule_counts_a_strictly_better_overlap_only_coco_takes_iou_equal_to_threshold():
    gt = {"a": [GT(0, 0, 0, 10, 10)]}
    dt = {"a": [DT(0, 0, 0, 10, 5, 0.9)]}  # IoU exactly 0.5
    r = evaluate_detections(gt, dt)
    assert r.tp == 0 and r.map50_voc11 == 0.0
    assert r.coco_ap50 == pytest.approx(1.0)
    assert r.coco_ap50_95 == pytest.approx(0.1)


def test_voc_rule_does_not_fall_back_to_a_second_best_ground_truth_but_coco_does():
    g = [[0, 0, 10, 10], [0, 0, 10, 10]]
    d = [[0, 0, 10, 10], [0, 0, 10, 9]]
    assert match_detections(g, d, [0.9, 0.8], rule="voc").gt_index.tolist() == [0, -1]
    assert match_detections(g, d, [0.9, 0.8], rule="coco").gt_index.tolist() == [1, 0]


def test_detections_below_the_confidence_threshold_still_count_for_ap():
    gt = two_images()
    r = evaluate_detections(gt, perfect(gt, score=0.1), conf_threshold=0.25)
    assert r.map50_voc11 == pytest.approx(1.0)
    assert (r.tp, r.fp, r.fn, r.recall) == (0, 0, 3, 0.0)
    assert r.best_f1 == 1.0 and r.best_f1_threshold == 0.1


def test_classes_without_ground_truth_are_left_out_of_the_means_but_count_as_fps():
    gt = two_images()
    dt = perfect(gt)
    dt["b"] = [*dt["b"], DT(1, 0, 0, 5, 5, 0.95)]
    r = evaluate_detections(gt, dt, class_names=["mouse", "tail", "head"])
    assert [c.name for c in r.per_class] == ["mouse", "tail", "head"]
    assert r.per_class[1].ap50_voc11 is None and r.per_class[1].coco_ap50_95 is None
    assert r.per_class[2].num_detections == 0
    assert r.map50_voc11 == pytest.approx(1.0) and r.coco_ap50_95 == pytest.approx(1.0)
    assert (r.tp, r.fp) == (3, 1) and r.precision == 0.75
    assert r.per_class[1].fp == 1 and r.per_class[1].recall == 0.0


def test_no_ground_truth_at_all_gives_no_map():
    r = evaluate_detections({"a": []}, {"a": [DT(0, 0, 0, 5, 5, 0.5)]})
    assert r.map50_voc11 is None and r.coco_ap50 is None
    assert (r.fp, r.precision, r.recall) == (1, 0.0, 0.0)
    assert r.per_image["a"].false_positives == 1


def test_nothing_at_all():
    r = evaluate_detections({}, {})
    assert r.num_images == 0 and r.map50_voc11 is None and r.per_class == ()
    json.dumps(r.to_dict())


def test_mean_over_classes_is_unweighted():
    gt = {"a": [GT(0, 0, 0, 10, 10), GT(0, 20, 0, 10, 10), GT(1, 50, 50, 10, 10)]}
    dt = {"a": [DT(0, 0, 0, 10, 10, 0.9)]}  # class 0: AP 0.5-ish, class 1: 0
    r = evaluate_detections(gt, dt)
    assert r.map50_voc_all == pytest.approx((0.5 + 0.0) / 2)
    assert r.per_class[0].ap50_voc_all == pytest.approx(0.5)


def test_curves_and_best_f1():
    gt = {"a": [GT(0, 0, 0, 10, 10), GT(0, 20, 0, 10, 10)]}
    dt = {
        "a": [
            DT(0, 0, 0, 10, 10, 0.9),
            DT(0, 80, 0, 10, 10, 0.6),
            DT(0, 20, 0, 10, 10, 0.6),  # tie: one operating point for both
            DT(0, 90, 90, 10, 10, 0.3),
        ]
    }
    r = evaluate_detections(gt, dt)
    np.testing.assert_array_equal(r.curve.thresholds, [0.9, 0.6, 0.3])
    np.testing.assert_allclose(r.curve.precision, [1.0, 2 / 3, 0.5])
    np.testing.assert_allclose(r.curve.recall, [0.5, 1.0, 1.0])
    np.testing.assert_allclose(r.curve.f1, [2 / 3, 0.8, 2 / 3])
    assert r.best_f1 == pytest.approx(0.8) and r.best_f1_threshold == 0.6
    d = r.to_dict()
    f1c = d["f1_curve"]
    assert len(f1c["threshold"]) == 101 and f1c["threshold"][0] == 0.0
    assert f1c["f1"][60] == pytest.approx(0.8)  # threshold 0.6 keeps the tie
    assert f1c["f1"][61] == pytest.approx(2 / 3)
    assert f1c["f1"][100] == 0.0 and f1c["precision"][100] == 0.0
    pr = d["pr_curve"]
    assert len(pr["recall"]) == 101
    assert pr["precision"][50] == 1.0 and pr["precision"][51] == pytest.approx(2 / 3, abs=1e-6)


def test_to_dict_is_json_with_the_documented_keys():
    gt, dt, n = random_case(3)
    d = json.loads(json.dumps(evaluate_detections(gt, dt, class_names=list("abcd")[:n]).to_dict()))
    for key in (
        "map50_voc11",
        "map50_voc_all",
        "map_voc11",
        "map_voc_all",
        "coco_ap50",
        "coco_ap50_95",
        "precision",
        "recall",
        "f1",
        "average_iou",
        "average_iou_darknet",
        "tp",
        "fp",
        "fn",
        "best_f1",
        "best_f1_threshold",
        "iou_threshold",
        "conf_threshold",
        "num_images",
        "num_ground_truth",
        "num_detections",
        "pr_curve",
        "f1_curve",
        "per_class",
    ):
        assert key in d
    assert {"class_index", "name", "ap50_voc11", "coco_ap50_95", "f1_curve"} <= set(
        d["per_class"][0]
    )
    for curve in (d["pr_curve"], d["f1_curve"], d["per_class"][0]["pr_curve"]):
        assert all(len(v) <= 101 for v in curve.values())


def test_rejects_bad_input():
    gt = {"a": [GT(0, 0, 0, 10, 10)]}
    with pytest.raises(ValueError, match="absent from ground_truth"):
        evaluate_detections(gt, {"zzz": []})
    with pytest.raises(ValueError, match="negative width"):
        evaluate_detections({"a": [GT(0, 0, 0, -1, 10)]}, {})
    with pytest.raises(ValueError, match="non-finite"):
        evaluate_detections(gt, {"a": [DT(0, 0, 0, 1, 1, float("nan"))]})
    with pytest.raises(ValueError, match="iou_threshold"):
        evaluate_detections(gt, {}, iou_threshold=1.5)
    with pytest.raises(ValueError, match="without a name"):
        evaluate_detections(gt, {"a": [DT(3, 0, 0, 1, 1, 0.5)]}, class_names=["mouse"])


def test_class_names_may_be_a_mapping():
    gt = {"a": [GT(7, 0, 0, 10, 10)]}
    r = evaluate_detections(gt, perfect(gt), class_names={7: "mouse", 9: "tail"})
    assert [(c.class_index, c.name) for c in r.per_class] == [(7, "mouse"), (9, "tail")]


def test_ten_thousand_images_evaluate_in_one_vectorised_pass():
    """Scale check (no timing asserted): 10k frames, 3 mice each, many low-score boxes."""
    rng = np.random.default_rng(1)
    n = 10_000
    # Each mouse in its own third of the frame so no detection overlaps another mouse.
    xy = rng.uniform(0, 150, (n, 3, 2)) + np.array([[0, 0], [200, 0], [400, 0]])
    gt = {i: [GT(0, *xy[i, k], 30.0, 20.0) for k in range(3)] for i in range(n)}
    dt = {
        i: [DT(0, *(xy[i, k] + 1.0), 30.0, 20.0, 0.9 - 0.1 * k) for k in range(3)]
        + [DT(0, *rng.uniform(0, 600, 2), 10.0, 10.0, 0.01) for _ in range(5)]
        for i in range(n)
    }
    r = evaluate_detections(gt, dt)
    assert (r.tp, r.fp, r.fn) == (3 * n, 0, 0)
    assert r.map50_voc_all == pytest.approx(1.0)
    assert len(r.per_image) == n
