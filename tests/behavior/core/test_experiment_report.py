"""The experiment table, group summary, CSV/XLSX round trips, plots and the run JSON."""

from __future__ import annotations

import ast
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from behavior.core import (
    AnalysisParams,
    BehaviorInputError,
    Calibration,
    RectZone,
    analyze_run,
    analyze_trajectory,
    behavior_json,
    tracks_from_trajectory,
)
from behavior.core.experiment import (
    Subject,
    experiment_table,
    group_plot_png,
    group_summary,
    write_csv,
    write_xlsx,
)
from tests.behavior.core.helpers import uniform_time
from tracking.engine.trajectory import Status, Trajectory

PACKAGE = Path(__file__).resolve().parents[3] / "tracking" / "behavior"
ZONES = [RectZone("left", 0, 0, 320, 480), RectZone("right", 320, 0, 320, 480)]


def result(speed_px_s: float, *, bin_s=None, cal=Calibration(10.0), animal=1):
    t = uniform_time(6)
    x = 100 + speed_px_s * t
    return analyze_trajectory(
        t,
        np.c_[x, np.full(t.size, 200.0)],
        zones=ZONES,
        calibration=cal,
        params=AnalysisParams(bin_s=bin_s),
        animal=animal,
    )


def rows(bin_s=None):
    return [
        (
            Subject("v1.mp4", 1, "M1", "control", "day1", "ok", {"detected": 0.99}),
            result(30, bin_s=bin_s),
        ),
        (
            Subject("v1.mp4", 2, "M2", "control", "day1", "ok", {"detected": 0.95}),
            result(50, bin_s=bin_s),
        ),
        (
            Subject("v2.mp4", 1, "M3", "drug", "day1", "=cmd|' /C calc'!A0", {"detected": 0.9}),
            result(10, bin_s=bin_s),
        ),
    ]


def test_table_has_metadata_measures_flattened_zones_and_trust():
    df = experiment_table(rows())
    assert list(df.columns[:7]) == [
        "video",
        "animal",
        "subject_id",
        "group",
        "session",
        "notes",
        "units",
    ]
    assert "zone:left:time_s" in df.columns and "zone:right:latency_s" in df.columns
    assert df.columns[-1] == "trust:detected"
    # 6 s at 30 fps: 179 steps of speed/30 px each, at 10 px/cm.
    assert df["distance"].tolist() == pytest.approx([v * 179 / 30 / 10 for v in (30, 50, 10)])
    assert math.isnan(df.loc[2, "zone:right:latency_s"])  # never reached x = 320
    assert df["zone:left:entries"].dtype == np.float64


def test_binned_table_has_one_row_per_bin():
    df = experiment_table(rows(bin_s=2.0), by_bin=True)
    assert len(df) == 9 and df["bin"].tolist() == [1, 2, 3] * 3  # 1-based, as the pages
    assert df.groupby("subject_id")["distance"].sum().to_dict() == pytest.approx(
        experiment_table(rows()).set_index("subject_id")["distance"].to_dict()
    )
    summary = group_summary(df, ["distance"])
    assert list(summary.columns) == ["group", "bin", "measure", "n", "mean", "sd", "sem"]
    assert len(summary) == 6


def test_group_summary_mean_sem_and_n():
    df = experiment_table(rows())
    s = group_summary(df).set_index(["group", "measure"])
    d = df.loc[df.group == "control", "distance"].to_numpy()
    ctrl = s.loc[("control", "distance")]
    assert ctrl["n"] == 2 and ctrl["mean"] == pytest.approx(d.mean())
    assert ctrl["sem"] == pytest.approx(np.std(d, ddof=1) / math.sqrt(2))
    assert math.isnan(s.loc[("drug", "distance"), "sem"])
    assert s.loc[("drug", "zone:right:latency_s"), "n"] == 0


