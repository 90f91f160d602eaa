"""Tracklets -> exactly N identities that last the whole video, and the overlaps to review.

When the number of animals N is known, every frame holds at most N animals and an animal that
comes back (after a miss, an occlusion, a trip out of the frame) is one of the N, never a new
one. Animals of the same look cannot be told apart by appearance, so identity follows motion:

1. *Contact*: a detection is ambiguous when another tracklet's box is near it: the same frame's
   box (IoU > ``contact_iou`` or centres closer than ``contact_distance_bl`` body lengths) or the
   last box of a tracklet that vanished / first box of one that appears within
   ``merge_window_s`` (two boxes merging into one, and splitting again); and when its box is
   more than ``merged_box_factor`` body lengths across (two animals in one box). Padded by
   ``contact_pad_frames``. The tracker's ids are not trusted there.
2. Each tracklet is cut into *clean segments* (no contact) and contact stretches.
3. Clean segments are given identity slots in time order; concurrent segments never share a
   slot. The cost of a segment for a slot is the negative log-likelihood of the motion
   discontinuity: the slot's last position extrapolated by its (fading) last velocity to the
   segment's start, and the segment's start extrapolated back by its own velocity, plus the
   change of velocity, under a spread that grows with the gap (a long gap says little); plus
   the box-size change, minus a small bonus where the tracker kept one id through the contact;
   plus, where the animals look different enough to tell apart, the cost of the segment not
   looking like the slot's animal (:mod:`tracking.engine.appearance`, fitted per video on a
   stretch where all N are seen apart).
   Segments starting within ``batch_window_s`` of each other are assigned jointly (Hungarian),
   so the tracklets that leave an overlap get the identities their motion before it predicts.
   A segment that finds every slot busy is surplus: its head is dropped until a slot frees.
   A brief segment (under ``far_link_min_s``) that fits no free slot better than
   ``short_link_max_cost`` is surplus too: most likely a false detection, which must not move
   an identity's last known place.
4. Contact detections (and surplus ones) fill each slot's holes frame by frame, matched to the
   slot's bridge: the line between its positions before and after the hole.
5. Slots become animals 1..N in the order they are first seen.

Where two animals that look alike huddle and part again, motion may not tell them apart: those
intervals are what :func:`find_suspected_swaps` lists for review (and an edit can fix).

Body length L: the median box diagonal of all detections. Boxes: x1, y1, x2, y2 pixels.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from tracking.engine.association import RowSpan, Tracklet
from tracking.engine.identity_looks import SlotLooks
from tracking.engine.params import TrackingParams
from tracking.engine.trajectory import Status, Trajectory

_INFEASIBLE = 1e9


@dataclass(frozen=True)
class Identities:
    """Per frame (row) and identity, before gap filling.

    boxes: float64 (F, N, 4) x1, y1, x2, y2, NaN where not found; scores: float64 (F, N), NaN.
    by_motion: bool (F, N), True where the detection was given by motion through a contact.
    """

    boxes: np.ndarray
    scores: np.ndarray
    by_motion: np.ndarray
    body_length: float
    stats: dict


@dataclass(frozen=True)
class SuspectedSwap:
    """An interval where the boxes of two animals overlapped: review it for an identity swap.

    Frames are inclusive video frame numbers; ids are animal ids 1..N (``animal_a < animal_b``).
    """

    animal_a: int
    animal_b: int
    first_frame: int
    last_frame: int
    first_time_s: float
    last_time_s: float
    max_iou: float
    min_distance_px: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Segment(RowSpan):
    track_id: int
    rows: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    appearance: np.ndarray | None = None

    def tail(self, first_row: int) -> _Segment:
        return self._where(self.rows >= first_row)

    def head(self, first_row: int) -> _Segment:
        return self._where(self.rows < first_row)

    def _where(self, keep: np.ndarray) -> _Segment:
        a = None if self.appearance is None else self.appearance[keep]
        return _Segment(self.track_id, self.rows[keep], self.boxes[keep], self.scores[keep], a)


@dataclass
class _Slot:
    index: int
    end: int = -1  # last row of its last segment; -1 = never used
    end_centre: np.ndarray | None = None
    end_velocity: np.ndarray | None = None  # px/s
    end_diag: float = 0.0
    end_track_id: int = -1
    evidence: np.ndarray | None = None  # summed appearance log-likelihood per label


def assign_identities(
    tracklets: Sequence[Tracklet], time_s: np.ndarray, *, n_animals: int, params: TrackingParams
) -> Identities:
    """Stitch ``tracklets`` (rows index ``time_s``) into ``n_animals`` identities (see module)."""
    time_s = np.asarray(time_s, dtype=np.float64)
    n_rows = int(time_s.shape[0])
    boxes = np.full((n_rows, n_animals, 4), np.nan)
    scores = np.full((n_rows, n_animals), np.nan)
    by_motion = np.zeros((n_rows, n_animals), dtype=bool)
    tracklets = [t for t in tracklets if len(t)]
    if not tracklets or n_rows == 0:
        return Identities(boxes, scores, by_motion, math.nan, {"tracklets": 0})

    all_boxes = np.concatenate([t.boxes for t in tracklets])
    body = float(np.median(_diag(all_boxes)))
    body = body if body > 0 else 1.0
    frame_dt = float(np.median(np.diff(time_s))) if n_rows > 1 else 1.0 / 30
    frame_dt = frame_dt if frame_dt > 0 else 1.0 / 30

    contact = _contact_masks(tracklets, params, body, frame_dt, n_animals)
    clean, pool = _split_segments(tracklets, contact, params.min_segment_frames)
    appearance = SlotLooks.fit(clean, n_animals, time_s, params, frame_dt)
    slots, assigned, surplus = _assign_segments(clean, n_animals, time_s, params, body, appearance)
    pool.extend(surplus)

    slot_track = np.full((n_rows, n_animals), -1, dtype=np.int64)
    for slot_index, segments in enumerate(assigned):
        for seg in segments:
            boxes[seg.rows, slot_index] = seg.boxes
            scores[seg.rows, slot_index] = seg.scores
            slot_track[seg.rows, slot_index] = seg.track_id
    filled = _fill_from_pool(boxes, scores, by_motion, slot_track, pool, time_s, params, body)

    # Slots -> animal ids in order of first sighting (never-used slots last).
    found = ~np.isnan(scores)
    first = np.where(found.any(axis=0), found.argmax(axis=0), n_rows)
    order = np.argsort(first, kind="stable")
    stats = {
        "tracklets": len(tracklets),
        "clean_segments": len(clean),
        "contact_detections": int(sum(c.sum() for c in contact)),
        "filled_by_motion": filled,
        "unassigned_detections": int(sum(len(s.rows) for s in pool)) - filled,
        "appearance": appearance.summary,
    }
    return Identities(boxes[:, order], scores[:, order], by_motion[:, order], body, stats)


# --- 1. contact ------------------------------------------------------------------------------
def _contact_masks(
    tracklets: Sequence[Tracklet],
    params: TrackingParams,
    body: float,
    frame_dt: float,
    n_animals: int,
) -> list[np.ndarray]:
    """Per tracklet, bool (K,): the detection is near another tracklet's (possibly held) box."""
    hold = int(math.ceil(params.merge_window_s / frame_dt))
    starts = np.array([t.start for t in tracklets])
    ends = np.array([t.end for t in tracklets])
    near_distance = params.contact_distance_bl * body
    masks = []
    for i, ti in enumerate(tracklets):
        mask = np.zeros(len(ti), dtype=bool)
        others = np.flatnonzero((starts - hold <= ti.end) & (ends + hold >= ti.start))
        for j in others:
            if j == i:
                continue
            tj = tracklets[j]
            sel = np.flatnonzero((ti.rows >= tj.start - hold) & (ti.rows <= tj.end + hold))
            if not sel.size:
                continue
            # tj's box at each of these rows: exact, or held from its previous detection, or
            # its first box before it starts.
            ref = np.clip(np.searchsorted(tj.rows, ti.rows[sel], side="right") - 1, 0, None)
            a, b = ti.boxes[sel], tj.boxes[ref]
            near = (_iou_pairs(a, b) > params.contact_iou) | (
                np.linalg.norm(_centre(a) - _centre(b), axis=1) < near_distance
            )
            mask[sel[near]] = True
        if n_animals > 1 and params.merged_box_factor > 0:
            # A box much bigger than one animal is likely two of them merged into one.
            mask |= _diag(ti.boxes) > params.merged_box_factor * body
        masks.append(_dilate(ti.rows, mask, params.contact_pad_frames))
    return masks


