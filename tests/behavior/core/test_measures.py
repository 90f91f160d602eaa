"""Locomotion and zone measures on constructed trajectories with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from behavior.core import (
    AnalysisParams,
    BehaviorInputError,
    Calibration,
    RectZone,
    analyze_trajectory,
)
from behavior.core.presets import EPM_UNIONS, elevated_plus_maze
from tests.behavior.core.helpers import polyline, uniform_time

FPS = 30.0
DT = 1 / FPS
ZONE = RectZone("zone", 100, 0, 100, 100)  # x in [100, 200]


def visits(pattern: str, seconds_each: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A path that sits outside ('o', x=50) or inside ('i', x=150) the zone for
    ``seconds_each`` per letter."""
    per = round(seconds_each * FPS)
    x = np.concatenate([np.full(per, 150.0 if c == "i" else 50.0) for c in pattern])
    t = np.arange(x.size) / FPS
    return t, np.c_[x, np.full(x.size, 50.0)]


def with_velocity(v_px_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions whose step from frame i to i+1 has speed ``v_px_s[i]`` (so frame i's speed
    is exactly that); one more frame than ``v``."""
    t = np.arange(v_px_s.size + 1) / FPS
    x = np.concatenate([[10.0], 10.0 + np.cumsum(v_px_s * DT)])
    return t, np.c_[x, np.full(x.size, 20.0)]


# --- distance and speed ------------------------------------------------------------------
def test_square_walk_distance_is_exact_and_converted_to_cm():
    xy = polyline([(100, 100), (300, 100), (300, 300), (100, 300), (100, 100)], 50)
    t = np.arange(len(xy)) / FPS
    r = analyze_trajectory(t, xy, calibration=Calibration(px_per_cm=10.0))
    assert r.units == "cm"
    assert r.totals.distance == pytest.approx(80.0, rel=1e-12)  # 800 px / 10
    assert r.totals.tracked_time_s == pytest.approx(len(xy) / FPS)
    assert r.totals.mean_speed == pytest.approx(80.0 / (len(xy) / FPS))
    assert r.totals.max_speed == pytest.approx(4 * FPS / 10)  # 4 px per frame
    assert r.fps == pytest.approx(FPS)


def test_uncalibrated_results_are_in_pixels_and_threshold_in_px_per_s():
    t, xy = with_velocity(np.full(90, 1.5))  # 1.5 px/s: below 2 px/s
    r = analyze_trajectory(t, xy)
    assert r.units == "px" and r.parameters["units"] == "px"
    assert r.parameters["px_per_cm"] is None
    assert r.totals.distance == pytest.approx(1.5 * 3)
    assert r.totals.time_immobile_s == pytest.approx(r.totals.tracked_time_s)
    # The same walk calibrated at 0.5 px/cm is 3 cm/s: moving.
    r_cm = analyze_trajectory(t, xy, calibration=Calibration(0.5))
    assert r_cm.parameters["immobile_speed_px_per_s"] == pytest.approx(1.0)
    assert r_cm.totals.time_moving_s == pytest.approx(r_cm.totals.tracked_time_s)


def test_gap_longer_than_max_gap_is_not_bridged():
    t = uniform_time(3)
    xy = np.zeros((t.size, 2))
    xy[45:, 0] = 100.0  # the animal reappears 100 px away
    xy[30:45] = np.nan  # 0.5 s missing -> frames 29 and 45 are 16 frames = 0.533 s apart
    r = analyze_trajectory(t, xy)
    assert r.totals.distance == 0.0
    assert r.totals.untracked_time_s == pytest.approx(15 / FPS)
    assert r.totals.tracked_time_s + r.totals.untracked_time_s == pytest.approx(3.0)
    bridged = analyze_trajectory(t, xy, params=AnalysisParams(max_gap_s=0.6))
    assert bridged.totals.distance == pytest.approx(100.0)


def test_short_gap_is_bridged_by_default():
    t = uniform_time(2)
    xy = np.c_[np.arange(t.size, dtype=float), np.zeros(t.size)]
    xy[10:15] = np.nan
    r = analyze_trajectory(t, xy)
    assert r.totals.distance == pytest.approx(t.size - 1)


def test_non_uniform_timestamps_give_each_frame_the_time_to_the_next():
    t = np.array([0.0, 0.1, 0.3, 0.35, 0.45])
    xy = np.zeros((5, 2))
    xy[2] = np.nan
    r = analyze_trajectory(t, xy)
    # durations 0.1, 0.2, 0.05, 0.1, last = median interval (0.1); frame 2 missing.
    assert r.totals.analysed_time_s == pytest.approx(0.55)
    assert r.totals.untracked_time_s == pytest.approx(0.05)
    assert r.parameters["median_frame_interval_s"] == pytest.approx(0.1)


def test_max_speed_after_median_smoothing_drops_a_single_frame_jump():
    t = uniform_time(2)
    xy = np.c_[np.linspace(0, 59, t.size), np.full(t.size, 10.0)]
    xy[30, 1] = 200.0  # one-frame detector flicker
    raw = analyze_trajectory(t, xy)
    smooth = analyze_trajectory(t, xy, params=AnalysisParams(smoothing="median"))
    assert raw.totals.max_speed > 5000
    assert smooth.totals.max_speed == pytest.approx(FPS, rel=1e-6)
    assert smooth.totals.distance == pytest.approx(59.0)
    assert smooth.parameters["smoothing"] == "median"
    assert smooth.parameters["smoothing_window"] == 5


def test_savgol_keeps_a_straight_line_and_does_not_bridge_gaps():
    t = uniform_time(2)
    xy = np.c_[np.linspace(0, 59, t.size), np.zeros(t.size)]
    xy[20:22] = np.nan
    r = analyze_trajectory(t, xy, params=AnalysisParams(smoothing="savgol", smoothing_window=7))
    assert r.totals.distance == pytest.approx(59.0)


# --- moving / immobile -------------------------------------------------------------------
def test_speed_exactly_at_threshold_is_moving_just_below_is_immobile():
    at = analyze_trajectory(*with_velocity(np.full(60, 2.0)))
    below = analyze_trajectory(*with_velocity(np.full(60, 1.99)))
    assert at.totals.time_immobile_s == 0.0
    assert below.totals.time_immobile_s == pytest.approx(below.totals.tracked_time_s)


@pytest.mark.parametrize(
    ("pause_frames", "immobile_s"),
    [(29, 0.0), (30, 1.0), (45, 1.5)],
    ids=["0.97 s pause is a dip: moving", "exactly 1 s: immobile", "1.5 s"],
)
def test_immobility_needs_the_minimum_duration(pause_frames, immobile_s):
    v = np.concatenate([np.full(30, 50.0), np.zeros(pause_frames), np.full(30, 50.0)])
    r = analyze_trajectory(*with_velocity(v))
    assert r.totals.time_immobile_s == pytest.approx(immobile_s)
    assert r.totals.time_moving_s + r.totals.time_immobile_s == pytest.approx(
        r.totals.tracked_time_s
    )


def test_immobility_thresholds_are_settable():
    v = np.concatenate([np.full(30, 50.0), np.full(15, 5.0), np.full(30, 50.0)])
    params = AnalysisParams(immobile_speed=10.0, min_immobile_s=0.5)
    r = analyze_trajectory(*with_velocity(v), params=params)
    assert r.totals.time_immobile_s == pytest.approx(0.5)
    assert r.parameters["immobile_speed"] == 10.0 and r.parameters["min_immobile_s"] == 0.5


def test_isolated_sample_has_no_speed_and_is_unclassified():
    t = uniform_time(3)
    xy = np.zeros((t.size, 2))
    xy[20:45] = np.nan
    xy[46:70] = np.nan  # frame 45 alone between two long gaps
    r = analyze_trajectory(t, xy)
    assert r.totals.time_unclassified_s == pytest.approx(DT)
    total = r.totals.time_moving_s + r.totals.time_immobile_s + r.totals.time_unclassified_s
    assert total == pytest.approx(r.totals.tracked_time_s)


# --- zones -------------------------------------------------------------------------------
def test_path_entering_three_times_has_three_entries_exits_and_bouts():
    t, xy = visits("oioioio")
    r = analyze_trajectory(t, xy, zones=[ZONE])
    z = r.totals.zones["zone"]
    assert (z.entries, z.exits) == (3, 3)
    assert z.time_s == pytest.approx(3.0)
    assert z.percent == pytest.approx(300 / 7)
    assert z.latency_s == pytest.approx(1.0)
    assert z.distance == pytest.approx(3 * 100.0)  # each exit step starts inside
    assert [b.entry_s for b in r.bouts] == pytest.approx([1.0, 3.0, 5.0])
    assert [b.exit_s for b in r.bouts] == pytest.approx([2.0, 4.0, 6.0])
    assert [b.duration_s for b in r.bouts] == pytest.approx([1.0, 1.0, 1.0])


def test_inside_at_start_is_a_visit_but_an_entry_only_when_asked():
    t, xy = visits("ioioi")
    default = analyze_trajectory(t, xy, zones=[ZONE]).totals.zones["zone"]
    assert (default.entries, default.exits) == (2, 2)
    assert default.latency_s == pytest.approx(2.0)
    r = analyze_trajectory(t, xy, zones=[ZONE], params=AnalysisParams(count_initial_entry=True))
    counted = r.totals.zones["zone"]
    assert (counted.entries, counted.exits, counted.latency_s) == (3, 2, 0.0)
    assert r.bouts[0].starts_at_window_start and r.bouts[-1].ends_at_window_end
    assert r.bouts[-1].exit_s is None


def test_animal_that_never_enters_has_no_latency():
    t, xy = visits("ooo")
    z = analyze_trajectory(t, xy, zones=[ZONE]).totals.zones["zone"]
    assert z.latency_s is None and z.entries == 0 and z.time_s == 0.0
    assert z.mean_speed is None


def test_missing_frames_inside_a_visit_do_not_split_it_and_add_no_time():
    t, xy = visits("oio")
    xy[40:45] = np.nan
    r = analyze_trajectory(t, xy, zones=[ZONE])
    z = r.totals.zones["zone"]
    assert (z.entries, z.exits) == (1, 1)
    assert z.time_s == pytest.approx(1.0 - 5 / FPS)
    assert r.totals.untracked_time_s == pytest.approx(5 / FPS)


def test_box_overlap_membership_counts_a_box_half_inside():
    t = uniform_time(1)
    xy = np.tile([95.0, 50.0], (t.size, 1))  # centre outside x >= 100
    boxes = np.tile([85.0, 40.0, 105.0, 60.0], (t.size, 1))  # 25 % inside
    centre = analyze_trajectory(t, xy, boxes=boxes, zones=[ZONE])
    assert centre.totals.zones["zone"].time_s == 0.0
    quarter = AnalysisParams(membership="box", box_overlap=0.25)
    r = analyze_trajectory(t, xy, boxes=boxes, zones=[ZONE], params=quarter)
    assert r.totals.zones["zone"].time_s == pytest.approx(1.0)
    half = analyze_trajectory(
        t, xy, boxes=boxes, zones=[ZONE], params=AnalysisParams(membership="box")
    )
    assert half.totals.zones["zone"].time_s == 0.0


def test_unions_measure_open_arms_together():
    zones = elevated_plus_maze(RectZone("maze", 0, 0, 300, 300), arm_width=60)
    # West open arm -> centre -> east open arm: two entries into the union.
    path = polyline([(20, 150), (150, 150), (280, 150)], 60)
    t = np.arange(len(path)) / FPS
    params = AnalysisParams(unions=EPM_UNIONS, count_initial_entry=True)
    r = analyze_trajectory(t, path, zones=zones, params=params)
    z = r.totals.zones
    assert z["open_arms"].entries == 2
    assert z["open_arms"].time_s == pytest.approx(z["open_arm_1"].time_s + z["open_arm_2"].time_s)
    assert z["closed_arms"].time_s == 0.0


def test_freezing_mask_adds_time_freezing():
    t = uniform_time(2)
    xy = np.zeros((t.size, 2))
    mask = np.zeros(t.size, dtype=bool)
    mask[:30] = True
    r = analyze_trajectory(t, xy, freezing=mask)
    assert r.totals.time_freezing_s == pytest.approx(1.0)
    assert "time_freezing_s" in r.totals.flat()
    assert "time_freezing_s" not in analyze_trajectory(t, xy).totals.flat()


# --- window and bins ---------------------------------------------------------------------
def test_window_and_bins_partition_the_measures():
    xy = np.c_[np.arange(300.0), np.zeros(300)]
    t = np.arange(300) / FPS  # 10 s, 1 px per frame
    params = AnalysisParams(start_s=2.0, end_s=8.0, bin_s=2.5)
    r = analyze_trajectory(t, xy, zones=[RectZone("right", 150, 0, 150, 10)], params=params)
    assert r.totals.analysed_time_s == pytest.approx(6.0)
    assert [b.start_s for b in r.bins] == pytest.approx([2.0, 4.5, 7.0])
    assert [b.end_s for b in r.bins] == pytest.approx([4.5, 7.0, 8.0])
    assert [b.analysed_time_s for b in r.bins] == pytest.approx([2.5, 2.5, 1.0])
    assert sum(b.distance for b in r.bins) == pytest.approx(r.totals.distance)
    assert r.totals.distance == pytest.approx(179.0)  # frames 60..239, steps inside window
    z = [b.zones["right"] for b in r.bins]
    assert sum(zb.entries for zb in z) == r.totals.zones["right"].entries == 1
    assert r.totals.zones["right"].latency_s == pytest.approx(3.0)  # x=150 at t=5 s
    assert z[1].latency_s == pytest.approx(0.5)  # from the bin start 4.5 s
    assert z[0].latency_s is None


def test_rounded_container_timestamps_keep_each_frame_in_its_own_bin():
    # The shared recording's timestamps step by 0.033333 s: frame 900 is at 29.9997 s.
    t = np.round(np.arange(1800) * 0.033333, 6)
    xy = np.c_[np.arange(1800.0), np.zeros(1800)]
    r = analyze_trajectory(t, xy, params=AnalysisParams(bin_s=30))
    assert [round(b.tracked_time_s / 0.033333) for b in r.bins] == [900, 900]
    assert r.bins[0].distance == pytest.approx(900.0)  # steps of frames 0..899
    assert sum(b.tracked_time_s for b in r.bins) == pytest.approx(r.totals.tracked_time_s)


def test_window_start_between_frames_drops_the_straddling_frame():
    t = uniform_time(1)
    r = analyze_trajectory(t, np.zeros((t.size, 2)), params=AnalysisParams(start_s=0.01))
    assert r.totals.analysed_time_s == pytest.approx(1.0 - DT)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (AnalysisParams(end_s=12.0), "end_s"),
        (AnalysisParams(start_s=10.5), "start_s"),
        (AnalysisParams(start_s=5.0, end_s=4.0), "end_s"),
        (AnalysisParams(start_s=float("nan")), "start_s"),
        (AnalysisParams(max_gap_s=0), "max_gap_s"),
        (AnalysisParams(immobile_speed=-1), "immobile_speed"),
        (AnalysisParams(min_immobile_s=float("inf")), "min_immobile_s"),
        (AnalysisParams(bin_s=0), "bin_s"),
        (AnalysisParams(bin_s=1e-4), "bin_s"),
        (AnalysisParams(smoothing="gauss"), "smoothing"),
        (AnalysisParams(smoothing="median", smoothing_window=4), "smoothing_window"),
        (AnalysisParams(smoothing="savgol", savgol_polyorder=5), "savgol_polyorder"),
        (AnalysisParams(membership="head"), "membership"),
        (AnalysisParams(box_overlap=0), "box_overlap"),
        (AnalysisParams(membership="box"), "boxes"),
        (AnalysisParams(unions={"u": ["nope"]}), "unions.u"),
        (AnalysisParams(unions={"zone": ["zone"]}), "unions.zone"),
        (AnalysisParams(count_initial_entry="yes"), "count_initial_entry"),
    ],
)
def test_bad_parameters_name_the_field(params, field):
    t = uniform_time(10)
    with pytest.raises(BehaviorInputError) as exc:
        analyze_trajectory(t, np.zeros((t.size, 2)), zones=[ZONE], params=params)
    assert exc.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"time_s": np.array([0.0, 0.1, 0.1])}, "time_s"),
        ({"time_s": np.array([0.0, np.nan, 0.2])}, "time_s"),
        ({"time_s": np.array([])}, "time_s"),
        ({"xy": np.zeros((3, 3))}, "xy"),
        ({"xy": np.array([[0, 0], [np.inf, 0], [0, 0]])}, "xy"),
        ({"boxes": np.array([[0, 0, 1, 1], [5, 0, 1, 1], [0, 0, 1, 1]])}, "boxes"),
        ({"boxes": np.zeros((2, 4))}, "boxes"),
        ({"freezing": np.zeros(3)}, "freezing"),
    ],
)
def test_bad_arrays_name_the_field(kwargs, field):
    args = {"time_s": np.array([0.0, 0.1, 0.2]), "xy": np.zeros((3, 2)), **kwargs}
    with pytest.raises(BehaviorInputError) as exc:
        analyze_trajectory(args.pop("time_s"), args.pop("xy"), **args)
    assert exc.value.field == field


def test_parameters_echo_every_setting():
    t = uniform_time(1)
    r = analyze_trajectory(t, np.zeros((t.size, 2)), zones=[ZONE])
    for key in (
        "start_s",
        "end_s",
        "max_gap_s",
        "immobile_speed",
        "min_immobile_s",
        "count_initial_entry",
        "membership",
        "box_overlap",
        "smoothing",
        "bin_s",
        "window_start_s",
        "window_end_s",
        "zones",
    ):
        assert key in r.parameters
    assert r.parameters["zones"] == [ZONE.to_json()]


def test_a_centre_jittering_across_a_border_is_one_visit_with_a_minimum_bout():
    """Four frames in, four out, ... at a zone's border (tracking jitter): without a minimum
    bout that is dozens of entries; with 0.2 s it is one visit, and the time in the zone
    still counts every frame inside."""
    from behavior.core.measures import debounce

    t = uniform_time(4.0)  # 120 frames at 30 fps
    zone = [RectZone("centre", 100, 0, 100, 100)]
    x = np.full(t.size, 50.0)  # outside for 1 s, then 2 s jittering at x = 100, then inside
    x[30:90] = np.where((np.arange(60) // 4) % 2 == 0, 101.0, 99.0)
    x[90:] = 150.0
    xy = np.column_stack([x, np.full(t.size, 50.0)])
    raw = analyze_trajectory(t, xy, zones=zone, params=AnalysisParams(min_bout_s=0.0))
    calm = analyze_trajectory(t, xy, zones=zone, params=AnalysisParams(min_bout_s=0.2))
    assert raw.totals.zones["centre"].entries == 8
    assert calm.totals.zones["centre"].entries == 1 and calm.totals.zones["centre"].exits == 0
    assert calm.totals.zones["centre"].time_s == raw.totals.zones["centre"].time_s
    assert [b.zone for b in calm.bouts] == ["centre"]
    # The entry is the first frame of the first stay inside that lasts (frame 86: its last
    # four jittering frames run on into the steady stay); the latency follows it.
    assert calm.bouts[0].entry_s == pytest.approx(86 / 30)
    assert calm.totals.zones["centre"].latency_s == pytest.approx(86 / 30)
    # A stay of exactly min_bout_s counts.
    m = np.array([0, 0, 0, 1, 1, 1, 0, 0, 0], dtype=bool)
    assert debounce(m, np.full(9, 0.1), 0.3).tolist() == m.tolist()
    assert not debounce(m, np.full(9, 0.1), 0.31).any()


@pytest.mark.parametrize("value", [-1, 61, float("nan")])
def test_bad_minimum_bouts_name_the_field(value):
    with pytest.raises(BehaviorInputError) as exc:
        AnalysisParams(min_bout_s=value).checked()
    assert exc.value.field == "min_bout_s"
