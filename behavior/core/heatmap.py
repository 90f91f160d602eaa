"""Time-weighted occupancy grid and PNG renderings (heatmap, trajectory coloured by time).

Occupancy: the frame ``[0, frame_width] × [0, frame_height]`` (original-video px) is cut into
square cells of ``cell_size`` (output units: cm when calibrated, else px); each tracked
sample of the window adds its duration (see :mod:`.timebase`) to the cell holding its
position, so the grid's total is the tracked time. Positions just outside the frame go to the
nearest edge cell. Optional Gaussian smoothing (``sigma_cells``) uses reflecting edges so
the total is unchanged.

Default cell: 2 cm when the video is calibrated (about a third of a mouse's body length, so
the map shows where it stayed rather than tracing its path), else 1/20 of the frame width.
Axes are in cm when calibrated (from the frame's top-left corner), else in px.

Rendering uses matplotlib's object API with the Agg canvas (no pyplot state, no display)
and returns PNG bytes. ``background``: an (H, W) greyscale or (H, W, 3) RGB uint8 frame in
original-video pixels (convert OpenCV's BGR first: ``frame[..., ::-1]``).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from scipy.ndimage import gaussian_filter

from .calibration import Calibration
from .errors import BehaviorInputError, finite_number, positive_number
from .timebase import resolve_window, validate_time

MAX_CELLS = 4_000_000
DEFAULT_CELL_CM = 2.0
DEFAULT_CELLS_ACROSS = 20  # uncalibrated: cells across the frame width


@dataclass(frozen=True)
class Occupancy:
    """``seconds``: float64 (rows, cols), seconds per cell; row 0 at the top (y = 0).
    ``cell_px``: the cell side in px; ``cell_size`` the same in ``units``; ``sigma_cells``:
    the Gaussian smoothing applied (0: none)."""

    seconds: np.ndarray
    cell_px: float
    cell_size: float
    units: str
    frame_width: float
    frame_height: float
    sigma_cells: float = 0.0

    @property
    def total_s(self) -> float:
        return float(self.seconds.sum())


def _checked_path(
    time_s: np.ndarray, xy: np.ndarray, frame_width: float, frame_height: float
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The times (F,), positions (F, 2) in px and frame size, checked (the field named)."""
    t = validate_time(time_s)
    pos = np.asarray(xy, dtype=np.float64)
    if pos.shape != (t.shape[0], 2):
        raise BehaviorInputError("xy", f"must have shape ({t.shape[0]}, 2), got {pos.shape}")
    width = positive_number(frame_width, "frame_width")
    height = positive_number(frame_height, "frame_height")
    return t, pos, width, height


