"""Seeded, stable train/val/test split assignment. Pure module: no Django import.

Split sizes are exact: ``n`` items get :func:`split_targets` of them per split, the
largest-remainder apportionment of ``n`` by the ratios, so every split is within one item of
its share (52 frames at 50/25/25: 26/13/13). Which items go where comes from a number in
[0, 1) per item, from sha256 of ``(seed, str(id))``: items are taken in that order, the first
ones to train, the next to val, the rest to test. So:

- the same ids, seed and ratios always give the same splits (no process-dependent ``hash()``);
- items that already have a split (``existing``) keep it, so adding frames later never moves
  earlier ones: the new items fill each split up to its share of the new total (a split
  already above its share gets none; the others share the new items by largest remainder).

With ``by_group`` all items of a group (a video) share one split, so no recording is in two
splits. A group whose items already have splits keeps the most common one for its new items
(ties: train, val, test). The other groups are placed so that the frame counts come as close
to the targets as the groups' sizes allow: the smallest sum of squared misses, found exactly
by a search over the reachable (train, val, test) frame counts, groups taken in hash order,
while that search stays small (:data:`EXACT_SEARCH_STATES`, :data:`EXACT_SEARCH_STEPS`: a few
dozen videos); beyond that, largest group first into the split furthest below its target,
then single moves and swaps of two groups while they lower the misses (in trials with 15 to
30 videos of 5 to 80 frames: the best placement, or one or two frames from it). Ids are compared by
``str(id)``: ``7`` and ``"7"`` are the same item.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from fractions import Fraction
from itertools import islice, permutations

SPLITS = ("train", "val", "test")
#: The exact by-group search gives up (and places groups greedily) past this many distinct
#: (train, val, test) frame counts, or this many steps in all (a step: one group tried in one
#: split from one count); below both it takes well under a second.
EXACT_SEARCH_STATES = 60_000
EXACT_SEARCH_STEPS = 600_000


def validate_ratios(ratios: Iterable[float]) -> tuple[float, float, float]:
    """The ratios as fractions summing to 1; ValueError unless 3 finite numbers >= 0, sum > 0."""
    values = _checked(ratios)
    total = sum(values)
    return tuple(v / total for v in values)  # type: ignore[return-value]


def _checked(ratios: Iterable[float]) -> tuple[float, ...]:
    values = tuple(ratios)
    if len(values) != 3:
        raise ValueError("ratios must be three numbers: train, val, test")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("ratios must be numbers")
        if not math.isfinite(value) or value < 0:
            raise ValueError("ratios must be finite and not negative")
    if sum(values) <= 0:
        raise ValueError("ratios must not all be zero")
    return values


def _apportion(n: int, weights: Iterable[Fraction | int]) -> list[int]:
    """``n`` split by ``weights`` (largest remainder; ties go to the earlier weight); a zero
    weight gets nothing."""
    weights = [Fraction(w) for w in weights]
    total = sum(weights)
    exact = [n * w / total for w in weights]
    seats = [math.floor(q) for q in exact]
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - seats[i]), i))
    for i in order[: n - sum(seats)]:
        seats[i] += 1
    return seats


def split_targets(n: int, ratios: Iterable[float] = (50, 25, 25)) -> dict[str, int]:
    """``{split: items}`` for ``n`` items: each within one item of ``n * ratio / sum``, summing
    to ``n`` (largest remainder, exact arithmetic; ties go to train, then val)."""
    values = _checked(ratios)
    return dict(zip(SPLITS, _apportion(n, map(Fraction, values)), strict=True))


def unit_hash(seed: int | str, key: Hashable) -> float:
    """A number in [0, 1) from sha256 of ``(seed, str(key))``, stable across processes."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _hash_order(seed: int | str, keys: Iterable, prefix: str = "") -> list:
    return sorted(keys, key=lambda k: (unit_hash(seed, f"{prefix}{k}"), str(k)))


