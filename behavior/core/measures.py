"""Locomotion and zone measures of one animal's trajectory, whole window and per time bin.

Input (plain arrays, so this does not depend on the engine's types):

* ``time_s``: float64 (F,) container timestamps (see :mod:`.timebase` for frame durations
  and the analysis window);
* ``xy``: float64 (F, 2) centres in original-video pixels, NaN where missing;
* ``boxes``: optional float64 (F, 4) ``x1, y1, x2, y2`` original-video pixels, NaN where
  missing (only used by box-overlap zone membership).

Definitions (distances in the output ``units``: cm when calibrated, else px):

* **Tracked sample**: an analysed frame with a finite position. Missing frames add no time
  to anything (not to any zone, not to moving/immobile); their time is ``untracked_time_s``.
  ``tracked_time_s + untracked_time_s == analysed_time_s``.
* **Step**: from one tracked sample to the next tracked sample in the window. It is
  *counted* when the two are at most ``max_gap_s`` apart (default 0.5 s); a step across a
  longer gap is not (we do not know the path). Its length is the straight-line distance, its
  speed length / time between the two samples. A step belongs to the sample it starts from
  (the frame whose duration it spans): its zone and its time bin.
* **Distance**: the sum of counted steps. **Mean speed**: distance / tracked time (None
  when nothing was tracked); a step bridging a short gap adds its length but the gap adds no
  tracked time, so gaps bias it up slightly — keep ``max_gap_s`` small. **Max speed**: the
  fastest counted step.
* **Speed of a sample**: its outgoing counted step's speed, else its incoming one's; a
  sample with neither (isolated between long gaps) has no speed and is ``unclassified``.
* **Immobile**: a sample whose speed is below ``immobile_speed`` (default 2 units/s: cm/s,
  or px/s when uncalibrated) inside an episode — consecutive such samples joined by counted
  steps — lasting at least ``min_immobile_s`` (default 1 s, summed sample durations).
  Shorter dips count as moving. **Moving**: every other sample with a speed.
  ``time_moving_s + time_immobile_s + time_unclassified_s == tracked_time_s``. Episodes are
  found over the whole window; bins then sum their share of each.
* **Zones** (membership: :func:`.zones.zone_membership`): time in zone = summed durations
  of tracked samples inside; ``percent`` = of the tracked time. Inside/outside is compared
  between consecutive tracked samples (missing frames are skipped, so inside → missing →
  inside is one visit). **Entry**: outside → inside, at the first inside sample's time;
  **exit**: inside → outside, at the first outside sample's time. Being inside at the
  window's first tracked sample is a visit but counts as an entry only with
  ``count_initial_entry`` (default False: EthoTrack's "first true entry"; ANY-maze by default
  scores the start position as an entry and has an option to wait for the first true one).
  So ``entries - exits`` is in {0, 1} with the option, {-1, 0, 1} without.
  **Latency**: time from the window (or bin) start to the first *counted* entry —
  with the option an animal inside from the start has latency 0 (if tracked from the first
  frame); None if no counted entry. **Bouts**: every visit (maximal run of inside samples)
  with entry time, exit time (None if still inside at the end), duration (tracked time inside)
  and whether the window cut it at the start or end. Zone distance / mean speed: the counted
  steps starting inside, and that over the time in zone.
* **Minimum bout** (``min_bout_s``; the project's default 0.2 s, 0 = off): a change of
  inside/outside counts only once the new side has lasted ``min_bout_s`` (summed tracked
  time); a shorter stay on the other side belongs to the side before. So a centre that
  jitters across a border (four frames in, four out, ...) is one visit, not dozens. It
  applies to entries, exits, latency and bouts; time in zone (and percent, zone distance)
  still counts every tracked sample inside, so zones that tile the arena still sum to the
  tracked time. EthoVision XT's "zone exit threshold" (a distance buffer at the border) and
  EthoTrack's entry/exit percentages (e.g. 70 % in, 50 % out) address the same spurious
  entries in space; a minimum duration does it in time and needs no calibration.
* **Unions** (``AnalysisParams.unions``, e.g. EPM open arms): a zone that is the union of
  named zones, measured from the union mask (so moving between two open arms through the
  centre is two entries, arm to adjacent arm directly is none).
* **Time bins** (``bin_s``): consecutive bins from the window start, the last possibly
  shorter. A sample belongs to the bin holding the middle of its frame (timestamp + half its
  duration), with its whole duration; an event (entry, exit) to the bin of its sample, so
  bins sum to the whole-window figures. (Not the bin of the timestamp itself: containers
  round timestamps, e.g. frame 900 of a 30 fps video at 29.9997 s, which would put 901
  frames in the first 30-s bin.) A bin's latency counts from the bin's start (0 for an entry
  whose frame began a hair before it).
* **Smoothing**: see :mod:`.smoothing`; when on, every measure uses the smoothed positions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np

from .calibration import Calibration
from .errors import BehaviorInputError, finite_number
from .smoothing import Smoothing, check_smoothing, smooth_positions
from .timebase import frame_durations, median_interval, resolve_window, validate_time
from .zones import MembershipMode, Zone, validate_zones, zone_membership

# Durations summed from float frame intervals (1/30 s ...) miss exact thresholds by ~1e-15.
_EPS = 1e-9
MAX_BINS = 10_000
# Bounds every analysis checks without the recording at hand (the project's saved settings
# and a request's query alike): window times from 0 to a week, bins of at least half a
# second (shorter ones are frame jitter, not behaviour, and a 1e-9 s bin asks for billions).
MAX_TIME_S = 7 * 24 * 3600.0
MIN_BIN_S = 0.5
MAX_MIN_BOUT_S = 60.0


# --- parameters --------------------------------------------------------------------------
@dataclass(frozen=True)
class AnalysisParams:
    """Every knob of the analysis; all are echoed in the results' ``parameters``."""

    start_s: float | None = None
    end_s: float | None = None
    max_gap_s: float = 0.5
    immobile_speed: float = 2.0  # output units per second (cm/s, or px/s uncalibrated)
    min_immobile_s: float = 1.0
    count_initial_entry: bool = False
    membership: MembershipMode = "centre"
    box_overlap: float = 0.5
    smoothing: Smoothing | None = None
    smoothing_window: int = 5  # frames, odd
    savgol_polyorder: int = 2
    bin_s: float | None = None
    min_bout_s: float = 0.0  # the core's default is off; projects default to 0.2 s
    unions: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def checked(self) -> AnalysisParams:
        """These parameters validated; BehaviorInputError naming the parameter."""
        for name in ("start_s", "end_s", "bin_s"):
            value = getattr(self, name)
            if value is not None and not 0 <= finite_number(value, name) <= MAX_TIME_S:
                raise BehaviorInputError(
                    name, f"must be from 0 to a week in seconds, got {value:g}"
                )
        if self.bin_s is not None and self.bin_s < MIN_BIN_S:
            raise BehaviorInputError(
                "bin_s", f"must be at least {MIN_BIN_S:g} s, got {self.bin_s:g}"
            )
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise BehaviorInputError(
                "end_s", f"must be after start_s ({self.start_s:g} s), got {self.end_s:g}"
            )
        if finite_number(self.max_gap_s, "max_gap_s") <= 0:
            raise BehaviorInputError("max_gap_s", f"must be > 0, got {self.max_gap_s:g}")
        if finite_number(self.immobile_speed, "immobile_speed") < 0:
            raise BehaviorInputError("immobile_speed", "must be >= 0")
        if finite_number(self.min_immobile_s, "min_immobile_s") < 0:
            raise BehaviorInputError("min_immobile_s", "must be >= 0")
        if not 0 <= finite_number(self.min_bout_s, "min_bout_s") <= MAX_MIN_BOUT_S:
            raise BehaviorInputError(
                "min_bout_s", f"must be from 0 to {MAX_MIN_BOUT_S:g} s, got {self.min_bout_s:g}"
            )
        if not isinstance(self.count_initial_entry, bool):
            raise BehaviorInputError("count_initial_entry", "must be true or false")
        if self.membership not in ("centre", "box"):
            raise BehaviorInputError(
                "membership", f"must be 'centre' or 'box', got {self.membership!r}"
            )
        overlap = finite_number(self.box_overlap, "box_overlap")
        if not 0 < overlap <= 1:
            raise BehaviorInputError("box_overlap", f"must be in (0, 1], got {overlap:g}")
        check_smoothing(self.smoothing, self.smoothing_window, self.savgol_polyorder)
        # Checked even while smoothing is off: a stored window of -7210 frames would
        # otherwise wait for the day someone turns smoothing on.
        check_smoothing("savgol", self.smoothing_window, self.savgol_polyorder)
        if not isinstance(self.unions, Mapping):
            raise BehaviorInputError("unions", "must map a union name to zone names")
        return self

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["unions"] = {k: list(v) for k, v in self.unions.items()}
        return out


