"""Seeded, stable train/val/test split assignment. Pure module: no Django import.

Each item (or, with ``by_group``, each group such as a video) gets a number in [0, 1) from
sha256 of ``(seed, str(id))``; the ratios cut [0, 1) into train/val/test buckets. So:

- the same ids, seed and ratios always give the same splits (no process-dependent ``hash()``);
- an item's split depends only on its own id, never on which other items exist, so adding
  frames later never moves earlier ones; items that already have a split keep it;
- counts follow the ratios up to sampling noise (about ±1.6 % of 1000 items at 50 %); small
  sets can deviate a lot (3 items may all land in train), which is the price of stability.

With ``by_group=True`` all items of a group share one split, so no recording is in two splits;
the ratios then apply to groups, and frame counts follow group sizes. A group whose items
already have splits keeps the most common one for its new items (ties: train, val, test).
Ids are compared by ``str(id)``: ``7`` and ``"7"`` are the same item.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping

SPLITS = ("train", "val", "test")


def validate_ratios(ratios: Iterable[float]) -> tuple[float, float, float]:
    """The ratios as fractions summing to 1; ValueError unless 3 finite numbers >= 0, sum > 0."""
    values = tuple(ratios)
    if len(values) != 3:
        raise ValueError("ratios must be three numbers: train, val, test")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("ratios must be numbers")
        if not math.isfinite(value) or value < 0:
            raise ValueError("ratios must be finite and not negative")
    total = sum(values)
    if total <= 0:
        raise ValueError("ratios must not all be zero")
    return tuple(v / total for v in values)  # type: ignore[return-value]


def unit_hash(seed: int | str, key: Hashable) -> float:
    """A number in [0, 1) from sha256 of ``(seed, str(key))``, stable across processes."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def bucket(u: float, fractions: tuple[float, float, float]) -> str:
    """The split whose cumulative share of [0, 1) contains ``u``."""
    edge = 0.0
    for split, share in zip(SPLITS, fractions, strict=True):
        edge += share
        if u < edge and share > 0:
            return split
    # Float rounding can leave u just above the last edge: take the last non-empty split.
    return next(s for s, share in zip(SPLITS[::-1], fractions[::-1], strict=True) if share > 0)


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
    fractions = validate_ratios(ratios)
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

    result: dict[Hashable, str] = {}
    if not by_group:
        for item in groups:
            result[item] = known.get(str(item)) or bucket(unit_hash(seed, item), fractions)
        return result

    # A group keeps the split its already-assigned members have, so it stays in one split.
    held: dict[str, Counter[str]] = {}
    for item, group in groups.items():
        split = known.get(str(item))
        if split:
            held.setdefault(str(group), Counter())[split] += 1
    group_split: dict[str, str] = {}
    for group_key, counts in held.items():
        group_split[group_key] = max(SPLITS, key=lambda s: (counts[s], -SPLITS.index(s)))
    for item, group in groups.items():
        split = known.get(str(item))
        if not split:
            group_key = str(group)
            if group_key not in group_split:
                group_split[group_key] = bucket(unit_hash(seed, f"group:{group_key}"), fractions)
            split = group_split[group_key]
        result[item] = split
    return result


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
