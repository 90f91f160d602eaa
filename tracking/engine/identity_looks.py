"""Identity slots by look: the per-video appearance model that :mod:`tracking.engine.identity`
adds to its link costs (the model itself is :mod:`tracking.engine.appearance`).

Segments are identity's clean segments (``track_id``, ``rows``, ``start``, ``end`` and
``appearance``: (K, D) descriptors or ``None``); slots carry ``evidence``, the summed
log-likelihood per label of the segments they took. No Django import.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracking.engine import appearance as looks
from tracking.engine.params import TrackingParams


class SlotLooks:
    """The per-video appearance model of the identity slots, or nothing to say (``model``
    None: turned off, one animal, no descriptors, no stretch with all N apart, or animals
    that look alike)."""

    def __init__(
        self,
        model: looks.IdentityModel | None,
        params: TrackingParams,
        frame_dt: float,
        summary: dict,
    ):
        self.model = model
        self.params = params
        self.frame_dt = frame_dt
        self.summary = summary
        self._cache: dict[tuple[int, int, int], np.ndarray] = {}

    @classmethod
    def fit(
        cls,
        clean: list[Any],
        n_animals: int,
        time_s: np.ndarray,
        params: TrackingParams,
        frame_dt: float,
    ) -> SlotLooks:
        def off(reason: str, **more) -> SlotLooks:
            return cls(None, params, frame_dt, {"used": False, "reason": reason, **more})

        if n_animals < 2 or not params.appearance:
            return off("not asked for" if n_animals > 1 else "one animal")
        described = [s for s in clean if s.appearance is not None]
        if not described:
            return off("no descriptors were stored with these detections")
        spans = [(s.start, s.end) for s in described]
        min_rows = params.appearance_min_fragment_s / frame_dt
        fragments = [
            f for f in looks.global_fragments(spans, n_animals) if f[2] - f[1] + 1 >= min_rows
        ]
        if not fragments:
            return off(f"the {n_animals} animals are never seen apart at once for long enough")
        members, first, last = fragments[0]
        where = {"fitted_on_frames": [int(first), int(last)]}
        labelled = {i: label for label, i in enumerate(members)}
        model = cls._fit(described, labelled, n_animals, time_s)
        if model is None:
            return off("too few frames to fit on", **where)
        # Then, as idtracker.ai does, every other stretch with all N apart whose labels the
        # model is sure of joins the training set, and the model is fitted again: more looks
        # at each animal, in other places and poses.
        first_pass = cls(model, params, frame_dt, {})
        for others, _, _ in fragments[1:]:
            if all(i in labelled for i in others):
                continue
            evidence = np.array([first_pass.evidence(described[i]) for i in others])
            order, margin = looks.best_labels(evidence)
            consistent = all(
                labelled.get(i, int(k)) == int(k) for i, k in zip(others, order, strict=True)
            )
            if margin >= params.appearance_accept_nats and consistent:
                labelled.update({i: int(k) for i, k in zip(others, order, strict=True)})
        if len(labelled) > len(members):
            model = cls._fit(described, labelled, n_animals, time_s) or model
        where.update(
            accuracy=round(model.accuracy, 4),
            training_frames=model.training_frames,
            training_segments=len(labelled),
        )
        if model.accuracy < params.appearance_min_accuracy:
            return off("the animals look too much alike", **where)
        return cls(model, params, frame_dt, {"used": True, **where})

    @staticmethod
    def _fit(
        described: list[Any], labelled: dict[int, int], n_animals: int, time_s: np.ndarray
    ) -> looks.IdentityModel | None:
        by_label: list[list[Any]] = [[] for _ in range(n_animals)]
        for i, label in labelled.items():
            by_label[label].append(described[i])
        try:
            return looks.fit_identity_model(
                [np.concatenate([s.appearance for s in segs]) for segs in by_label],
                [np.concatenate([time_s[s.rows] for s in segs]) for segs in by_label],
            )
        except (ValueError, np.linalg.LinAlgError):
            # Descriptors the classifier cannot use (degenerate, all alike): motion decides,
            # as it does for animals that look alike; the look never fails a run.
            return None

    def evidence(self, seg: Any) -> np.ndarray | None:
        if self.model is None or seg.appearance is None:
            return None
        key = (seg.track_id, seg.start, len(seg.rows))
        if key not in self._cache:
            self._cache[key] = looks.segment_evidence(
                self.model, seg.appearance, self.frame_dt, self.params.appearance_decorrelation_s
            )
        return self._cache[key]

    def cost(self, slot: Any, seg: Any) -> float:
        seen = self.evidence(seg)
        if slot.evidence is None or seen is None:
            return 0.0
        return looks.same_label_cost(slot.evidence, seen, self.params.appearance_max_cost)

    def add(self, slot: Any, seg: Any) -> None:
        seen = self.evidence(seg)
        if seen is not None:
            slot.evidence = seen.copy() if slot.evidence is None else slot.evidence + seen
