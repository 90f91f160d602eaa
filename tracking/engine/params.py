"""Every parameter of detections -> identities -> gaps, in one serialisable record.

A run stores ``TrackingParams.to_dict()`` next to its trajectory, so that the same detections and
the same dict always give the same trajectory (the pipeline is deterministic).
Distances are in *body lengths*: the median box diagonal of the detections (per animal for
outliers), so the defaults hold for any resolution and any zoom.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

TRACKER_TYPES = ("bytetrack", "botsort")


@dataclass(frozen=True)
class TrackerConfig:
    """Ultralytics' tracker settings (the keys of its ``bytetrack.yaml``/``botsort.yaml``).

    ``track_high_thresh`` is the association's confidence threshold: detections at or above it
    are matched first and may start tracks (with ``new_track_thresh``); those between
    ``track_low_thresh`` and it only extend existing tracks; lower ones are ignored.
    BoT-SORT runs without global motion compensation (the engine has no frames, and the camera
    of an arena does not move) and without ReID.
    """

    tracker_type: str = "bytetrack"
    track_high_thresh: float = 0.25
    track_low_thresh: float = 0.1
    new_track_thresh: float = 0.25
    track_buffer: int = 30
    match_thresh: float = 0.8
    fuse_score: bool = True
    proximity_thresh: float = 0.5  # BoT-SORT only
    appearance_thresh: float = 0.8  # BoT-SORT only

    def validate(self) -> None:
        if self.tracker_type not in TRACKER_TYPES:
            raise ValueError(f"tracker.tracker_type must be one of {TRACKER_TYPES}")
        for name in ("track_high_thresh", "track_low_thresh", "new_track_thresh", "match_thresh"):
            _check_range(f"tracker.{name}", getattr(self, name), 0.0, 1.0)
        if self.track_low_thresh > self.track_high_thresh:
            raise ValueError("tracker.track_low_thresh must not exceed tracker.track_high_thresh")
        if not isinstance(self.track_buffer, int) or not 1 <= self.track_buffer <= 10_000:
            raise ValueError("tracker.track_buffer must be an integer in [1, 10000] (frames)")


@dataclass(frozen=True)
class TrackingParams:
    """Parameters of :func:`tracking.engine.pipeline.build_trajectory`.

    Contacts (where the tracker's ids are not trusted, :mod:`tracking.engine.identity`):
      two detections of one frame whose IoU exceeds ``contact_iou`` or whose centres are closer
      than ``contact_distance_bl`` body lengths; a vanished track's last box (and a new track's
      first box) counts as a hidden animal for ``merge_window_s``; a box more than
      ``merged_box_factor`` body lengths across is two animals in one (0: off). Each contact
      widens by ``contact_pad_frames``; clean stretches under ``min_segment_frames`` count as
      contact.
    Linking a clean segment to an identity costs the negative log-likelihood of the motion
      discontinuity, in body lengths: the identity's last position extrapolated by its velocity
      (fitted over ``velocity_window_s``, fading with time constant ``velocity_persistence_s``)
      against the segment's start, and back, plus ``velocity_weight_s`` x the change of
      velocity, over a spread of ``position_sigma_bl`` + ``sigma_growth_bl_s`` x gap (at most
      ``max_sigma_bl``); plus ``size_weight`` x |log| box-diagonal ratio; minus
      ``continuity_bonus`` when the tracker kept one id through the contact (its Kalman
      filter saw every frame of it). ``new_slot_cost``: an identity not seen yet.
      ``link_gate_bl`` + ``max_speed_bl_s`` x gap: the farthest an animal can be from its
      prediction; beyond it a segment lasting ``far_link_min_s`` still takes a free identity
      (by elimination) at ``far_link_cost``, a shorter one does not; a shorter one costing
      more than ``short_link_max_cost`` is not linked either (a false detection more likely
      than the animal: it stays for hole filling). Segments starting within
      ``batch_window_s`` of each other are assigned jointly.
    Appearance (:mod:`tracking.engine.appearance`; with ``appearance`` on and N > 1): a model
      telling the animals apart is fitted on the longest stretch (at least
      ``appearance_min_fragment_s``) where all N are seen apart, then again with every other
      such stretch it labels ``appearance_accept_nats`` surer than any swap; if it is right on
      at least
      ``appearance_min_accuracy`` of the frames it was not fitted on, each link also costs
      ``-log(N x P(same animal))`` by look, capped at ``appearance_max_cost``, with one vote
      per ``appearance_decorrelation_s`` of a segment.
    Inside a contact a slot keeps the tracklet it followed a frame ago unless another
      detection is ``fill_continuity_bl`` body lengths closer to the slot's bridge.
    Gaps (:mod:`tracking.engine.gaps`): ``max_gap_s`` (interpolate gaps up to this long, time
      between the two bounding detections); ``outlier_factor`` (single-frame jumps longer than
      this x the animal's median box diagonal are flagged ``outlier``); ``drop_outliers``.
    Review (:func:`tracking.engine.identity.find_suspected_swaps`): ``swap_iou`` /
      ``swap_distance_bl``.
    ``min_score``: detections below this are discarded before anything else.
    The defaults were chosen on the two-mouse test video (the real mouse and its pasted copy,
    the Tiny model's detections) and on simulated crossings; see the identity tests.
    """

    min_score: float = 0.1
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    contact_iou: float = 0.3
    contact_distance_bl: float = 0.25
    merged_box_factor: float = 1.5
    contact_pad_frames: int = 2
    merge_window_s: float = 0.5
    min_segment_frames: int = 3
    velocity_window_s: float = 0.2
    velocity_persistence_s: float = 2.0
    link_gate_bl: float = 2.0
    max_speed_bl_s: float = 10.0
    new_slot_cost: float = 3.0
    far_link_cost: float = 10.0
    far_link_min_s: float = 0.5
    short_link_max_cost: float = 3.0
    batch_window_s: float = 1.0
    position_sigma_bl: float = 0.25
    sigma_growth_bl_s: float = 0.5
    max_sigma_bl: float = 3.0
    velocity_weight_s: float = 0.25
    continuity_bonus: float = 1.0
    fill_continuity_bl: float = 1.0
    size_weight: float = 0.5
    appearance: bool = True
    appearance_min_accuracy: float = 0.7
    appearance_min_fragment_s: float = 1.0
    appearance_decorrelation_s: float = 0.5
    appearance_max_cost: float = 10.0
    appearance_accept_nats: float = 4.6
    max_gap_s: float = 0.5
    outlier_factor: float = 1.0
    drop_outliers: bool = False
    swap_iou: float = 0.1
    swap_distance_bl: float = 1.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        self.tracker.validate()
        _check_range("min_score", self.min_score, 0.0, 1.0)
        _check_range("contact_iou", self.contact_iou, 0.0, 1.0)
        _check_range("swap_iou", self.swap_iou, 0.0, 1.0)
        _check_range("appearance_min_accuracy", self.appearance_min_accuracy, 0.0, 1.0)
        for name in (
            "contact_distance_bl",
            "merged_box_factor",
            "merge_window_s",
            "velocity_window_s",
            "velocity_persistence_s",
            "link_gate_bl",
            "max_speed_bl_s",
            "new_slot_cost",
            "far_link_cost",
            "far_link_min_s",
            "short_link_max_cost",
            "batch_window_s",
            "position_sigma_bl",
            "sigma_growth_bl_s",
            "max_sigma_bl",
            "velocity_weight_s",
            "continuity_bonus",
            "fill_continuity_bl",
            "size_weight",
            "appearance_min_fragment_s",
            "appearance_decorrelation_s",
            "appearance_max_cost",
            "appearance_accept_nats",
            "max_gap_s",
            "outlier_factor",
            "swap_distance_bl",
        ):
            _check_range(name, getattr(self, name), 0.0, 1e6)
        for name in ("contact_pad_frames", "min_segment_frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10_000:
                raise ValueError(f"{name} must be an integer in [0, 10000]")
        if self.position_sigma_bl <= 0 or self.max_sigma_bl < self.position_sigma_bl:
            raise ValueError("position_sigma_bl must be > 0 and at most max_sigma_bl")
        for name in ("drop_outliers", "appearance"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, nested: ``{"min_score": 0.1, "tracker": {...}, ...}``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackingParams:
        """Inverse of :meth:`to_dict`; missing keys take defaults, unknown keys are refused."""
        data = dict(data)
        tracker = data.pop("tracker", {}) or {}
        _refuse_unknown(data, cls, "")
        _refuse_unknown(tracker, TrackerConfig, "tracker.")
        return cls(tracker=TrackerConfig(**tracker), **data)


def _refuse_unknown(data: dict[str, Any], cls: type, prefix: str) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown tracking parameter {prefix}{unknown[0]}")


def _check_range(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high:g}]")
