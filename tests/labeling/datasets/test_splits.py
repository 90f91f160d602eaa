"""Seeded, stable train/val/test split assignment (plain data, no database)."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeling.datasets.splits import assign_splits, unit_hash, validate_ratios


def test_same_inputs_give_the_same_assignment():
    items = list(range(500))
    assert assign_splits(items, seed=7) == assign_splits(list(reversed(items)), seed=7)


def test_a_different_seed_gives_a_different_assignment():
    items = list(range(200))
    assert assign_splits(items, seed=1) != assign_splits(items, seed=2)


def test_adding_items_never_moves_existing_ones():
    first = assign_splits(range(300), seed=3)
    later = assign_splits(range(1000), seed=3, existing=first)
    assert {k: later[k] for k in first} == first
    # The new items fill each split up to its share of the 1000.
    assert Counter(later.values()) == {"train": 500, "val": 250, "test": 250}


@settings(max_examples=50, deadline=None)
@given(
    ids=st.sets(st.integers(0, 10_000), max_size=60),
    extra=st.sets(st.integers(0, 10_000), max_size=60),
    seed=st.integers(0, 2**31),
)
def test_property_items_given_as_existing_never_move(ids, extra, seed):
    alone = assign_splits(ids, seed=seed)
    together = assign_splits(ids | extra, seed=seed, existing=alone)
    assert all(together[i] == alone[i] for i in ids)


def test_existing_splits_are_kept_and_only_new_items_are_assigned():
    fresh = assign_splits(range(100))
    flipped = {i: ("test" if fresh[i] == "train" else "train") for i in range(50)}
    result = assign_splits(range(100), existing=flipped)
    assert all(result[i] == flipped[i] for i in range(50))
    held = Counter(flipped.values())
    # The 50 new items make up what each split lacks of 50/25/25 (by largest remainder
    # when a split is already above its share).
    new = Counter(result[i] for i in range(50, 100))
    assert sum(new.values()) == 50
    for split, target in (("train", 50), ("val", 25), ("test", 25)):
        assert new[split] <= max(0, target - held[split])


def test_an_empty_existing_split_counts_as_unassigned():
    fresh = assign_splits(["a", "b"])
    assert assign_splits(["a", "b"], existing={"a": "", "b": None}) == fresh


def test_an_invalid_existing_split_is_refused():
    with pytest.raises(ValueError, match="existing split"):
        assign_splits([1], existing={1: "holdout"})


def test_ids_compare_as_text_so_int_and_str_ids_agree():
    as_int = assign_splits(range(50), seed=5)
    as_str = assign_splits([str(i) for i in range(50)], seed=5)
    assert [as_int[i] for i in range(50)] == [as_str[str(i)] for i in range(50)]
    assert assign_splits(["7"], existing={7: "test"}) == {"7": "test"}


@pytest.mark.parametrize(
    "ratios", [(50, 25, 25), (70, 20, 10), (0.8, 0.1, 0.1), (1, 1, 1), (60, 40, 0)]
)
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_counts_on_1000_items_are_within_one_item_of_the_ratios(ratios, seed):
    counts = Counter(assign_splits(range(1000), ratios=ratios, seed=seed).values())
    total = sum(ratios)
    for split, ratio in zip(("train", "val", "test"), ratios, strict=True):
        assert abs(counts[split] - 1000 * ratio / total) < 1, (split, counts)
        if ratio == 0:
            assert counts[split] == 0


def test_a_single_nonzero_ratio_puts_everything_there():
    assert set(assign_splits(range(100), ratios=(0, 1, 0)).values()) == {"val"}


def test_unit_hash_is_in_the_unit_interval_and_stable():
    values = [unit_hash(0, i) for i in range(1000)]
    assert all(0 <= v < 1 for v in values)
    # A fixed value guards against an accidental change of the hashing scheme, which would
    # silently reshuffle every project's future assignments.
    assert unit_hash(0, 1) == unit_hash("0", "1") == 0.15758576553568443


def video_frames(videos: int, frames: int, start: int = 0) -> dict[str, str]:
    return {f"v{v}-f{f}": f"v{v}" for v in range(videos) for f in range(start, start + frames)}


def test_by_group_keeps_every_video_in_one_split():
    items = video_frames(40, 25)
    result = assign_splits(items, by_group=True, seed=9)
    per_video: dict[str, set[str]] = {}
    for item, video in items.items():
        per_video.setdefault(video, set()).add(result[item])
    assert all(len(splits) == 1 for splits in per_video.values())
    # Ratios apply to videos: with 40 videos all three splits are used.
    assert {s for splits in per_video.values() for s in splits} == {"train", "val", "test"}


def test_by_group_new_frames_of_a_video_join_its_existing_split():
    first = assign_splits(video_frames(10, 5), by_group=True, seed=2)
    later = assign_splits(video_frames(10, 10), by_group=True, seed=2, existing=first)
    for item, split in later.items():
        video = item.split("-")[0]
        assert split == first[f"{video}-f0"]


def test_by_group_follows_existing_members_even_against_the_hash():
    items = {"a": "v", "b": "v", "c": "v"}
    hashed = assign_splits(items, by_group=True)["a"]
    other = "val" if hashed != "val" else "test"
    result = assign_splits(items, by_group=True, existing={"a": other})
    assert result == {"a": other, "b": other, "c": other}


def test_by_group_with_mixed_existing_members_uses_the_most_common_split():
    items = {"a": "v", "b": "v", "c": "v", "d": "v"}
    result = assign_splits(items, by_group=True, existing={"a": "val", "b": "test", "c": "test"})
    assert result == {"a": "val", "b": "test", "c": "test", "d": "test"}


def test_by_group_needs_a_mapping_of_items_to_groups():
    with pytest.raises(ValueError, match="mapping"):
        assign_splits([1, 2, 3], by_group=True)


@settings(max_examples=30, deadline=None)
@given(
    groups=st.dictionaries(st.integers(0, 500), st.integers(0, 8), max_size=80),
    seed=st.integers(0, 1000),
)
def test_property_by_group_assignment_is_pure(groups, seed):
    result = assign_splits(groups, by_group=True, seed=seed)
    assert set(result) == set(groups)
    seen: dict[int, str] = {}
    for item, group in groups.items():
        assert seen.setdefault(group, result[item]) == result[item]


@pytest.mark.parametrize(
    "ratios",
    [
        (50, 50),
        (1, 2, 3, 4),
        (-1, 1, 1),
        (0, 0, 0),
        (math.nan, 1, 1),
        (math.inf, 1, 1),
        ("50", 25, 25),
        (True, 1, 1),
        None,
    ],
)
def test_invalid_ratios_are_refused(ratios):
    with pytest.raises((ValueError, TypeError)):
        assign_splits(range(10), ratios=ratios)


def test_validate_ratios_normalises_to_fractions():
    assert validate_ratios((50, 25, 25)) == (0.5, 0.25, 0.25)
    assert validate_ratios((2, 0, 2)) == (0.5, 0.0, 0.5)