def test_csv_and_xlsx_read_back_without_conversion(tmp_path):
    df = experiment_table(rows())
    buf = io.StringIO()
    write_csv(df, buf)
    back = pd.read_csv(io.StringIO(buf.getvalue()))
    xlsx = tmp_path / "experiment.xlsx"
    write_xlsx({"animals": df, "summary": group_summary(df)}, xlsx)
    sheets = pd.read_excel(xlsx, sheet_name=None)
    assert set(sheets) == {"animals", "summary"}
    for read in (back, sheets["animals"]):
        assert list(read.columns) == list(df.columns)
        expected = df.copy()
        expected.loc[2, "notes"] = "'" + df.loc[2, "notes"]  # a formula stays text
        pd.testing.assert_frame_equal(read, expected, check_dtype=False)
        for col in df.columns[6:]:
            if col != "units":
                assert pd.api.types.is_float_dtype(read[col]) or pd.api.types.is_integer_dtype(
                    read[col]
                )
    from openpyxl import load_workbook

    cell = load_workbook(xlsx)["animals"]["F4"]
    assert cell.data_type == "s"


def test_mixed_units_are_refused():
    mixed = rows()[:1] + [(Subject("v3", 1), result(10, cal=Calibration()))]
    with pytest.raises(BehaviorInputError) as exc:
        experiment_table(mixed)
    assert exc.value.field == "units"


def test_group_plots_are_png():
    df = experiment_table(rows())
    for kind in ("bar", "box"):
        assert group_plot_png(df, "distance", kind=kind).startswith(b"\x89PNG")
    with pytest.raises(BehaviorInputError) as exc:
        group_plot_png(df, "nope")
    assert exc.value.field == "measure"


def test_run_json_shape_from_an_engine_trajectory():
    f, n = 90, 2
    t = uniform_time(3)
    boxes = np.full((f, n, 4), np.nan, dtype=np.float32)
    boxes[:, 0] = np.c_[
        np.linspace(10, 100, f), np.full(f, 10), np.linspace(30, 120, f), np.full(f, 30)
    ]
    boxes[:60, 1] = [400, 400, 420, 420]
    traj = Trajectory(
        frames=np.arange(f),
        time_s=t,
        boxes=boxes,
        confidence=np.ones((f, n), dtype=np.float32),
        status=np.full((f, n), Status.DETECTED, dtype=np.int8),
    )
    time_s, tracks = tracks_from_trajectory(traj)
    results = analyze_run(time_s, tracks, zones=ZONES, params=AnalysisParams(bin_s=1.0))
    out = behavior_json("run-7", results)
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text) == out
    assert set(out) == {"run", "units", "fps", "animals", "parameters"}
    assert out["run"] == "run-7" and out["units"] == "px" and out["fps"] == pytest.approx(30)
    a1, a2 = out["animals"]
    assert a1["animal"] == 1 and a2["animal"] == 2
    for key in ("distance", "mean_speed", "time_moving_s", "time_immobile_s", "zones", "bins"):
        assert key in a1
    assert set(a1["zones"]["left"]) == {"time_s", "entries", "exits", "latency_s", "distance"}
    assert a1["distance"] == pytest.approx(90 * 89 / 89, rel=1e-6)
    assert a2["zones"]["left"]["latency_s"] is None and a2["untracked_time_s"] == pytest.approx(1.0)
    assert len(a1["bins"]) == 3 and a1["bins"][0]["start_s"] == 0.0
    assert out["parameters"]["max_gap_s"] == 0.5
    assert behavior_json("empty", [])["animals"] == []


def test_the_package_never_imports_django():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] in {"django", "rest_framework"} for n in names), path
    code = "import sys, behavior.core; sys.exit(any(m.startswith('django') for m in sys.modules))"
    root = PACKAGE.parents[1]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0


@pytest.mark.parametrize(
    ("measure", "label"),
    [
        ("distance", "distance (cm)"),
        ("mean_speed", "mean_speed (cm/s)"),
        ("time_moving_s", "time_moving_s (s)"),
        ("zone:centre:entries", "zone:centre:entries (count)"),
        ("zone:centre:percent", "zone:centre:percent (%)"),
    ],
)
def test_the_group_plot_axis_names_the_unit(measure, label):
    from behavior.core.experiment import group_plot_figure

    df = pd.DataFrame({"group": ["a", "b"], "units": ["cm", "cm"], measure: [1.0, 2.0]})
    assert group_plot_figure(df, measure).axes[0].get_ylabel() == label
