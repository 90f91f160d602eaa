"""What each animal looks like: a per-detection descriptor and a per-video identity model.

Motion cannot tell two animals apart after they huddle for seconds and part again; how they
look can, where they differ at all (coat, size, a mark, a dye, an ear tag). This is
idtracker.ai's idea (Romero-Ferrero et al. 2019), kept small enough for a CPU worker:

1. :func:`describe` turns each detection into a short descriptor while the frame is at hand
   in the detection pass (no second decode): histograms of grey level and of gradient
   magnitude inside the box. Both ignore pose and heading, which change all the time, and
   keep what stays with an animal: how dark it is, how sharp its outline and fur look.
2. :func:`fit_identity_model` learns, per video, to tell the N animals apart from a stretch
   where all N are seen apart at once (a *global fragment*: N boxes there are N different
   animals, so the labels come free). The model is a shrinkage LDA (scikit-learn); it is
   scored on the half of the stretch it was not fitted on, and that accuracy says how much
   to trust it: animals that look alike give chance accuracy and the model is not used.
3. :func:`segment_evidence` turns a segment's per-frame predictions into a log-likelihood per
   identity label, counting one vote per ``decorrelation_s`` (consecutive frames of one
   animal are not independent looks) and using the measured accuracy as the vote's weight.

No Django import. A hand-written descriptor rather than a re-identification network: there
is no pretrained network for mice to download here, and training one per video costs more
than the whole tracking run on a CPU; the histograms take ~0.1 ms per box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# Bump when describe() changes: descriptors of two versions are not comparable.
DESCRIPTOR_VERSION = 1
_GREY_BINS = 16
# Gradient magnitude spans orders of magnitude (flat fur to a sharp outline): log-spaced bins.
_GRADIENT_EDGES = np.r_[0.0, np.geomspace(4.0, 1024.0, 15), np.inf]
DESCRIPTOR_SIZE = _GREY_BINS + len(_GRADIENT_EDGES) - 1


def describe(image: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
    """float32 (K, DESCRIPTOR_SIZE): one descriptor per box of ``image`` (uint8 BGR or grey).

    Each is the square root of the normalised histograms (grey level, then Sobel gradient
    magnitude) of the pixels inside the box, clipped to the image; a box with no pixel inside
    gets NaNs.
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    out = np.full((len(boxes), DESCRIPTOR_SIZE), np.nan, np.float32)
    if not len(boxes):
        return out
    height, width = image.shape[:2]
    for k, box in enumerate(boxes):
        if not np.isfinite(box).all():
            continue
        x1, y1 = max(0, int(round(box[0]))), max(0, int(round(box[1])))
        x2, y2 = min(width, int(round(box[2]))), min(height, int(round(box[3])))
        if x2 - x1 < 3 or y2 - y1 < 3:
            continue
        patch = image[y1:y2, x1:x2]
        if patch.ndim == 3:  # only the box is converted: a 4K frame costs the same as VGA
            patch = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)
        levels = np.bincount((patch >> 4).ravel(), minlength=_GREY_BINS)
        as_float = patch.astype(np.float32)
        magnitude = cv2.magnitude(
            cv2.Sobel(as_float, cv2.CV_32F, 1, 0), cv2.Sobel(as_float, cv2.CV_32F, 0, 1)
        )
        edges = np.histogram(magnitude, bins=_GRADIENT_EDGES)[0]
        out[k] = np.sqrt(np.r_[levels / patch.size, edges / magnitude.size])
    return out


@dataclass(frozen=True)
class IdentityModel:
    """Tells ``n_labels`` animals apart; ``accuracy`` was measured on frames not fitted on."""

    classifier: object  # a fitted sklearn LinearDiscriminantAnalysis
    n_labels: int
    accuracy: float
    training_frames: int

    def predict(self, descriptors: np.ndarray) -> np.ndarray:
        """int (K,) predicted label per descriptor; -1 where a descriptor is NaN."""
        x = np.asarray(descriptors, dtype=np.float64).reshape(-1, DESCRIPTOR_SIZE)
        labels = np.full(len(x), -1, dtype=np.int64)
        ok = np.isfinite(x).all(axis=1)
        if ok.any():
            labels[ok] = self.classifier.predict(x[ok])  # type: ignore[attr-defined]
        return labels


