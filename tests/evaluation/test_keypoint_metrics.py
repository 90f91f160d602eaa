"""evaluation.keypoints: pixel error and PCK on hand-made cases, and OKS AP equal to
pycocotools' COCOeval(iouType="keypoints") on constructed datasets (the oracle)."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest

from evaluation.keypoints import DEFAULT_SIGMA, PoseAnimal, PoseImage, pose_metrics

NAMES = ["snout", "ear_left", "ear_right", "tail_base"]


def test_pixel_error_and_pck_on_a_hand_made_case():
    truth = PoseAnimal((10, 10, 50, 20), [[60, 20, 2], [50, 15, 2], [50, 25, 1], [10, 20, 0]])
    # Off by 3-4-5 px on the snout, exact ears, any tail (not labeled: not counted).
    prediction = PoseAnimal(
        (11, 10, 50, 20), [[63, 24, 0.9], [50, 15, 0.8], [50, 25, 0.7], [99, 99, 0.1]], 0.9
    )
    far = PoseAnimal((200, 200, 30, 30), [[0, 0, 1]] * 4, 0.99)  # matches nothing
    lonely = PoseAnimal((300, 10, 40, 20), [[310, 20, 2]] + [[0, 0, 0]] * 3)
    m = pose_metrics([PoseImage([truth, lonely], [far, prediction])], names=NAMES)
    assert (m.matched, m.unmatched, m.points) == (1, 1, 3)
    assert m.per_keypoint == {"snout": 5.0, "ear_left": 0.0, "ear_right": 0.0, "tail_base": None}
    assert m.mean_error_px == pytest.approx(5 / 3)
    assert m.pck == 1.0  # 5 px <= 5 px
    assert m.pck_rel == 1.0  # 0.1 x the longer side (50 px) = 5 px: the snout counts
    m2 = pose_metrics([PoseImage([truth], [prediction])], names=NAMES, pck_px=4.9, pck_rel=0.05)
    assert m2.pck == pytest.approx(2 / 3) and m2.pck_rel == pytest.approx(2 / 3)
    assert m.settings["sigmas"] == [DEFAULT_SIGMA] * 4


def test_no_truth_gives_no_figures():
    m = pose_metrics([PoseImage([], [])], names=NAMES)
    assert m.mean_error_px is None and m.oks_ap is None and m.pck is None


def test_sigmas_must_fit_the_skeleton():
    with pytest.raises(ValueError, match="4 positive"):
        pose_metrics([], names=NAMES, sigmas=[0.1, 0.1])


# --- the pycocotools oracle ------------------------------------------------------------------
def constructed(seed: int) -> list[PoseImage]:
    """Images with 0-3 animals: noisy predictions, missed animals, false positives, animals
    with some or no labeled keypoints, tied scores."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(int(rng.integers(3, 9))):
        truths, predictions = [], []
        for _ in range(int(rng.integers(0, 4))):
            x, y = rng.uniform(0, 500, 2)
            w, h = rng.uniform(20, 120, 2)
            points = []
            for _ in NAMES:
                v = int(rng.choice([0, 1, 2], p=[0.2, 0.2, 0.6]))
                px, py = (x + rng.uniform(0, w), y + rng.uniform(0, h)) if v else (0.0, 0.0)
                points.append([round(px, 2), round(py, 2), v])
            if rng.random() < 0.1:
                points = [[0.0, 0.0, 0]] * len(NAMES)  # an animal without keypoints
            truths.append(PoseAnimal((x, y, w, h), points))
            if rng.random() < 0.8:  # found, with some noise
                noise = rng.normal(0, rng.choice([1.0, 4.0, 15.0]), (len(NAMES), 2))
                guess = [
                    [float(x + rng.uniform(0, w)) if p[2] == 0 else p[0] + n[0],
                     float(y + rng.uniform(0, h)) if p[2] == 0 else p[1] + n[1],
                     float(rng.uniform(0.1, 1))]
                    for p, n in zip(points, noise, strict=True)
                ]  # fmt: skip
                score = float(rng.choice([0.5, 0.7, rng.uniform(0.05, 1)]))  # ties too
                predictions.append(PoseAnimal((x + 2, y - 1, w, h), guess, score))
        for _ in range(int(rng.integers(0, 3))):  # false positives
            x, y = rng.uniform(0, 500, 2)
            guess = [[float(x + rng.uniform(0, 40)), float(y + rng.uniform(0, 40)), 0.5]] * 4
            predictions.append(PoseAnimal((x, y, 40, 40), guess, float(rng.uniform(0, 1))))
        images.append(PoseImage(truths, predictions))
    return images


def pycocotools_aps(images: list[PoseImage], sigmas: np.ndarray) -> tuple[float, float, float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = {
        "images": [{"id": i + 1, "width": 1000, "height": 1000} for i in range(len(images))],
        "categories": [{"id": 1, "name": "mouse", "keypoints": NAMES, "skeleton": []}],
        "annotations": [],
    }
    results = []
    for i, image in enumerate(images, start=1):
        for truth in image.truths:
            flat = [float(v) for p in truth.keypoints for v in p]
            gt["annotations"].append(
                {
                    "id": len(gt["annotations"]) + 1,
                    "image_id": i,
                    "category_id": 1,
                    "bbox": list(truth.box),
                    "area": truth.box[2] * truth.box[3],
                    "iscrowd": 0,
                    "keypoints": flat,
                    "num_keypoints": sum(1 for p in truth.keypoints if p[2] > 0),
                }
            )
        for prediction in image.predictions:
            results.append(
                {
                    "image_id": i,
                    "category_id": 1,
                    "keypoints": [float(v) for p in prediction.keypoints for v in p],
                    "score": prediction.score,
                }
            )
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        detections = coco.loadRes(results) if results else COCO()
        evaluator = COCOeval(coco, detections, iouType="keypoints")
        evaluator.params.kpt_oks_sigmas = sigmas
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return tuple(float(v) for v in evaluator.stats[:3])


@pytest.mark.parametrize("seed", range(12))
def test_oks_ap_equals_pycocotools(seed):
    pytest.importorskip("pycocotools")
    images = constructed(seed)
    if not any(p[2] for im in images for t in im.truths for p in t.keypoints):
        pytest.skip("this seed made no labeled keypoint")
    if not any(im.predictions for im in images):
        pytest.skip("this seed made no prediction (pycocotools cannot load an empty result)")
    sigmas = np.array([0.025, 0.035, 0.035, 0.079]) if seed % 2 else np.full(4, DEFAULT_SIGMA)
    ours = pose_metrics(images, names=NAMES, sigmas=sigmas)
    want = pycocotools_aps(images, sigmas)
    got = (ours.oks_ap, ours.oks_ap50, ours.oks_ap75)
    assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(got, want, strict=True)), (
        got,
        want,
    )