# --- results -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Bout:
    """One visit to a zone; times are container timestamps (s)."""

    zone: str
    entry_s: float
    exit_s: float | None
    duration_s: float
    starts_at_window_start: bool
    ends_at_window_end: bool


@dataclass(frozen=True)
class ZoneMeasures:
    time_s: float
    percent: float | None
    entries: int
    exits: int
    latency_s: float | None
    distance: float
    mean_speed: float | None


@dataclass(frozen=True)
class Measures:
    """The measures over one span (the window, or one time bin). Times in s, distances in
    ``units``, speeds in ``units``/s."""

    start_s: float
    end_s: float
    analysed_time_s: float
    tracked_time_s: float
    untracked_time_s: float
    distance: float
    mean_speed: float | None
    max_speed: float | None
    time_moving_s: float
    time_immobile_s: float
    time_unclassified_s: float
    time_freezing_s: float | None
    zones: dict[str, ZoneMeasures]

    def flat(self) -> dict[str, float | int | None]:
        """One level, zones as ``zone:<name>:<measure>`` — the experiment table's columns."""
        out: dict[str, float | int | None] = {
            k: v for k, v in asdict(self).items() if k not in ("zones", "start_s", "end_s")
        }
        if self.time_freezing_s is None:
            del out["time_freezing_s"]
        for name, zm in self.zones.items():
            for key, value in asdict(zm).items():
                out[f"zone:{name}:{key}"] = value
        return out


