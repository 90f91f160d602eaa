"""Rules on plain positions, online identities and the set-up's checks (no database)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tracking.live.config import SetupError, parse_setup
from tracking.live.identity import OnlineIdentity
from tracking.live.rules import NO_DATA, Rule, RuleEngine, zone_rules

from .helpers import LEFT_RIGHT_ZONES

NAN = [math.nan, math.nan]


def _zones():
    return parse_setup(LEFT_RIGHT_ZONES, frame_size=(320, 240), n_animals=1).zones


def _run(engine, xs, dt=0.1, y=120.0):
    out = []
    for k, x in enumerate(xs):
        pos = [NAN] if x is None else [[x, y]]
        out.append(engine.step(k, k * dt, np.array(pos)))
    return out


def test_zone_entries_and_exits_are_edges_and_the_start_is_not_an_entry():
    engine = RuleEngine(zone_rules(["left", "right"]), _zones(), n_animals=1)
    events = _run(engine, [50, 100, 200, 250, 100, 100])
    kinds = [(e.kind, e.zone, e.frame) for frame in events for e in frame]
    assert kinds == [
        ("zone_exit", "left", 2),
        ("zone_entry", "right", 2),
        ("zone_exit", "right", 4),
        ("zone_entry", "left", 4),
    ]


def test_lost_tracking_is_no_data_never_an_exit():
    engine = RuleEngine(zone_rules(["left", "right"]), _zones(), n_animals=1)
    events = _run(engine, [50, 60, None, None, 70, 250])
    flat = [(e.kind, e.zone, e.frame) for frame in events for e in frame]
    assert flat == [
        (NO_DATA, None, 2),  # once, not per frame
        ("data_back", None, 4),
        ("zone_exit", "left", 5),
        ("zone_entry", "right", 5),
    ]
    # Lost in the left half, found in the right: one exit and one entry, as offline.
    engine = RuleEngine(zone_rules(["left", "right"]), _zones(), n_animals=1)
    flat = [(e.kind, e.zone) for f in _run(engine, [50, None, 250]) for e in f]
    assert flat == [(NO_DATA, None), ("data_back", None), ("zone_exit", "left"),
                    ("zone_entry", "right")]  # fmt: skip


def test_time_in_zone_fires_once_per_visit():
    rule = Rule(name="long", kind="time_in_zone", zone="right", seconds=0.25)
    engine = RuleEngine([rule], _zones(), n_animals=1)
    events = _run(engine, [50, 200, 200, 200, 200, 200, 50, 200, 200, 200, 200])
    fired = [e.frame for frame in events for e in frame]
    assert fired == [4, 10]  # 0.3 s into each visit (frames 1-5, then 7-10)


def test_immobility_and_speed_need_the_condition_held():
    still = Rule(name="still", kind="speed_below", threshold=5.0, for_s=0.3)
    fast = Rule(name="fast", kind="speed_above", threshold=100.0)
    engine = RuleEngine([still, fast], _zones(), n_animals=1, speed_window_s=0.1)
    xs = [50, 50, 50, 50, 50, 50, 80, 110, 110, 110, 110, 110]
    events = _run(engine, xs)
    got = [(e.rule, e.frame) for frame in events for e in frame]
    # still from frame 1 (first speed), held 0.3 s at frame 4; fast at 300 px/s at frame 6.
    assert got[0] == ("still", 4) and ("fast", 6) in got
    assert ("still", 11) in got  # stopped at frame 7 (speed 0 from frame 8), held at frame 11


def test_distance_from_a_point_uses_the_calibration():
    near = Rule(name="near", kind="distance_below", point=(100.0, 120.0), distance=2.0)
    engine = RuleEngine([near], _zones(), n_animals=1, px_per_cm=10.0)
    events = _run(engine, [200, 130, 115, 110, 200, 105])
    got = [(e.frame, e.value) for frame in events for e in frame]
    assert got == [(2, 1.5), (5, 0.5)]  # within 2 cm = 20 px; once per approach


def test_rules_for_one_animal_ignore_the_other():
    rule = Rule(name="two in", kind="zone_entry", zone="right", animal=2)
    engine = RuleEngine([rule], _zones(), n_animals=2)
    engine.step(0, 0.0, np.array([[50, 120], [50, 60]]))
    events = engine.step(1, 0.1, np.array([[250, 120], [50, 60]]))
    assert events == []
    events = engine.step(2, 0.2, np.array([[250, 120], [250, 60]]))
    assert [(e.kind, e.animal) for e in events] == [("zone_entry", 2)]


def test_online_identity_follows_positions_not_the_detection_order():
    ids = OnlineIdentity(2)
    a = np.array([10, 10, 30, 30], np.float32)
    b = np.array([200, 100, 220, 120], np.float32)
    first = ids.assign(np.stack([a, b]), np.array([0.9, 0.8]))
    assert np.allclose(first[0], a) and np.allclose(first[1], b)
    moved = ids.assign(np.stack([b + 3, a + 3]), np.array([0.95, 0.7]))  # listed the other way
    assert np.allclose(moved[0], a + 3) and np.allclose(moved[1], b + 3)
    only_b = ids.assign((b + 6)[None], np.array([0.9]))
    assert np.isnan(only_b[0]).all() and np.allclose(only_b[1], b + 6)
    back = ids.assign(np.stack([b + 6, a + 6]), np.array([0.9, 0.9]))
    assert np.allclose(back[0], a + 6)


def test_the_setup_refuses_zones_off_the_frame_and_rules_on_unknown_zones():
    with pytest.raises(SetupError) as err:
        parse_setup(
            [{"name": "out", "shape": "rect", "x": 300, "y": 0, "w": 100, "h": 10}],
            frame_size=(320, 240),
            n_animals=1,
        )
    assert err.value.field.startswith("zones[0]")
    with pytest.raises(SetupError) as err:
        parse_setup(
            {"zones": LEFT_RIGHT_ZONES, "rules": [{"kind": "zone_entry", "zone": "centre"}]},
            frame_size=(320, 240),
            n_animals=1,
        )
    assert err.value.field == "rules[0].zone" and "centre" in err.value.reason
    for rules, field in [
        ([{"kind": "teleport"}], "rules[0].kind"),
        ([{"kind": "speed_above", "threshold": math.inf}], "rules[0].threshold"),
        ([{"kind": "zone_exit", "zone": "left", "animal": 3}], "rules[0].animal"),
        ([{"kind": "zone_exit", "zone": "left", "output": "ttl"}], "rules[0].output"),
    ]:
        with pytest.raises(SetupError) as err:
            parse_setup({"zones": LEFT_RIGHT_ZONES, "rules": rules}, frame_size=(320, 240),
                        n_animals=2)  # fmt: skip
        assert err.value.field == field


def test_zones_alone_make_entry_and_exit_rules_and_outputs_are_named():
    setup = parse_setup(
        {"zones": LEFT_RIGHT_ZONES, "outputs": [{"kind": "serial", "port": "loop://"}]},
        frame_size=(320, 240),
        n_animals=1,
    )
    assert [r.kind for r in setup.rules] == ["zone_entry", "zone_exit"] * 2
    assert setup.outputs == [{"kind": "serial", "port": "loop://", "name": "output 1"}]
