"""media.worker.images' markup scan: the fast ``has_markup`` agrees with the ``_MARKUP``
pattern it stands for."""

from __future__ import annotations

import random

from media.worker.images import _MARKUP, MARKUP_MARKERS, has_markup


def test_fast_markup_scan_agrees_with_the_pattern():
    """``has_markup`` (the fast scan imports run) finds exactly what ``_MARKUP`` finds: every
    marker in random case, with and without each delimiter, at the start, middle and end of
    random bytes, and random bytes alone."""
    rng = random.Random(14)
    cases = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 3000))) for _ in range(300)]
    for marker in MARKUP_MARKERS:
        for tail in (b"", b" ", b"\t", b"\x0b", b"/", b">", b"x", b"\x00"):
            spelled = bytes(
                c ^ 0x20 if chr(c).isalpha() and rng.random() < 0.5 else c for c in marker
            )
            for noise in cases[:6]:
                cut = rng.randrange(len(noise) + 1)
                cases += [spelled + tail, noise + spelled + tail, noise[:cut] + spelled + tail]
    found = 0
    for data in cases:
        assert has_markup(data) is (_MARKUP.search(data) is not None), data[:80]
        found += has_markup(data)
    assert 0 < found < len(cases)