@dataclass(frozen=True)
class AnimalResult:
    """Everything measured for one animal: ``totals`` over the window, ``bins`` (empty when
    no ``bin_s``), zone ``bouts``, and the ``parameters`` used."""

    animal: str | int
    units: Literal["cm", "px"]
    fps: float | None
    totals: Measures
    bins: list[Measures]
    bouts: list[Bout]
    parameters: dict[str, Any]


# --- the analysis ------------------------------------------------------------------------
def analyze_trajectory(
    time_s: np.ndarray,
    xy: np.ndarray,
    *,
    boxes: np.ndarray | None = None,
    zones: Sequence[Zone] = (),
    calibration: Calibration | None = None,
    params: AnalysisParams | None = None,
    animal: str | int = 1,
    freezing: np.ndarray | None = None,
) -> AnimalResult:
    """All measures for one animal (definitions: module docstring).

    ``freezing``: optional bool (F,) per-frame freezing (from :mod:`.freezing`); adds
    ``time_freezing_s``. Bad input raises BehaviorInputError naming the field.
    """
    calibration = calibration or Calibration()
    params = (params or AnalysisParams()).checked()
    t = validate_time(time_s)
    n = t.shape[0]
    pos = _array(xy, (n, 2), "xy")
    box = None if boxes is None else _boxes(boxes, n)
    if params.membership == "box" and box is None:
        raise BehaviorInputError("boxes", "box-overlap membership needs the boxes")
    fr = None
    if freezing is not None:
        fr = np.asarray(freezing)
        if fr.shape != (n,) or fr.dtype != bool:
            raise BehaviorInputError("freezing", f"must be a bool array of shape ({n},)")
    zones = list(zones)
    validate_zones(zones)
    unions = _unions(params.unions, zones)

    window = resolve_window(t, params.start_s, params.end_s)
    pos = smooth_positions(
        pos, params.smoothing, window=params.smoothing_window, polyorder=params.savgol_polyorder
    )
    scale = calibration.px_per_unit
    thr_px = params.immobile_speed * scale

    # Tracked samples of the window, in order; k indexes them.
    tracked = window.analysed & np.isfinite(pos).all(axis=1)
    idx = np.flatnonzero(tracked)
    tv, pv, dv = t[idx], pos[idx], window.duration[idx]
    k_n = idx.size
    step_dt = np.diff(tv)
    step_len = np.hypot(*np.diff(pv, axis=0).T) if k_n > 1 else np.zeros(0)
    counted = step_dt <= params.max_gap_s + _EPS
    # Outgoing step per sample (the last sample has none).
    out_len = np.zeros(k_n)
    out_ok = np.zeros(k_n, dtype=bool)
    out_speed = np.full(k_n, np.nan)
    out_len[:-1] = np.where(counted, step_len, 0.0)
    out_ok[:-1] = counted
    with np.errstate(divide="ignore", invalid="ignore"):
        out_speed[:-1] = np.where(counted, step_len / step_dt, np.nan)
    in_speed = np.full(k_n, np.nan)
    in_speed[1:] = out_speed[:-1]
    speed = np.where(out_ok, out_speed, in_speed)

    immobile = _immobile(speed, out_ok, dv, thr_px, params.min_immobile_s)
    has_speed = np.isfinite(speed)
    moving = has_speed & ~immobile

    members = zone_membership(
        zones, pos, boxes_xyxy=box, mode=params.membership, box_overlap=params.box_overlap
    )
    for name, parts in unions.items():
        members[name] = np.logical_or.reduce([members[p] for p in parts])
    inside = {name: m[idx] for name, m in members.items()}
    visits = {name: debounce(m, dv, params.min_bout_s) for name, m in inside.items()}

    # Bins: edges from the window start; the totals are the same reduction with one bin.
    if params.bin_s is None:
        edges = np.array([window.start_s, window.end_s])
    else:
        count = math.ceil((window.end_s - window.start_s) / params.bin_s - 1e-9)
        if count > MAX_BINS:
            raise BehaviorInputError("bin_s", f"gives {count} bins; at most {MAX_BINS}")
        edges = window.start_s + params.bin_s * np.arange(count + 1)
        edges[-1] = window.end_s
    mid = t + 0.5 * frame_durations(t)  # which bin a frame belongs to (module docs)
    ctx = _Context(
        edges=edges,
        all_bin=_bin_of(mid, edges),
        analysed=window.analysed,
        duration=window.duration,
        bin_k=_bin_of(mid[idx], edges),
        dv=dv,
        tv=tv,
        out_len=out_len,
        out_speed=out_speed,
        moving=moving,
        immobile=immobile,
        has_speed=has_speed,
        inside=inside,
        visits=visits,
        count_initial=params.count_initial_entry,
        scale=scale,
        freezing=fr,
    )
    per_bin = _reduce(ctx, len(edges) - 1)
    one = replace(ctx, edges=np.array([window.start_s, window.end_s]))
    one = replace(one, all_bin=np.zeros_like(ctx.all_bin), bin_k=np.zeros_like(ctx.bin_k))
    totals = _reduce(one, 1)[0]

    bouts = [b for name in visits for b in _bouts(name, visits[name], tv, dv)]
    parameters = {
        **params.as_dict(),
        "units": calibration.units,
        "px_per_cm": calibration.px_per_cm,
        "immobile_speed_px_per_s": thr_px,
        "median_frame_interval_s": median_interval(t),
        "window_start_s": window.start_s,
        "window_end_s": window.end_s,
        "recording_end_s": window.recording_end_s,
        "zones": [z.to_json() for z in zones],
    }
    mi = median_interval(t)
    return AnimalResult(
        animal=animal,
        units=calibration.units,
        fps=round(1.0 / mi, 6) if mi > 0 else None,
        totals=totals,
        bins=per_bin if params.bin_s is not None else [],
        bouts=bouts,
        parameters=parameters,
    )


