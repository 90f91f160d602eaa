"""How far a trajectory can be trusted, per animal and per video (JSON-ready).

Percentages are of all frames (0-100). A *gap* here is any run of frames without a detection
(missing or interpolated); its length in seconds sums the frames' durations (the time to the next
frame; the last frame lasts the median frame interval). ``mean_confidence`` is over detected
frames and is ``None`` when there are none.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from tracking.engine.identity import SuspectedSwap
from tracking.engine.trajectory import Status, Trajectory


@dataclass(frozen=True)
class AnimalTrust:
    animal: int
    detected_pct: float
    interpolated_pct: float
    missing_pct: float
    longest_gap_frames: int
    longest_gap_s: float
    suspected_swaps: int
    mean_confidence: float | None
    outliers: int


@dataclass(frozen=True)
class TrustReport:
    n_frames: int
    n_animals: int
    duration_s: float
    detected_pct: float
    interpolated_pct: float
    missing_pct: float
    longest_gap_frames: int
    longest_gap_s: float
    suspected_swaps: int  # intervals, each involving two animals
    mean_confidence: float | None
    outliers: int
    animals: tuple[AnimalTrust, ...]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["animals"] = [asdict(a) for a in self.animals]
        return data


def trust_report(trajectory: Trajectory, swaps: Sequence[SuspectedSwap] = ()) -> TrustReport:
    """The figures for ``trajectory`` (after edits, if any) and its suspected swaps."""
    n_frames, n_animals = trajectory.n_frames, trajectory.n_animals
    durations = _frame_durations(trajectory.time_s.astype(np.float64))
    outlier = trajectory.flags.get("outlier", np.zeros((n_frames, n_animals), dtype=bool))
    animals = []
    for a in range(n_animals):
        status = trajectory.status[:, a]
        detected = status == Status.DETECTED
        frames, seconds = _longest_run(~detected, durations)
        conf = trajectory.confidence[detected, a].astype(np.float64)
        animals.append(
            AnimalTrust(
                animal=a + 1,
                detected_pct=_pct(detected.sum(), n_frames),
                interpolated_pct=_pct((status == Status.INTERPOLATED).sum(), n_frames),
                missing_pct=_pct((status == Status.MISSING).sum(), n_frames),
                longest_gap_frames=frames,
                longest_gap_s=seconds,
                suspected_swaps=sum(a + 1 in (s.animal_a, s.animal_b) for s in swaps),
                mean_confidence=float(conf.mean()) if conf.size else None,
                outliers=int(outlier[:, a].sum()),
            )
        )
    detected_all = trajectory.status == Status.DETECTED
    conf_all = trajectory.confidence[detected_all].astype(np.float64)
    return TrustReport(
        n_frames=n_frames,
        n_animals=n_animals,
        duration_s=float(durations.sum()),
        detected_pct=_pct(detected_all.sum(), n_frames * n_animals),
        interpolated_pct=_pct(
            (trajectory.status == Status.INTERPOLATED).sum(), n_frames * n_animals
        ),
        missing_pct=_pct((trajectory.status == Status.MISSING).sum(), n_frames * n_animals),
        longest_gap_frames=max((a.longest_gap_frames for a in animals), default=0),
        longest_gap_s=max((a.longest_gap_s for a in animals), default=0.0),
        suspected_swaps=len(swaps),
        mean_confidence=float(conf_all.mean()) if conf_all.size else None,
        outliers=int(outlier.sum()),
        animals=tuple(animals),
    )


def _pct(count: int, total: int) -> float:
    return 100.0 * float(count) / total if total else 0.0


def _frame_durations(time_s: np.ndarray) -> np.ndarray:
    if time_s.size == 0:
        return np.zeros(0)
    dt = np.diff(time_s)
    last = float(np.median(dt)) if dt.size else 0.0
    return np.r_[dt, last if math.isfinite(last) else 0.0]


def _longest_run(mask: np.ndarray, durations: np.ndarray) -> tuple[int, float]:
    """Longest run of True: (frames, seconds)."""
    idx = np.flatnonzero(mask)
    if not idx.size:
        return 0, 0.0
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.r_[0, breaks + 1]
    ends = np.r_[breaks, idx.size - 1]
    lengths = ends - starts + 1
    best = int(np.argmax(lengths))
    lo, hi = idx[starts[best]], idx[ends[best]]
    return int(lengths[best]), float(durations[lo : hi + 1].sum())