def _dilate(rows: np.ndarray, mask: np.ndarray, pad: int) -> np.ndarray:
    if pad <= 0 or not mask.any():
        return mask
    hot = rows[mask]
    pos = np.searchsorted(hot, rows)
    before = np.abs(rows - hot[np.clip(pos - 1, 0, len(hot) - 1)])
    after = np.abs(hot[np.clip(pos, 0, len(hot) - 1)] - rows)
    return np.minimum(before, after) <= pad


# --- 2. segments ----------------------------------------------------------------------------
def _split_segments(
    tracklets: Sequence[Tracklet], contact: Sequence[np.ndarray], min_frames: int
) -> tuple[list[_Segment], list[_Segment]]:
    clean: list[_Segment] = []
    pool: list[_Segment] = []
    for t, mask in zip(tracklets, contact, strict=True):
        cuts = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(t)], strict=True):
            a = None if t.appearance is None else t.appearance[lo:hi]
            seg = _Segment(t.track_id, t.rows[lo:hi], t.boxes[lo:hi], t.scores[lo:hi], a)
            (pool if mask[lo] or hi - lo < min_frames else clean).append(seg)
    return clean, pool


# --- 3. slots -------------------------------------------------------------------------------
def _assign_segments(
    clean: list[_Segment],
    n_slots: int,
    time_s: np.ndarray,
    params: TrackingParams,
    body: float,
    appearance: SlotLooks,
) -> tuple[list[_Slot], list[list[_Segment]], list[_Segment]]:
    slots = [_Slot(k) for k in range(n_slots)]
    assigned: list[list[_Segment]] = [[] for _ in range(n_slots)]
    surplus: list[_Segment] = []
    heap = [(s.start, -len(s.rows), s.track_id, n, s) for n, s in enumerate(clean)]
    heapq.heapify(heap)
    counter = len(heap)

    while heap:
        batch = [heapq.heappop(heap)[-1]]
        # Segments leaving one overlap start a little apart: decide them together, as long as
        # they run side by side (a segment after another's end may be the same animal).
        while (
            heap
            and time_s[heap[0][0]] - time_s[batch[0].start] <= params.batch_window_s
            and heap[0][0] <= min(s.end for s in batch)
        ):
            batch.append(heapq.heappop(heap)[-1])
        cost = np.array(
            [
                [
                    _link_cost(slot, seg, time_s, params, body) + appearance.cost(slot, seg)
                    for slot in slots
                ]
                for seg in batch
            ]
        )
        rows, cols = linear_sum_assignment(cost)
        taken = set()
        for r, c in zip(rows, cols, strict=True):
            if cost[r, c] >= _INFEASIBLE:
                continue
            seg, slot = batch[r], slots[c]
            assigned[c].append(seg)
            _update_slot(slot, seg, time_s, params)
            appearance.add(slot, seg)
            taken.add(r)
        for r, seg in enumerate(batch):
            if r in taken:
                continue
            # Every slot busy (or taken by a better candidate): drop the head until one frees.
            busy_until = [s.end for s in slots if s.end >= seg.start]
            free_at = min(busy_until) + 1 if busy_until else None
            if free_at is not None and free_at <= seg.end:
                head, rest = seg.head(free_at), seg.tail(free_at)
                if len(head.rows):
                    surplus.append(head)
                heapq.heappush(heap, (rest.start, -len(rest.rows), rest.track_id, counter, rest))
                counter += 1
            else:
                surplus.append(seg)
    return slots, assigned, surplus