# --- pieces ------------------------------------------------------------------------------
def _array(value: Any, shape: tuple[int, int], field: str) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise BehaviorInputError(field, "must be an array of numbers") from None
    if a.shape != shape:
        raise BehaviorInputError(field, f"must have shape {shape}, got {a.shape}")
    if np.isinf(a).any():
        raise BehaviorInputError(field, "holds an infinite value (use NaN for missing)")
    return a


def _boxes(value: Any, n: int) -> np.ndarray:
    b = _array(value, (n, 4), "boxes")
    with np.errstate(invalid="ignore"):
        bad = (b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1])
    if bad.any():
        raise BehaviorInputError(
            "boxes", f"frame {int(np.flatnonzero(bad)[0])}: x2 < x1 or y2 < y1 (need x1,y1,x2,y2)"
        )
    return b


def _unions(unions: Mapping[str, Sequence[str]], zones: Sequence[Zone]) -> dict[str, list[str]]:
    names = {z.name for z in zones}
    out: dict[str, list[str]] = {}
    for name, parts in unions.items():
        where = f"unions.{name}"
        if not isinstance(name, str) or not name.strip() or ":" in name:
            raise BehaviorInputError(where, "a union needs a non-empty name without ':'")
        if name in names:
            raise BehaviorInputError(where, "has the name of a zone")
        if isinstance(parts, str) or not isinstance(parts, Sequence) or len(parts) < 1:
            raise BehaviorInputError(where, "must list zone names")
        for part in parts:
            if part not in names:
                raise BehaviorInputError(where, f"names no zone {part!r}")
        out[name] = list(parts)
    return out