def assign_splits(
    items: Iterable[Hashable] | Mapping[Hashable, Hashable],
    *,
    ratios: tuple[float, float, float] = (50, 25, 25),
    seed: int | str = 0,
    by_group: bool = False,
    existing: Mapping[Hashable, str] | None = None,
) -> dict[Hashable, str]:
    """``{item id: split}`` for every item of ``items`` (and only those).

    ``items`` is an iterable of ids, or a mapping ``{item id: group id}`` (required with
    ``by_group``). ``existing`` maps ids to splits already assigned; those are kept (``""`` or
    None means not assigned). Ratios are relative weights (``(50, 25, 25)`` or
    ``(0.8, 0.2, 0)``). ValueError for bad ratios, a bad existing split, or ``by_group``
    without groups.
    """
    values = _checked(ratios)
    existing = existing or {}
    known: dict[str, str] = {}
    for key, split in existing.items():
        if split in ("", None):
            continue
        if split not in SPLITS:
            raise ValueError(f"existing split {split!r} for {key!r} is not train, val or test")
        known[str(key)] = split

    if isinstance(items, Mapping):
        groups = dict(items)
    else:
        if by_group:
            raise ValueError("by_group needs items as a mapping {item id: group id}")
        groups = {item: None for item in items}
    targets = split_targets(len(groups), values)
    if by_group:
        return _assign_groups(groups, targets, known, seed)

    result: dict[Hashable, str] = {}
    have: Counter[str] = Counter()
    new: list[Hashable] = []
    for item in groups:
        split = known.get(str(item))
        if split:
            result[item] = split
            have[split] += 1
        else:
            new.append(item)
    wanted = _fill(len(new), targets, have)
    ordered = iter(_hash_order(seed, new))
    for split, count in zip(SPLITS, wanted, strict=True):
        for item in islice(ordered, count):
            result[item] = split
    return result


def _fill(new: int, targets: Mapping[str, int], have: Mapping[str, int]) -> list[int]:
    """How many of ``new`` items each split gets so that ``have`` + them meets ``targets``
    (targets sum to the new total): each split's shortfall, or a largest-remainder share of
    ``new`` by shortfall when splits already above target leave too few items for all."""
    short = [max(0, targets[s] - have.get(s, 0)) for s in SPLITS]
    if not new:
        return [0, 0, 0]
    if sum(short) <= new:
        return short
    return _apportion(new, short)


def _assign_groups(
    groups: dict[Hashable, Hashable], targets: dict[str, int], known: dict[str, str], seed
) -> dict[Hashable, str]:
    # A group keeps the split its already-assigned members have, so it stays in one split.
    held: dict[str, Counter[str]] = {}
    sizes: Counter[str] = Counter()
    for item, group in groups.items():
        sizes[str(group)] += 1
        split = known.get(str(item))
        if split:
            held.setdefault(str(group), Counter())[split] += 1
    group_split: dict[str, str] = {}
    for group_key, counts in held.items():
        group_split[group_key] = max(SPLITS, key=lambda s: (counts[s], -SPLITS.index(s)))
    have: Counter[str] = Counter()
    for group_key, split in group_split.items():
        have[split] += sizes[group_key]
    free = _hash_order(seed, [g for g in sizes if g not in group_split], prefix="group:")
    allowed = [s for s in SPLITS if targets[s] > 0] or [SPLITS[0]]
    placed = _place_exactly(free, sizes, targets, have, allowed)
    if placed is None:
        placed = _place_greedily(free, sizes, targets, have, allowed)
    group_split.update(placed)
    result: dict[Hashable, str] = {}
    for item, group in groups.items():
        result[item] = known.get(str(item)) or group_split[str(group)]
    return result


def _miss(counts: tuple[int, int, int], targets: dict[str, int]) -> int:
    return sum((c - targets[s]) ** 2 for c, s in zip(counts, SPLITS, strict=True))


def _place_exactly(free, sizes, targets, have, allowed) -> dict[str, str] | None:
    """The groups' splits with the smallest sum of squared misses of the targets, searched
    over the reachable (train, val, test) counts; None when those grow past
    :data:`EXACT_SEARCH_STATES` or the steps past :data:`EXACT_SEARCH_STEPS`. Among equally
    good placements, the first found (groups in hash order, each trying train, val, test)
    wins, so the seed decides ties."""
    start = tuple(have[s] for s in SPLITS)
    index = {s: SPLITS.index(s) for s in allowed}
    # Each layer maps a reachable count to (previous count, split of this group).
    layers: list[dict[tuple, tuple]] = []
    states: dict[tuple, tuple | None] = {start: None}
    steps = 0
    for group in free:
        size = sizes[group]
        steps += len(states) * len(allowed)
        if steps > EXACT_SEARCH_STEPS:
            return None
        after: dict[tuple, tuple] = {}
        for counts in states:
            for split in allowed:
                moved = list(counts)
                moved[index[split]] += size
                after.setdefault(tuple(moved), (counts, split))
        if len(after) > EXACT_SEARCH_STATES:
            return None
        layers.append(after)
        states = after
    best = min(states, key=lambda c: _miss(c, targets))
    placed: dict[str, str] = {}
    for group, layer in zip(reversed(free), reversed(layers), strict=True):
        best, split = layer[best]
        placed[group] = split
    return placed


