"""Timestamps, per-frame durations and the analysis window.

Definitions (used by every measure):

* ``time_s``: float64 (F,) presentation times from the container, seconds, strictly
  increasing, not necessarily uniform (variable frame rate, dropped frames).
* Duration of frame ``i``: the time to the next frame, ``time_s[i+1] - time_s[i]``; the last
  frame lasts the median frame interval (with a single frame: 0 s, nothing to measure).
* Recording end: ``time_s[-1] +`` the last frame's duration.
* Analysis window ``[start_s, end_s)`` (defaults: first timestamp, recording end): a frame
  is analysed when its timestamp lies in the window; its duration is cut at ``end_s``. A frame
  that began before ``start_s`` is not analysed, so the analysed time can fall short of the
  window by less than one frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import BehaviorInputError, finite_number

# end_s may overshoot the recording end by this share of a frame (rounding in the UI).
END_SLACK_FRAMES = 0.5


def validate_time(time_s: np.ndarray, field: str = "time_s") -> np.ndarray:
    t = np.asarray(time_s, dtype=np.float64)
    if t.ndim != 1 or t.shape[0] == 0:
        raise BehaviorInputError(field, f"must be a non-empty 1-D array, got shape {t.shape}")
    if not np.isfinite(t).all():
        first = int(np.flatnonzero(~np.isfinite(t))[0])
        raise BehaviorInputError(field, f"frame {first} is not finite")
    bad = np.flatnonzero(np.diff(t) <= 0)
    if bad.size:
        k = int(bad[0])
        raise BehaviorInputError(
            field, f"must be strictly increasing (frame {k + 1}: {t[k + 1]!r} after {t[k]!r})"
        )
    return t


def median_interval(t: np.ndarray) -> float:
    return float(np.median(np.diff(t))) if t.shape[0] > 1 else 0.0


def frame_durations(t: np.ndarray) -> np.ndarray:
    """float64 (F,): each frame's duration (see module docs)."""
    dur = np.empty_like(t)
    dur[:-1] = np.diff(t)
    dur[-1] = median_interval(t)
    return dur


@dataclass(frozen=True)
class Window:
    """The resolved analysis window.

    ``analysed``: bool (F,) frames whose timestamp is in ``[start_s, end_s)``;
    ``duration``: float64 (F,) their durations cut at ``end_s`` (0 outside the window).
    """

    start_s: float
    end_s: float
    recording_end_s: float
    analysed: np.ndarray
    duration: np.ndarray


def resolve_window(t: np.ndarray, start_s: float | None, end_s: float | None) -> Window:
    """The window over timestamps ``t``; BehaviorInputError naming ``start_s``/``end_s``."""
    dur = frame_durations(t)
    rec_end = float(t[-1] + dur[-1])
    slack = END_SLACK_FRAMES * median_interval(t)
    start = float(t[0]) if start_s is None else finite_number(start_s, "start_s")
    end = rec_end if end_s is None else finite_number(end_s, "end_s")
    if start >= rec_end:
        raise BehaviorInputError(
            "start_s", f"{start:g} s is past the end of the recording ({rec_end:g} s)"
        )
    if end > rec_end + slack:
        raise BehaviorInputError(
            "end_s", f"{end:g} s is past the end of the recording ({rec_end:g} s)"
        )
    if end <= start:
        raise BehaviorInputError("end_s", f"must be after start_s ({start:g} s), got {end:g}")
    analysed = (t >= start) & (t < end)
    if not analysed.any():
        raise BehaviorInputError("end_s", f"the window [{start:g}, {end:g}) s holds no frame")
    duration = np.where(analysed, np.minimum(dur, end - t), 0.0)
    return Window(start, min(end, rec_end), rec_end, analysed, duration)
