"""The Markdown model card: user text escaped outside code spans, code spans literal (a
backslash inside backticks is shown as a backslash, so escaping there corrupts the text)."""

from __future__ import annotations

import re

from training.model_card import card_markdown


def _card(**model):
    return {
        "model": {"name": "mice_v2 (night)", "preset": "yolov3-tiny", **model},
        "training": {},
        "dataset": {"name": "v1", "content_hash": "ab12"},
    }


def test_code_spans_hold_the_text_as_is_without_markdown_escapes():
    text = card_markdown(_card(), model_id=3)
    spans = re.findall(r"`+([^`]*?)`+", text)
    assert "yolov3-tiny" in spans and "ab12" in spans
    assert not [s for s in spans if "\\" in s], spans
    # Outside code spans user text is still escaped (a name is not Markdown).
    assert "# Model card: mice\\_v2 \\(night\\)" in text


def test_a_code_span_holding_backticks_or_newlines_stays_one_span():
    text = card_markdown(_card(preset="a`b\nc"), model_id=3)
    line = next(ln for ln in text.splitlines() if ln.startswith("- Preset:"))
    assert "``a`b c``" in line
