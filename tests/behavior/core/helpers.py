"""Constructed trajectories with known answers, and a plain loop-based reference analysis."""

from __future__ import annotations

import math

import numpy as np


def uniform_time(seconds: float, fps: float = 30.0, start: float = 0.0) -> np.ndarray:
    return start + np.arange(round(seconds * fps)) / fps


def polyline(points, steps_per_leg: int) -> np.ndarray:
    """Positions walking straight between ``points``, ``steps_per_leg`` steps per leg."""
    out = [np.asarray(points[0], dtype=float)]
    for a, b in zip(points[:-1], points[1:], strict=True):
        a, b = np.asarray(a, float), np.asarray(b, float)
        for k in range(1, steps_per_leg + 1):
            out.append(a + (b - a) * k / steps_per_leg)
    return np.array(out)


def reference_analysis(t, xy, inside, *, start, end, max_gap, thr, min_immobile, count_initial):
    """Per-frame loops written straight from the definitions (no vectorisation, no reuse of
    the package). ``inside``: bool per frame for one zone. Returns a dict of totals."""
    n = len(t)
    median = float(np.median(np.diff(t))) if n > 1 else 0.0
    frames = []
    for i in range(n):
        if not start <= t[i] < end:
            continue
        nxt = t[i + 1] if i + 1 < n else t[i] + median
        dur = min(nxt, end) - t[i]
        ok = not (math.isnan(xy[i][0]) or math.isnan(xy[i][1]))
        frames.append((i, dur, ok))
    tracked = [(i, d) for i, d, ok in frames if ok]
    distance = 0.0
    speeds = {}
    steps_ok = {}
    for (i, _), (j, _) in zip(tracked[:-1], tracked[1:], strict=True):
        dt = t[j] - t[i]
        if dt <= max_gap + 1e-9:
            length = math.dist(xy[i], xy[j])
            distance += length
            speeds[i] = length / dt
            steps_ok[i] = True
    sample_speed = {}
    for k, (i, _) in enumerate(tracked):
        if i in speeds:
            sample_speed[i] = speeds[i]
        elif k > 0 and tracked[k - 1][0] in speeds:
            sample_speed[i] = speeds[tracked[k - 1][0]]
    # Immobility episodes.
    immobile = set()
    run, run_time = [], 0.0

    def close():
        if run and run_time >= min_immobile - 1e-9:
            immobile.update(run)

    prev = None
    for i, d in tracked:
        slow = i in sample_speed and sample_speed[i] < thr
        linked = prev is not None and steps_ok.get(prev, False)
        if slow and run and linked:
            run.append(i)
            run_time += d
        else:
            close()
            run, run_time = ([i], d) if slow else ([], 0.0)
        prev = i if slow else None
    close()
    moving = sum(d for i, d in tracked if i in sample_speed and i not in immobile)
    still = sum(d for i, d in tracked if i in immobile)
    zone_time = sum(d for i, d in tracked if inside[i])
    entries = exits = 0
    latency = None
    was = None
    for i, _ in tracked:
        now = bool(inside[i])
        if (was is False and now) or (was is None and now and count_initial):
            entries += 1
            if latency is None:
                latency = t[i] - start
        if was is True and not now:
            exits += 1
        was = now
    return {
        "tracked_time_s": sum(d for _, d in tracked),
        "distance": distance,
        "time_moving_s": moving,
        "time_immobile_s": still,
        "zone_time_s": zone_time,
        "entries": entries,
        "exits": exits,
        "latency_s": latency,
    }
