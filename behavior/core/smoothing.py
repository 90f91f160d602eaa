"""Optional smoothing of positions before any measure (off by default).

Applied to each run of consecutive tracked frames separately — never across a missing
frame, so a gap is not bridged by invented positions. ``window`` is in frames (odd, >= 3).
A run shorter than the window is left as it is.

* ``"median"``: rolling median of x and y over ``window`` frames (edges: nearest value);
  removes single-frame jumps (detector flicker) and keeps real turns sharp.
* ``"savgol"``: Savitzky–Golay (scipy.signal.savgol_filter, polynomial ``polyorder``);
  removes jitter while keeping speed peaks, as used by DeepLabCut/SimBA-style pipelines.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.ndimage import median_filter
from scipy.signal import savgol_filter

from .errors import BehaviorInputError

Smoothing = Literal["median", "savgol"]


def check_smoothing(method: str | None, window: int, polyorder: int) -> None:
    if method is None:
        return
    if method not in ("median", "savgol"):
        raise BehaviorInputError("smoothing", f"must be null, 'median' or 'savgol', got {method!r}")
    if isinstance(window, bool) or not isinstance(window, int | np.integer):
        raise BehaviorInputError("smoothing_window", "must be an integer number of frames")
    if window < 3 or window % 2 == 0 or window > 1001:
        raise BehaviorInputError(
            "smoothing_window", f"must be an odd number of frames in 3..1001, got {window}"
        )
    if method == "savgol":
        if isinstance(polyorder, bool) or not isinstance(polyorder, int | np.integer):
            raise BehaviorInputError("savgol_polyorder", "must be an integer")
        if not 0 <= polyorder < window:
            raise BehaviorInputError(
                "savgol_polyorder", f"must be in 0..{window - 1}, got {polyorder}"
            )


def smooth_positions(
    xy: np.ndarray, method: str | None, *, window: int = 5, polyorder: int = 2
) -> np.ndarray:
    """float64 (F, 2): ``xy`` smoothed per run of tracked frames (NaN rows stay NaN)."""
    check_smoothing(method, window, polyorder)
    xy = np.asarray(xy, dtype=np.float64)
    if method is None:
        return xy
    out = xy.copy()
    ok = np.isfinite(xy).all(axis=1)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start < window:
            continue
        seg = xy[start:stop]
        if method == "median":
            out[start:stop] = median_filter(seg, size=(window, 1), mode="nearest")
        else:
            out[start:stop] = savgol_filter(seg, window, polyorder, axis=0, mode="interp")
    return out
