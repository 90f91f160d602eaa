"""User edits: stored as data, applied on top, reversible, seen by every export."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from tests.tracking.engine.helpers import line, make_trajectory
from tracking.engine.edits import (
    SwapIdentities,
    apply_edits,
    edit_from_dict,
    edit_to_dict,
    edits_from_list,
)
from tracking.engine.exports.per_frame_csv import write_trajectory_csv
from tracking.engine.trajectory import Status


def _three_animals():
    centres = np.stack([line(20, start=(100.0, 100.0 * k)) for k in (1, 2, 3)], axis=1)
    centres[5, 1] = np.nan
    t = make_trajectory(centres)
    t.flags["outlier"] = np.zeros((20, 3), dtype=bool)
    t.flags["outlier"][12, 0] = True
    return t


def test_swap_from_a_frame_on_moves_everything_of_both_animals():
    original = _three_animals()
    edited = apply_edits(original, [SwapIdentities(a=1, b=2, from_frame=10)])
    np.testing.assert_array_equal(edited.boxes[:10], original.boxes[:10])
    np.testing.assert_array_equal(edited.boxes[10:, 0], original.boxes[10:, 1])
    np.testing.assert_array_equal(edited.boxes[10:, 1], original.boxes[10:, 0])
    np.testing.assert_array_equal(edited.boxes[:, 2], original.boxes[:, 2])
    assert edited.flags["outlier"][12, 1] and not edited.flags["outlier"][12, 0]
    assert edited.status[5, 1] == Status.MISSING  # before the swap: untouched


def test_swap_until_a_frame_is_inclusive_and_the_original_is_never_changed():
    original = _three_animals()
    before = original.boxes.copy()
    edited = apply_edits(original, [SwapIdentities(a=3, b=1, from_frame=4, until_frame=6)])
    np.testing.assert_array_equal(original.boxes, before)
    np.testing.assert_array_equal(edited.boxes[4:7, 0], before[4:7, 2])
    np.testing.assert_array_equal(edited.boxes[7:], before[7:])
    assert edited.status[5, 1] == Status.MISSING  # animal 2 not involved


def test_removing_an_edit_restores_the_trajectory_without_it():
    original = _three_animals()
    edits = [SwapIdentities(1, 2, 10), SwapIdentities(2, 3, 0, 15)]
    both = apply_edits(original, edits)
    only_second = apply_edits(original, edits[1:])
    assert not np.array_equal(both.boxes, only_second.boxes, equal_nan=True)
    np.testing.assert_array_equal(
        apply_edits(original, []).boxes, original.boxes
    )  # the list is the truth: no edits, no change
    np.testing.assert_array_equal(apply_edits(original, edits[1:]).boxes, only_second.boxes)
    np.testing.assert_array_equal(
        apply_edits(only_second, [SwapIdentities(2, 3, 0, 15)]).boxes, original.boxes
    )  # a swap undoes itself


def test_exports_show_the_edited_trajectory():
    original = _three_animals()
    edited = apply_edits(original, [SwapIdentities(1, 2, 10)])
    out = io.StringIO()
    write_trajectory_csv(edited, out)
    table = pd.read_csv(io.StringIO(out.getvalue()))
    row = table[(table.frame == 15) & (table.animal == 1)].iloc[0]
    assert row.y == pytest.approx(200.0)  # animal 2's lane


def test_edits_are_plain_data_and_bad_ones_name_the_field():
    edit = SwapIdentities(1, 2, 10, 20)
    assert edit_from_dict(edit_to_dict(edit)) == edit
    assert edits_from_list([edit_to_dict(edit)]) == [edit]
    assert edit_to_dict(SwapIdentities(1, 2, 3))["until_frame"] is None
    for bad, field in [
        ({"kind": "delete", "a": 1, "b": 2, "from_frame": 0}, "kind"),
        ({"kind": "swap", "a": 1, "from_frame": 0}, "b"),
        ({"kind": "swap", "a": "1", "b": 2, "from_frame": 0}, "a"),
        ({"kind": "swap", "a": 1, "b": 2, "from_frame": True}, "from_frame"),
        ({"kind": "swap", "a": 1, "b": 2, "from_frame": 0, "until_frame": 1.5}, "until_frame"),
        ({"kind": "swap", "a": 1, "b": 2, "from_frame": 0, "who": 1}, "who"),
    ]:
        with pytest.raises(ValueError, match=field):
            edit_from_dict(bad)
    t = _three_animals()
    for bad, field in [
        (SwapIdentities(0, 2, 0), "a"),
        (SwapIdentities(1, 4, 0), "b"),
        (SwapIdentities(2, 2, 0), "b"),
        (SwapIdentities(1, 2, 5, 4), "until_frame"),
    ]:
        with pytest.raises(ValueError, match=field):
            apply_edits(t, [bad])