def fit_identity_model(
    descriptors: list[np.ndarray], times_s: list[np.ndarray]
) -> IdentityModel | None:
    """A model telling apart the animals whose descriptors (one (K_i, D) array per animal,
    at times ``times_s[i]``) come from one global fragment; ``None`` when there are too few.

    Fitted twice, on the fragment's first and on its second half in time, each scored on the
    other half: frames next to each other look alike, so scoring on a random split would
    flatter it. The model used is then fitted on everything.
    """
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    xs, ys, ts = [], [], []
    for label, (d, t) in enumerate(zip(descriptors, times_s, strict=True)):
        d = np.asarray(d, dtype=np.float64).reshape(-1, DESCRIPTOR_SIZE)
        ok = np.isfinite(d).all(axis=1)
        xs.append(d[ok])
        ys.append(np.full(int(ok.sum()), label))
        ts.append(np.asarray(t, dtype=np.float64)[ok])
    if len(xs) < 2 or min(len(x) for x in xs) < 10:
        return None
    x, y, t = np.concatenate(xs), np.concatenate(ys), np.concatenate(ts)
    middle = float(np.median(t))
    halves = [t <= middle, t > middle]
    correct = total = 0
    for fit_on, score_on in ((halves[0], halves[1]), (halves[1], halves[0])):
        if len(np.unique(y[fit_on])) < len(xs) or not score_on.any():
            return None
        classifier = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
        classifier.fit(x[fit_on], y[fit_on])
        correct += int((classifier.predict(x[score_on]) == y[score_on]).sum())
        total += int(score_on.sum())
    classifier = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(x, y)
    return IdentityModel(classifier, len(xs), correct / total, len(x))


def segment_evidence(
    model: IdentityModel, descriptors: np.ndarray, frame_dt_s: float, decorrelation_s: float
) -> np.ndarray:
    """float64 (n_labels,): the log-likelihood of a segment's descriptors under each label,
    up to a constant.

    A naive-Bayes count of the per-frame predictions, each worth ``log(accuracy / error)``
    for the label it names (error shared by the other labels), and each frame counting
    ``frame_dt_s / decorrelation_s`` of a vote (at most 1).
    """
    n = model.n_labels
    labels = model.predict(descriptors)
    votes = np.bincount(labels[labels >= 0], minlength=n).astype(np.float64)
    accuracy = min(max(model.accuracy, 1.0 / n), 0.999)
    error = (1.0 - accuracy) / (n - 1)
    weight = min(1.0, frame_dt_s / decorrelation_s) if decorrelation_s > 0 else 1.0
    return weight * votes * math.log(accuracy / error)


def same_label_cost(slot_evidence: np.ndarray, seg_evidence: np.ndarray, cap: float) -> float:
    """``-log(N x P(same label))`` of a slot and a segment, given each one's evidence: 0 when
    either says nothing, down to ``-log N`` when both agree surely, up to ``cap`` when they
    disagree surely."""
    n = len(slot_evidence)
    p_slot = _softmax(slot_evidence)
    p_seg = _softmax(seg_evidence)
    p_same = float(np.dot(p_slot, p_seg))
    return float(min(cap, -math.log(max(n * p_same, 1e-300))))


def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - np.max(v))
    return e / e.sum()


def global_fragments(
    spans: list[tuple[int, int]], n_animals: int
) -> list[tuple[list[int], int, int]]:
    """Every run of rows where exactly ``n_animals`` of the ``spans`` (inclusive
    ``(first_row, last_row)`` of clean segments, one animal each) are present, the same ones
    throughout: ``(their indices, first row, last row)``, longest first."""
    events = sorted(
        [(first, 1, i) for i, (first, _) in enumerate(spans)]
        + [(last + 1, -1, i) for i, (_, last) in enumerate(spans)]
    )
    present: set[int] = set()
    found: list[tuple[list[int], int, int]] = []
    since = None
    for row, kind, i in events:
        if since is not None and row > since and len(present) == n_animals:
            found.append((sorted(present), since, row - 1))
        if kind > 0:
            present.add(i)
        else:
            present.discard(i)
        since = row
    found.sort(key=lambda f: (-(f[2] - f[1]), f[1]))
    return found


def best_labels(evidence: np.ndarray) -> tuple[np.ndarray, float]:
    """For N segments seen at once (different animals) with ``evidence`` (N segments x N
    labels): the most likely label of each, and the margin (nats) by which that labelling
    beats the best one that swaps any two of them."""
    from scipy.optimize import linear_sum_assignment

    rows, labels = linear_sum_assignment(-evidence)
    order = labels[np.argsort(rows)]
    margin = math.inf
    for i in range(len(order)):
        for j in range(i + 1, len(order)):
            kept = evidence[i, order[i]] + evidence[j, order[j]]
            swapped = evidence[i, order[j]] + evidence[j, order[i]]
            margin = min(margin, float(kept - swapped))
    return order, margin