def _place_greedily(free, sizes, targets, have, allowed) -> dict[str, str]:
    """Largest group first (hash order among equals) into the split furthest below its
    target (ties: train, val, test), then :func:`_improve`."""
    counts = {s: have[s] for s in SPLITS}
    placed: dict[str, str] = {}
    for group in sorted(free, key=lambda g: -sizes[g]):  # stable: keeps hash order
        split = max(allowed, key=lambda s: (targets[s] - counts[s], -SPLITS.index(s)))
        placed[group] = split
        counts[split] += sizes[group]
    _improve(placed, sizes, targets, counts, allowed)
    return placed


def _improve(placed, sizes, targets, counts, allowed, rounds: int = 200) -> None:
    """Move one group to another split, or swap two groups of different splits, while that
    lowers the sum of squared misses (in place). For each pair of splits only the moved
    frame count matters, so each candidate looks up the best partner by size (bisect)."""

    def miss_after(source: str, target: str, moved: int) -> int:
        after = dict(counts)
        after[source] -= moved
        after[target] += moved
        return sum((after[s] - targets[s]) ** 2 for s in SPLITS)

    for _ in range(rounds):
        current = sum((counts[s] - targets[s]) ** 2 for s in SPLITS)
        best: tuple[int, tuple] | None = None
        members: dict[str, list[tuple[int, str]]] = {s: [] for s in allowed}
        for group, split in placed.items():
            members[split].append((sizes[group], group))
        for source in allowed:
            members[source].sort()
        for source, target in permutations(allowed, 2):
            # The frame count whose move from source to target would miss the least.
            ideal = ((counts[source] - targets[source]) - (counts[target] - targets[target])) / 2
            sizes_there = [size for size, _ in members[target]]
            for size, group in members[source]:
                miss = miss_after(source, target, size)
                if miss < current and (best is None or miss < best[0]):
                    best = (miss, (group, target, None))
                # Swap with the group of target whose size brings the move nearest ideal.
                at = bisect_left(sizes_there, size - ideal)
                for k in (at - 1, at):
                    if 0 <= k < len(sizes_there) and sizes_there[k] != size:
                        other = members[target][k][1]
                        miss = miss_after(source, target, size - sizes_there[k])
                        if miss < current and (best is None or miss < best[0]):
                            best = (miss, (group, target, other))
        if best is None:
            return
        group, target, other = best[1]
        source = placed[group]
        placed[group] = target
        counts[source] -= sizes[group]
        counts[target] += sizes[group]
        if other is not None:
            placed[other] = source
            counts[target] -= sizes[other]
            counts[source] += sizes[other]


# Fewer frames than this in a split and its figures say little: with 10 test frames one
# frame moves recall or precision by 10 points; with 2 it moves them by 50.
MIN_FRAMES_FOR_FIGURES = {"train": 10, "val": 5, "test": 10}
_SPLIT_USE = {
    "train": "the model learns from too few examples to generalise",
    "val": "the best epoch and early stopping are chosen on them",
    "test": "mAP, precision/recall and IoU computed on them are not meaningful",
}


def split_size_warning(split: str, frames: int) -> str | None:
    """A warning when ``frames`` frames of ``split`` are too few for meaningful figures."""
    minimum = MIN_FRAMES_FOR_FIGURES.get(split)
    if minimum is None or frames >= minimum:
        return None
    share = f"one frame is {100 / frames:.0f}% of them" if frames else "there are none"
    return (
        f"Only {frames} {split} frame(s) ({share}): {_SPLIT_USE[split]}; label more frames "
        f"(at least {minimum} in this split) or change the split ratios."
    )


def split_size_warnings(counts: dict[str, int]) -> list[str]:
    """Warnings for every split of ``counts`` ({"train": n, "val": n, "test": n}) that is
    too small; an empty test split is left to the evaluation (it falls back to val)."""
    warnings = []
    for split in ("train", "val", "test"):
        frames = int(counts.get(split) or 0)
        if split == "test" and frames == 0:
            continue
        warning = split_size_warning(split, frames)
        if warning:
            warnings.append(warning)
    return warnings


def evaluation_size_warning(frames: int) -> str | None:
    """A warning when an evaluation's figures rest on too few frames (0: not run yet)."""
    minimum = MIN_FRAMES_FOR_FIGURES["test"]
    if not frames or frames >= minimum:
        return None
    return (
        f"Evaluated on only {frames} frame(s) (one frame is {100 / frames:.0f}% of them): "
        f"{_SPLIT_USE['test']}; label more frames (at least {minimum} in the evaluated split) "
        "before comparing models."
    )