def _link_cost(
    slot: _Slot, seg: _Segment, time_s: np.ndarray, params: TrackingParams, body: float
) -> float:
    if slot.end >= seg.start:
        return _INFEASIBLE  # concurrent: one slot holds one animal at a time
    if slot.end < 0:
        return params.new_slot_cost
    gap_s = float(time_s[seg.start] - time_s[slot.end])
    horizon = _horizon(gap_s, params.velocity_persistence_s)
    sigma = min(params.position_sigma_bl + params.sigma_growth_bl_s * gap_s, params.max_sigma_bl)
    start_centre = _centre(seg.boxes[:1])[0]
    start_velocity = _velocity(seg, time_s, params.velocity_window_s, at_start=True)
    forward = np.linalg.norm(slot.end_centre + slot.end_velocity * horizon - start_centre)
    backward = np.linalg.norm(start_centre - start_velocity * horizon - slot.end_centre)
    gate = (params.link_gate_bl + params.max_speed_bl_s * gap_s) * body
    if min(forward, backward) > gate:
        # Farther than an animal can run. With N known, a lasting segment is still one of the
        # N (by elimination: a slot is free); a brief one is more likely a false detection.
        lasting = time_s[seg.end] - time_s[seg.start] >= params.far_link_min_s
        return params.far_link_cost if lasting else _INFEASIBLE
    size = abs(math.log(max(_diag(seg.boxes[:1])[0], 1e-6) / max(slot.end_diag, 1e-6)))
    # The tracker kept one id through the contact: weak evidence, it breaks near-ties.
    same_track = params.continuity_bonus if seg.track_id == slot.end_track_id else 0.0
    # Whoever kept moving that way is the one that was moving that way.
    turn = np.linalg.norm(start_velocity - slot.end_velocity) * params.velocity_weight_s
    # Negative log-likelihood of the discontinuity under a Gaussian whose spread grows with the
    # gap: a long gap says little either way, so a short-gap neighbour decides a joint choice.
    miss = ((forward + backward) / 2 + turn) / body / sigma
    cost = 0.5 * miss**2 + 2 * math.log(sigma) + params.size_weight * size - same_track
    if cost > params.short_link_max_cost and time_s[seg.end] - time_s[seg.start] < (
        params.far_link_min_s
    ):
        # A brief segment that fits the identity badly is more likely a false detection (a
        # static reflection, a part of the other animal) than the animal: taken, it would
        # move the identity's last known place and decide the next links. Its detections
        # stay in the pool, and fill the identity's hole only if they lie on its bridge.
        return _INFEASIBLE
    return cost


