"""The two-mouse scoring video of ``bench/track_video.py`` and its identity checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def box_noise(detections, truth, seeds: int) -> dict:
    """IDF1 of the same detections with 1 px of Gaussian noise on every box coordinate, one
    run per seed, linked by motion alone and by motion and look: how near a tie a decision
    is shows as a score that flips between seeds."""
    from tracking.engine.params import TrackingParams
    from tracking.engine.pipeline import build_trajectory
    from tracking.engine.scoring import score_frames, trajectory_as_frames
    from tracking.engine.trajectory import FrameDetections

    out = {}
    for look in (False, True):
        scores = []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            noisy = []
            for d in detections:
                jitter = rng.normal(0, 1, d.boxes_xyxy.shape).astype(np.float32)
                noisy.append(FrameDetections(d.frame, d.time_s, d.boxes_xyxy + jitter, d.scores,
                                             d.appearance))  # fmt: skip
            result = build_trajectory(noisy, n_animals=2, params=TrackingParams(appearance=look))
            hyp = trajectory_as_frames(result.trajectory)
            scores.append(round(score_frames(truth, hyp).idf1, 3))
        name = "motion and look" if look else "motion only"
        out[name] = scores
        print(f"two mice, 1 px box noise, {name}: IDF1 {scores}", flush=True)
    return out


def two_mouse_video(source: Path, out: Path):
    """The scoring video (``source``'s mouse of another moment pasted in, the donor delay
    :func:`choose_delay`'s) and its ground truth, made once under ``out``."""
    from tests.tracking.synthetic_video import GroundTruth, make_two_mouse_video

    video, truth = out / "two-mice.mp4", out / "two-mice-truth.npz"
    if video.exists() and truth.exists():
        return GroundTruth.load(video, truth)
    gt = make_two_mouse_video(source, video)
    gt.save(truth)
    return gt