def _immobile(
    speed: np.ndarray, out_ok: np.ndarray, dv: np.ndarray, thr: float, min_s: float
) -> np.ndarray:
    """bool (K,): samples in immobility episodes lasting >= ``min_s`` (module docs)."""
    with np.errstate(invalid="ignore"):
        slow = speed < thr
    if slow.size == 0:
        return slow
    joined = slow[:-1] & slow[1:] & out_ok[:-1]
    run = np.concatenate([[0], np.cumsum(~joined)])
    run_time = np.bincount(run, weights=np.where(slow, dv, 0.0))
    return slow & (run_time[run] >= min_s - _EPS)


def _bin_of(times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, times, side="right") - 1, 0, len(edges) - 2)


@dataclass(frozen=True)
class _Context:
    edges: np.ndarray
    all_bin: np.ndarray
    analysed: np.ndarray
    duration: np.ndarray
    bin_k: np.ndarray
    dv: np.ndarray
    tv: np.ndarray
    out_len: np.ndarray
    out_speed: np.ndarray
    moving: np.ndarray
    immobile: np.ndarray
    has_speed: np.ndarray
    inside: dict[str, np.ndarray]
    visits: dict[str, np.ndarray]  # inside, with stays under min_bout_s merged (events)
    count_initial: bool
    scale: float
    freezing: np.ndarray | None


