"""Occupancy grid totals and PNG rendering."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from behavior.core import BehaviorInputError, Calibration
from behavior.core.heatmap import occupancy_grid, render_heatmap_png, render_trajectory_png
from tests.behavior.core.helpers import uniform_time

PNG = b"\x89PNG\r\n\x1a\n"


def walk(seconds=20.0, seed=1):
    rng = np.random.default_rng(seed)
    t = uniform_time(seconds) + 0.5
    xy = np.clip(np.cumsum(rng.normal(0, 4, (t.size, 2)), axis=0) + [320, 240], -5, 650)
    xy[rng.random(t.size) < 0.1] = np.nan
    return t, xy


def test_total_seconds_equal_the_tracked_time():
    t, xy = walk()
    occ = occupancy_grid(t, xy, frame_width=640, frame_height=480, cell_size=20)
    tracked = np.isfinite(xy).all(axis=1).sum() / 30
    assert occ.total_s == pytest.approx(tracked)
    assert occ.seconds.shape == (24, 32)
    smoothed = occupancy_grid(t, xy, frame_width=640, frame_height=480, sigma_cells=2)
    assert smoothed.total_s == pytest.approx(tracked)


def test_a_still_animal_puts_all_its_time_in_one_cell_in_cm_cells():
    t = uniform_time(4)
    xy = np.tile([105.0, 33.0], (t.size, 1))
    occ = occupancy_grid(
        t, xy, frame_width=200, frame_height=100, cell_size=2, calibration=Calibration(10)
    )
    assert occ.cell_px == 20 and occ.units == "cm"
    assert occ.seconds[1, 5] == pytest.approx(4.0) and occ.total_s == pytest.approx(4.0)


def test_window_limits_the_occupancy():
    t, xy = walk()
    xy[:] = 100.0
    occ = occupancy_grid(t, xy, frame_width=640, frame_height=480, start_s=5, end_s=7)
    assert occ.total_s == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"cell_size": 0}, "cell_size"),
        ({"cell_size": 1e-5}, "cell_size"),
        ({"frame_width": float("nan")}, "frame_width"),
        ({"sigma_cells": -1}, "sigma_cells"),
        ({"end_s": 99}, "end_s"),
    ],
)
def test_bad_grid_input_names_the_field(kwargs, field):
    t, xy = walk(2)
    args = {"frame_width": 640, "frame_height": 480, **kwargs}
    with pytest.raises(BehaviorInputError) as exc:
        occupancy_grid(t, xy, **args)
    assert exc.value.field == field


def test_heatmap_and_trajectory_render_to_png_over_a_background():
    t, xy = walk(5)
    background = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    occ = occupancy_grid(t, xy, frame_width=640, frame_height=480, cell_size=16)
    png = render_heatmap_png(occ, background=background)
    assert png.startswith(PNG)
    image = Image.open(io.BytesIO(png))
    assert image.width > 300 and image.height > 200
    assert render_heatmap_png(occ).startswith(PNG)
    grey = background[..., 0]
    traj = render_trajectory_png(t, xy, frame_width=640, frame_height=480, background=grey)
    assert traj.startswith(PNG)
    with pytest.raises(BehaviorInputError) as exc:
        render_heatmap_png(occ, background=np.zeros((4, 4, 7), dtype=np.uint8))
    assert exc.value.field == "background"


def test_default_cell_is_2_cm_when_calibrated_and_a_twentieth_of_the_frame_otherwise():
    t = uniform_time(1.0)
    xy = np.tile([100.0, 100.0], (30, 1))
    cm = occupancy_grid(t, xy, frame_width=640, frame_height=480, calibration=Calibration(12.0))
    assert cm.cell_size == pytest.approx(2.0) and cm.cell_px == pytest.approx(24.0)
    px = occupancy_grid(t, xy, frame_width=640, frame_height=480)
    assert px.units == "px" and px.cell_px == pytest.approx(32.0)


def test_axes_are_in_cm_when_calibrated():
    from behavior.core.heatmap import heatmap_figure, trajectory_figure

    t = uniform_time(1.0)
    xy = np.column_stack([np.linspace(100, 500, 30), np.full(30, 240.0)])
    calibration = Calibration(10.0)
    occ = occupancy_grid(t, xy, frame_width=640, frame_height=480, calibration=calibration)
    for fig in (
        heatmap_figure(occ),
        trajectory_figure(t, xy, frame_width=640, frame_height=480, calibration=calibration),
    ):
        ax = fig.axes[0]
        assert ax.get_xlabel() == "x (cm)" and ax.get_ylabel() == "y (cm)"
        fig.canvas.draw()
        labels = [
            float(x.get_text().replace("−", "-")) for x in ax.get_xticklabels() if x.get_text()
        ]
        assert max(labels) == 64 and 0 in labels  # cm ticks over a 64 cm (640 px) frame
    plain = trajectory_figure(t, xy, frame_width=640, frame_height=480)
    assert plain.axes[0].get_xlabel() == "x (px)"
