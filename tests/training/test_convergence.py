"""The job page's "reached its final validation mAP at epoch N after T" figure."""

from __future__ import annotations

import pytest

from training.convergence import convergence, convergence_text


def test_the_first_epoch_reaching_the_best_map_and_the_time_it_took():
    rows = [
        {"epoch": 1, "map50_95": 0.1, "epoch_time_s": 10.0},
        {"epoch": 2, "map50_95": 0.5, "epoch_time_s": 12.0},
        {"epoch": 3, "map50_95": 0.4, "epoch_time_s": 11.0},
        {"epoch": 4, "map50_95": 0.5, "epoch_time_s": 13.0},  # ties are not "reached later"
    ]
    c = convergence(reversed(rows))
    assert (c.best_epoch, c.best_map50_95, c.epochs_after_best) == (2, 0.5, 2)
    assert c.seconds_to_best == pytest.approx(22.0) and c.seconds_total == pytest.approx(46.0)


def test_no_validated_epoch_yet_is_none():
    assert convergence([]) is None
    assert convergence([{"epoch": 1, "map50_95": None, "epoch_time_s": 3.0}]) is None


def test_the_sentence_names_the_epoch_the_time_and_the_patience():
    c = convergence([
        {"epoch": 1, "map50_95": 0.2, "epoch_time_s": 60.0},
        {"epoch": 2, "map50_95": 0.6, "epoch_time_s": 60.0},
        {"epoch": 3, "map50_95": 0.5, "epoch_time_s": 60.0},
    ])  # fmt: skip
    text = convergence_text(c, patience=50)
    assert text.startswith("Best validation mAP50-95 0.600 reached at epoch 2, after 2 min of")
    assert "3 min of training (1 epochs since did not improve it)" in text
    assert text.endswith("early stopping after 50 epochs without a better validation mAP.")
    assert convergence_text(None, patience=0) == "No validated epoch yet; early stopping off."