def _horizon(gap_s: float, persistence_s: float) -> float:
    """How many seconds of the last velocity a gap of ``gap_s`` carries: the velocity fades
    with time constant ``persistence_s`` (an animal does not keep its heading for long), so the
    extrapolated displacement tends to ``velocity x persistence_s``."""
    if persistence_s <= 0:
        return 0.0
    return persistence_s * -math.expm1(-gap_s / persistence_s)


def _update_slot(slot: _Slot, seg: _Segment, time_s: np.ndarray, params: TrackingParams) -> None:
    slot.end = seg.end
    slot.end_centre = _centre(seg.boxes[-1:])[0]
    slot.end_velocity = _velocity(seg, time_s, params.velocity_window_s, at_start=False)
    slot.end_diag = float(_diag(seg.boxes[-1:])[0])
    slot.end_track_id = seg.track_id


def _velocity(seg: _Segment, time_s: np.ndarray, window_s: float, *, at_start: bool) -> np.ndarray:
    """Least-squares velocity (px/s) over the first/last ``window_s`` of the segment."""
    t = time_s[seg.rows]
    keep = t <= t[0] + window_s if at_start else t >= t[-1] - window_s
    return _fit_velocity(t[keep], _centre(seg.boxes[keep]))


def _fit_velocity(t: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Least-squares slope of centres ``c`` (K, 2) over times ``t`` (K,); zero if undefined."""
    if len(t) < 2 or t[-1] - t[0] <= 0:
        return np.zeros(2)
    t = t - t.mean()
    return (t[:, None] * (c - c.mean(axis=0))).sum(axis=0) / (t**2).sum()


# --- 4. holes -------------------------------------------------------------------------------
def _fill_from_pool(
    boxes: np.ndarray,
    scores: np.ndarray,
    by_motion: np.ndarray,
    slot_track: np.ndarray,
    pool: list[_Segment],
    time_s: np.ndarray,
    params: TrackingParams,
    body: float,
) -> int:
    """Give pool detections to the slots' holes, row by row, by distance to each slot's bridge.

    Bridges are drawn between clean detections only (decided before any fill), so a fill never
    steers the next one. A slot that took a tracklet's detection in the previous frame gets
    that tracklet's next one ``fill_continuity_bl`` body lengths cheaper, so that a merged box
    shared by two animals does not flip between them from frame to frame.
    """
    if not pool:
        return 0
    n_rows, n_slots = scores.shape
    by_row: dict[int, list[np.ndarray]] = {}
    for seg in pool:
        for r, b, s in zip(seg.rows, seg.boxes, seg.scores, strict=True):
            by_row.setdefault(int(r), []).append(np.r_[b, s, seg.track_id])
    anchors = [np.flatnonzero(~np.isnan(scores[:, k])) for k in range(n_slots)]
    centres = _centre(boxes.reshape(-1, 4)).reshape(n_rows, n_slots, 2)
    velocity_cache: dict[tuple[int, int, bool], np.ndarray] = {}
    filled = 0
    for r in sorted(by_row):
        dets = np.array(by_row[r])
        free = [k for k in range(n_slots) if np.isnan(scores[r, k]) and anchors[k].size]
        if not free:
            continue
        cost = np.full((len(dets), len(free)), _INFEASIBLE)
        det_centres = _centre(dets[:, :4])
        for col, k in enumerate(free):
            predicted, age_s = _bridge(k, r, anchors[k], centres, time_s, params, velocity_cache)
            gate = (params.link_gate_bl + params.max_speed_bl_s * age_s) * body
            d = np.linalg.norm(det_centres - predicted, axis=1)
            same = (r > 0) & (dets[:, 5] == slot_track[r - 1, k])
            d = d / body - np.where(same, params.fill_continuity_bl, 0.0)
            cost[:, col] = np.where(d * body <= gate, d, _INFEASIBLE)
        for i, col in zip(*linear_sum_assignment(cost), strict=True):
            if cost[i, col] >= _INFEASIBLE:
                continue
            k = free[col]
            boxes[r, k] = dets[i, :4]
            scores[r, k] = dets[i, 4]
            by_motion[r, k] = True
            slot_track[r, k] = int(dets[i, 5])
            filled += 1
    return filled


def _bridge(
    k: int,
    r: int,
    rows: np.ndarray,
    centres: np.ndarray,
    time_s: np.ndarray,
    params: TrackingParams,
    cache: dict,
) -> tuple[np.ndarray, float]:
    """Slot ``k``'s expected centre at row ``r`` and the time to the nearest anchor (s)."""
    pos = int(np.searchsorted(rows, r))
    before = int(rows[pos - 1]) if pos > 0 else None
    after = int(rows[pos]) if pos < len(rows) else None
    t = time_s[r]
    if before is not None and after is not None:
        t0, t1 = time_s[before], time_s[after]
        w = (t - t0) / (t1 - t0) if t1 > t0 else 0.5
        predicted = (1 - w) * centres[before, k] + w * centres[after, k]
        return predicted, float(min(t - t0, t1 - t))
    anchor = before if before is not None else after
    key = (k, anchor, before is not None)
    if key not in cache:
        cache[key] = _anchor_velocity(rows, anchor, centres[:, k], time_s, params, before is None)
    dt = float(t - time_s[anchor])
    horizon = math.copysign(_horizon(abs(dt), params.velocity_persistence_s), dt)
    return centres[anchor, k] + cache[key] * horizon, abs(dt)


def _anchor_velocity(
    rows: np.ndarray,
    anchor: int,
    centres: np.ndarray,
    time_s: np.ndarray,
    params: TrackingParams,
    forward: bool,
) -> np.ndarray:
    """Velocity of the slot's detections next to ``anchor``: after it when ``forward``."""
    t_anchor = time_s[anchor]
    t = time_s[rows]
    if forward:
        keep = (t >= t_anchor) & (t <= t_anchor + params.velocity_window_s)
    else:
        keep = (t <= t_anchor) & (t >= t_anchor - params.velocity_window_s)
    return _fit_velocity(t[keep], centres[rows[keep]])


# --- review ---------------------------------------------------------------------------------
def find_suspected_swaps(
    trajectory: Trajectory, *, swap_iou: float, swap_distance_bl: float, merge_frames: int = 2
) -> tuple[list[SuspectedSwap], np.ndarray]:
    """Intervals where two animals' boxes overlapped (IoU > ``swap_iou``) or their centres came
    closer than ``swap_distance_bl`` x their mean median box diagonal; detected and interpolated
    boxes count. Runs closer than ``merge_frames`` join. Returns the intervals (sorted by first
    frame, then pair) and the bool (F, N) mask for ``flags["swap_suspect"]``.
    """
    n_frames, n_animals = trajectory.n_frames, trajectory.n_animals
    mask = np.zeros((n_frames, n_animals), dtype=bool)
    swaps: list[SuspectedSwap] = []
    boxes = trajectory.boxes.astype(np.float64)
    detected = trajectory.status == Status.DETECTED
    diag = _diag(boxes.reshape(-1, 4)).reshape(n_frames, n_animals)
    body = [
        float(np.median(diag[detected[:, a], a])) if detected[:, a].any() else math.nan
        for a in range(n_animals)
    ]
    centres = trajectory.centres()
    for a in range(n_animals):
        for b in range(a + 1, n_animals):
            iou = _iou_pairs(boxes[:, a], boxes[:, b])
            distance = np.linalg.norm(centres[:, a] - centres[:, b], axis=1)
            known = [x for x in (body[a], body[b]) if not math.isnan(x)]
            if not known:
                continue  # neither was ever detected
            limit = swap_distance_bl * float(np.mean(known))
            with np.errstate(invalid="ignore"):
                near = (iou > swap_iou) | (distance < limit)
            for lo, hi in _runs(near, merge_frames):
                mask[lo : hi + 1, [a, b]] = True
                swaps.append(
                    SuspectedSwap(
                        animal_a=a + 1,
                        animal_b=b + 1,
                        first_frame=int(trajectory.frames[lo]),
                        last_frame=int(trajectory.frames[hi]),
                        first_time_s=float(trajectory.time_s[lo]),
                        last_time_s=float(trajectory.time_s[hi]),
                        max_iou=float(np.nanmax(iou[lo : hi + 1])),
                        min_distance_px=float(np.nanmin(distance[lo : hi + 1])),
                    )
                )
    swaps.sort(key=lambda s: (s.first_frame, s.animal_a, s.animal_b))
    return swaps, mask


def _runs(mask: np.ndarray, merge: int) -> list[tuple[int, int]]:
    """Inclusive (lo, hi) index runs of True, joining runs separated by <= ``merge`` Falses."""
    idx = np.flatnonzero(mask)
    if not idx.size:
        return []
    breaks = np.flatnonzero(np.diff(idx) > merge + 1)
    return [
        (int(idx[lo]), int(idx[hi]))
        for lo, hi in zip(np.r_[0, breaks + 1], np.r_[breaks, idx.size - 1], strict=True)
    ]


# --- geometry -------------------------------------------------------------------------------
def _centre(b: np.ndarray) -> np.ndarray:
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)


def _diag(b: np.ndarray) -> np.ndarray:
    return np.hypot(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])


def _iou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of row-aligned boxes a[i], b[i]; 0 where either is NaN."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = union - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
