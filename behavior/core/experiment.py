"""The stats-ready experiment table, group summaries, CSV/XLSX writers and group plots.

Table: one row per video × animal (× time bin when ``by_bin``), columns in this order —
metadata (``video, animal, subject_id, group, session, notes``), ``bin, bin_start_s,
bin_end_s`` when binned (``bin`` numbered from 1, as the pages number them; start and end
in seconds of container time), ``units``, every measure of :meth:`.measures.Measures.flat`
(zones flattened as ``zone:<name>:<measure>``), then the trust figures passed in as
``trust:<name>``. A value that does not exist (latency when never entered, a zone another
video lacks) is empty (NaN), so every measure column is numeric. Rows in different units
(cm and px) are refused: they cannot be compared.

Summary: per group (and bin) and measure: ``n`` (rows with a value), ``mean``, ``sd``
(n − 1) and ``sem = sd / sqrt(n)`` (NaN when n < 2).

Files: CSV (UTF-8, no index) and XLSX (openpyxl) read back with ``pandas.read_csv`` /
``pandas.read_excel`` with the same columns and numeric types. Text cells that a
spreadsheet would run as a formula (starting with ``= + - @``, tab or CR) get a leading
apostrophe (the OWASP CSV-injection advice): a note is text, never a formula.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .errors import BehaviorInputError
from .measures import AnimalResult

META_COLUMNS = ["video", "animal", "subject_id", "group", "session", "notes"]
BIN_COLUMNS = ["bin", "bin_start_s", "bin_end_s"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Subject:
    """Who a result row is about; ``trust``: figures from the tracking run (e.g. share of
    frames detected, identity swaps suspected), each becomes a ``trust:<name>`` column."""

    video: str
    animal: str | int
    subject_id: str = ""
    group: str = ""
    session: str = ""
    notes: str = ""
    trust: Mapping[str, float] = field(default_factory=dict)


def experiment_table(
    rows: Sequence[tuple[Subject, AnimalResult]], *, by_bin: bool = False
) -> pd.DataFrame:
    """The table described in the module docstring."""
    units = {result.units for _, result in rows}
    if len(units) > 1:
        raise BehaviorInputError(
            "units", f"rows mix units {sorted(units)}; calibrate every video or none"
        )
    records = []
    for subject, result in rows:
        meta = {
            "video": subject.video,
            "animal": subject.animal,
            "subject_id": subject.subject_id,
            "group": subject.group,
            "session": subject.session,
            "notes": subject.notes,
        }
        trust = {f"trust:{k}": _number_or_nan(v) for k, v in subject.trust.items()}
        spans = list(enumerate(result.bins, start=1)) if by_bin else [(None, result.totals)]
        if by_bin and not result.bins:
            raise BehaviorInputError("by_bin", f"{subject.video}/{subject.animal} has no bins")
        for k, m in spans:
            rec = dict(meta)
            if by_bin:
                rec.update({"bin": k, "bin_start_s": m.start_s, "bin_end_s": m.end_s})
            rec["units"] = result.units
            rec.update({key: _number_or_nan(v) for key, v in m.flat().items()})
            rec.update(trust)
            records.append(rec)
    df = pd.DataFrame.from_records(records)
    if df.empty:
        return pd.DataFrame(columns=META_COLUMNS + (BIN_COLUMNS if by_bin else []) + ["units"])
    fixed = META_COLUMNS + (BIN_COLUMNS if by_bin else []) + ["units"]
    measures = [c for c in df.columns if c not in fixed and not c.startswith("trust:")]
    trust_cols = [c for c in df.columns if c.startswith("trust:")]
    df = df[fixed + measures + trust_cols]
    for col in measures + trust_cols:
        df[col] = pd.to_numeric(df[col]).astype("float64")
    return df


def measure_columns(df: pd.DataFrame) -> list[str]:
    """The measure columns of an experiment table (not metadata, bins, units or trust)."""
    fixed = set(META_COLUMNS + BIN_COLUMNS + ["units"])
    return [c for c in df.columns if c not in fixed and not str(c).startswith("trust:")]


def group_summary(df: pd.DataFrame, measures: Sequence[str] | None = None) -> pd.DataFrame:
    """Long table: ``group, [bin,] measure, n, mean, sd, sem`` (see module docs)."""
    measures = list(measures) if measures is not None else measure_columns(df)
    keys = ["group"] + (["bin"] if "bin" in df.columns else [])
    out = []
    for key, part in df.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        for measure in measures:
            values = pd.to_numeric(part[measure], errors="coerce").dropna().to_numpy(float)
            n = int(values.size)
            sd = float(np.std(values, ddof=1)) if n >= 2 else math.nan
            out.append(
                {
                    **dict(zip(keys, key, strict=True)),
                    "measure": measure,
                    "n": n,
                    "mean": float(values.mean()) if n else math.nan,
                    "sd": sd,
                    "sem": sd / math.sqrt(n) if n >= 2 else math.nan,
                }
            )
    return pd.DataFrame(out, columns=keys + ["measure", "n", "mean", "sd", "sem"])


def _number_or_nan(value) -> float:
    if value is None:
        return math.nan
    return float(value)


def _defuse(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
            )
    return out


def write_csv(df: pd.DataFrame, target: str | Path | IO[str]) -> None:
    """CSV, UTF-8, no index, empty for a missing value."""
    _defuse(df).to_csv(target, index=False)


def write_xlsx(sheets: Mapping[str, pd.DataFrame], target: str | Path | IO[bytes]) -> None:
    """One sheet per table (names cut to Excel's 31 characters), no index."""
    names = [name[:31] for name in sheets]
    if len(set(names)) != len(names):
        raise BehaviorInputError("sheets", "sheet names must differ in their first 31 characters")
    with pd.ExcelWriter(target, engine="openpyxl") as writer:
        for name, df in zip(names, sheets.values(), strict=True):
            _defuse(df).to_excel(writer, sheet_name=name, index=False)


def measure_unit(measure: str, units: str) -> str:
    """The unit of a measure column: ``units`` (cm or px) for distances, per second for
    speeds, s for times and latencies, % for percent, count for entries and exits."""
    name = measure.rsplit(":", 1)[-1]
    if "speed" in name:
        return f"{units}/s"
    if name == "percent":
        return "%"
    if name in ("entries", "exits") or name.endswith("_count"):
        return "count"
    if name.endswith("_s"):
        return "s"
    if "distance" in name:
        return units
    return ""


def group_plot_png(df: pd.DataFrame, measure: str, **kwargs) -> bytes:
    """:func:`group_plot_figure` as PNG bytes."""
    fig = group_plot_figure(df, measure, **kwargs)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def group_plot_figure(
    df: pd.DataFrame,
    measure: str,
    *,
    kind: Literal["bar", "box"] = "bar",
    title: str | None = None,
) -> Figure:
    """One measure by group: ``bar`` = mean ± SEM with each animal as a dot, ``box`` =
    median/quartiles (whiskers 1.5 IQR) with the dots; the axis names the unit."""
    if measure not in df.columns:
        raise BehaviorInputError("measure", f"no column {measure!r}")
    if kind not in ("bar", "box"):
        raise BehaviorInputError("kind", f"must be 'bar' or 'box', got {kind!r}")
    groups = sorted(df["group"].fillna("").astype(str).unique())
    data = [
        pd.to_numeric(df.loc[df["group"].fillna("").astype(str) == g, measure], errors="coerce")
        .dropna()
        .to_numpy(float)
        for g in groups
    ]
    fig = Figure(figsize=(max(3.5, 1.2 * len(groups) + 2), 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    pos = np.arange(len(groups))
    if kind == "bar":
        means = [v.mean() if v.size else np.nan for v in data]
        sems = [v.std(ddof=1) / math.sqrt(v.size) if v.size >= 2 else 0.0 for v in data]
        ax.bar(pos, means, yerr=sems, capsize=4, color="#9ecae1", edgecolor="#3182bd")
    elif any(v.size for v in data):
        ax.boxplot([v if v.size else [np.nan] for v in data], positions=pos, widths=0.5)
    for p, v in zip(pos, data, strict=True):
        # Dots spread evenly (not randomly) so the figure is reproducible.
        offsets = np.linspace(-0.15, 0.15, v.size) if v.size > 1 else np.zeros(v.size)
        ax.scatter(p + offsets, v, s=14, color="black", zorder=3)
    ax.set_xticks(pos, [g or "(no group)" for g in groups])
    units = (
        str(df["units"].dropna().iloc[0]) if "units" in df and df["units"].notna().any() else "px"
    )
    unit = measure_unit(measure, units)
    ax.set_ylabel(f"{measure} ({unit})" if unit else measure)
    ax.set_title(title or measure)
    return fig