def _reduce(c: _Context, nb: int) -> list[Measures]:
    def total(weights: np.ndarray, bins: np.ndarray) -> np.ndarray:
        return np.bincount(bins, weights=weights, minlength=nb)[:nb]

    analysed = total(np.where(c.analysed, c.duration, 0.0), c.all_bin)
    tracked = total(c.dv, c.bin_k)
    dist = total(c.out_len, c.bin_k) / c.scale
    max_speed = np.full(nb, -np.inf)
    ok = np.isfinite(c.out_speed)
    np.maximum.at(max_speed, c.bin_k[ok], c.out_speed[ok] / c.scale)
    moving = total(np.where(c.moving, c.dv, 0.0), c.bin_k)
    immobile = total(np.where(c.immobile, c.dv, 0.0), c.bin_k)
    unclassified = total(np.where(c.has_speed, 0.0, c.dv), c.bin_k)
    freezing = None
    if c.freezing is not None:
        freezing = total(np.where(c.freezing & c.analysed, c.duration, 0.0), c.all_bin)

    zone_rows: dict[str, list[ZoneMeasures]] = {}
    for name, m in c.inside.items():
        z_time = total(np.where(m, c.dv, 0.0), c.bin_k)
        z_dist = total(np.where(m, c.out_len, 0.0), c.bin_k) / c.scale
        v = c.visits[name]
        prev = np.concatenate([[False], v[:-1]])
        entry = v & ~prev
        if not c.count_initial and v.size:
            entry[0] = False
        exit_ = ~v & prev
        entries = np.bincount(c.bin_k[entry], minlength=nb)[:nb]
        exits = np.bincount(c.bin_k[exit_], minlength=nb)[:nb]
        first = np.full(nb, np.inf)
        np.minimum.at(first, c.bin_k[entry], c.tv[entry])
        rows = []
        for b in range(nb):
            rows.append(
                ZoneMeasures(
                    time_s=float(z_time[b]),
                    percent=_ratio(100 * z_time[b], tracked[b]),
                    entries=int(entries[b]),
                    exits=int(exits[b]),
                    latency_s=(
                        float(max(first[b] - c.edges[b], 0.0)) if math.isfinite(first[b]) else None
                    ),
                    distance=float(z_dist[b]),
                    mean_speed=_ratio(z_dist[b], z_time[b]),
                )
            )
        zone_rows[name] = rows

    out = []
    for b in range(nb):
        out.append(
            Measures(
                start_s=float(c.edges[b]),
                end_s=float(c.edges[b + 1]),
                analysed_time_s=float(analysed[b]),
                tracked_time_s=float(tracked[b]),
                untracked_time_s=float(max(analysed[b] - tracked[b], 0.0)),
                distance=float(dist[b]),
                mean_speed=_ratio(dist[b], tracked[b]),
                max_speed=float(max_speed[b]) if math.isfinite(max_speed[b]) else None,
                time_moving_s=float(moving[b]),
                time_immobile_s=float(immobile[b]),
                time_unclassified_s=float(unclassified[b]),
                time_freezing_s=None if freezing is None else float(freezing[b]),
                zones={name: rows[b] for name, rows in zone_rows.items()},
            )
        )
    return out


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b > 0 else None


def debounce(m: np.ndarray, dv: np.ndarray, min_s: float) -> np.ndarray:
    """bool (K,): inside/outside of K tracked samples (durations ``dv``, s) where a change
    counts only once the new side lasted ``min_s``; shorter runs take the side before them
    (the first side: that of the first run lasting ``min_s``). See the module docs."""
    m = np.asarray(m, dtype=bool)
    if min_s <= 0 or m.size == 0:
        return m
    cut = np.flatnonzero(np.diff(m.astype(np.int8))) + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut, [m.size]])
    cum = np.concatenate([[0.0], np.cumsum(dv)])
    long = (cum[ends] - cum[starts]) >= min_s - _EPS
    values = m[starts]
    state = bool(values[np.argmax(long)]) if long.any() else bool(values[0])
    out = np.empty_like(m)
    for s, e, value, ok in zip(starts, ends, values, long, strict=True):
        if ok:
            state = bool(value)
        out[s:e] = state
    return out


def _bouts(name: str, m: np.ndarray, tv: np.ndarray, dv: np.ndarray) -> list[Bout]:
    if m.size == 0:
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], m.astype(np.int8), [0]])))
    cum = np.concatenate([[0.0], np.cumsum(dv)])
    out = []
    for s, e in zip(edges[::2], edges[1::2], strict=True):  # inside samples s..e-1
        out.append(
            Bout(
                zone=name,
                entry_s=float(tv[s]),
                exit_s=float(tv[e]) if e < m.size else None,
                duration_s=float(cum[e] - cum[s]),
                starts_at_window_start=bool(s == 0),
                ends_at_window_end=bool(e == m.size),
            )
        )
    return out