def occupancy_grid(
    time_s: np.ndarray,
    xy: np.ndarray,
    *,
    frame_width: float,
    frame_height: float,
    cell_size: float | None = None,
    calibration: Calibration | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    sigma_cells: float = 0.0,
) -> Occupancy:
    """Seconds per cell over the analysis window (default cell: see the module docs)."""
    calibration = calibration or Calibration()
    t, pos, width, height = _checked_path(time_s, xy, frame_width, frame_height)
    if cell_size is None and calibration.px_per_cm:
        cell_px = calibration.to_px(DEFAULT_CELL_CM)
    elif cell_size is None:
        cell_px = width / DEFAULT_CELLS_ACROSS
    else:
        cell_px = calibration.to_px(positive_number(cell_size, "cell_size"))
    cols, rows = math.ceil(width / cell_px), math.ceil(height / cell_px)
    if cols * rows > MAX_CELLS:
        raise BehaviorInputError("cell_size", f"gives {cols}×{rows} cells; too fine")
    sigma = finite_number(sigma_cells, "sigma_cells")
    if sigma < 0:
        raise BehaviorInputError("sigma_cells", "must be >= 0")
    window = resolve_window(t, start_s, end_s)
    ok = window.analysed & np.isfinite(pos).all(axis=1)
    c = np.clip((pos[ok, 0] // cell_px).astype(np.int64), 0, cols - 1)
    r = np.clip((pos[ok, 1] // cell_px).astype(np.int64), 0, rows - 1)
    grid = np.bincount(r * cols + c, weights=window.duration[ok], minlength=rows * cols)
    grid = grid.reshape(rows, cols)
    if sigma > 0:
        grid = gaussian_filter(grid, sigma, mode="reflect")
    return Occupancy(
        seconds=grid,
        cell_px=float(cell_px),
        cell_size=float(calibration.length(cell_px)),
        units=calibration.units,
        frame_width=width,
        frame_height=height,
        sigma_cells=sigma,
    )


def _figure(width: float, height: float, px_per_cm: float | None = None) -> tuple[Figure, object]:
    aspect = height / width
    fig = Figure(figsize=(7.0, max(2.5, 6.0 * aspect)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)  # image coordinates: y down
    ax.set_aspect("equal")
    units = "cm" if px_per_cm else "px"
    ax.set_xlabel(f"x ({units})")
    ax.set_ylabel(f"y ({units})")
    if px_per_cm:
        # Everything is drawn in px (the background is the video frame); ticks sit at
        # round numbers of cm and are labelled in cm.
        for axis, size in ((ax.xaxis, width), (ax.yaxis, height)):
            ticks_cm = MaxNLocator(nbins=8).tick_values(0, size / px_per_cm)
            ticks_cm = ticks_cm[(ticks_cm >= 0) & (ticks_cm <= size / px_per_cm + 1e-9)]
            axis.set_ticks(ticks_cm * px_per_cm, [f"{v:g}" for v in ticks_cm])
    return fig, ax


def _background(ax, background: np.ndarray | None, width: float, height: float) -> None:
    if background is None:
        return
    bg = np.asarray(background)
    if bg.ndim not in (2, 3) or (bg.ndim == 3 and bg.shape[2] not in (3, 4)):
        raise BehaviorInputError("background", f"must be (H, W) or (H, W, 3), got {bg.shape}")
    ax.imshow(bg, extent=(0, width, height, 0), cmap="gray" if bg.ndim == 2 else None)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def render_heatmap_png(occupancy: Occupancy, **kwargs) -> bytes:
    """:func:`heatmap_figure` as PNG bytes."""
    return _png(heatmap_figure(occupancy, **kwargs))


def heatmap_figure(
    occupancy: Occupancy,
    *,
    background: np.ndarray | None = None,
    alpha: float = 0.65,
    cmap: str = "inferno",
    title: str | None = None,
) -> Figure:
    """The occupancy over ``background`` with a colour bar in seconds per cell.
    Empty cells are transparent so the arena shows through; after smoothing, so are cells
    under 0.1 % of the peak (the Gaussian's far tails, which would tint a whole rectangle)."""
    occ = occupancy
    px_per_cm = occ.cell_px / occ.cell_size if occ.units == "cm" else None
    fig, ax = _figure(occ.frame_width, occ.frame_height, px_per_cm)
    _background(ax, background, occ.frame_width, occ.frame_height)
    rows, cols = occ.seconds.shape
    vmax = float(occ.seconds.max()) if occ.seconds.size and occ.seconds.max() > 0 else 1.0
    data = np.ma.masked_less_equal(occ.seconds, 1e-3 * vmax if occ.sigma_cells > 0 else 0)
    im = ax.imshow(
        data,
        extent=(0, cols * occ.cell_px, rows * occ.cell_px, 0),
        cmap=cmap,
        alpha=alpha,
        norm=Normalize(0, vmax),
        interpolation="nearest",
    )
    ax.set_xlim(0, occ.frame_width)
    ax.set_ylim(occ.frame_height, 0)
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label(f"time per cell (s); cell {occ.cell_size:.3g} {occ.units}")
    ax.set_title(title or f"Occupancy ({occ.total_s:.1f} s tracked)")
    return fig


def render_trajectory_png(time_s: np.ndarray, xy: np.ndarray, **kwargs) -> bytes:
    """:func:`trajectory_figure` as PNG bytes."""
    return _png(trajectory_figure(time_s, xy, **kwargs))


def trajectory_figure(
    time_s: np.ndarray,
    xy: np.ndarray,
    *,
    frame_width: float,
    frame_height: float,
    background: np.ndarray | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    cmap: str = "viridis",
    title: str | None = None,
    calibration: Calibration | None = None,
) -> Figure:
    """The path over the window, each segment coloured by its start time; missing frames
    break the line. Axes in cm when ``calibration`` has a scale."""
    t, pos, width, height = _checked_path(time_s, xy, frame_width, frame_height)
    window = resolve_window(t, start_s, end_s)
    ok = window.analysed & np.isfinite(pos).all(axis=1)
    pair = ok[:-1] & ok[1:]
    segments = np.stack([pos[:-1][pair], pos[1:][pair]], axis=1)
    fig, ax = _figure(width, height, (calibration or Calibration()).px_per_cm)
    _background(ax, background, width, height)
    norm = Normalize(window.start_s, window.end_s)
    lines = LineCollection(segments, cmap=cmap, norm=norm, linewidths=1.2)
    lines.set_array(t[:-1][pair])
    ax.add_collection(lines)
    bar = fig.colorbar(lines, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("time (s)")
    ax.set_title(title or "Trajectory")
    return fig
