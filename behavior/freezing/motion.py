"""Freezing of a tracking run's animals (ezTrack-style pixel change inside each box), when
asked: it is off by default because it decodes the whole video.

The video is decoded once, streaming, by the sandboxed decoder (one frame in memory at a
time); each frame is converted to greyscale and, per animal, the share of pixels of its
(dilated) box that changed since the previous frame is measured by
``behavior.core.freezing.MotionMeter``. That per-frame motion depends only on the video,
the trajectory (with its edits) and ``motion_cutoff``/``dilate_px``/``sigma``, so it is
cached under those; ``freeze_threshold`` and ``min_duration_s`` are applied on top (cheap),
giving each animal's per-frame freezing mask for ``behavior.core.analyze_run``.

Request parameters (names as in the API and the page): ``freezing`` (true/false),
``freeze_threshold`` (share of the box's pixels, default 0.02), ``motion_cutoff`` (grey
levels, default 10), ``min_freeze_s`` (default 1 s). Pages and the API refuse videos longer
than ``MAX_REQUEST_FRAMES`` frames (a request would take minutes); ``manage.py analyze
--freezing`` has no limit.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from django.core.cache import cache
from django.core.exceptions import ValidationError

from behavior.core import BehaviorInputError
from behavior.core.freezing import FreezingParams, MotionMeter, freezing_from_motion
from tracking.models import TrackingRun
from tracking.selectors import active_edit_state

# 10 minutes at 30 fps: decoding and measuring take about half a minute on one core.
MAX_REQUEST_FRAMES = 18_000
CACHE_SECONDS = 60 * 60
FREEZING_KEYS = ("freezing", "freeze_threshold", "motion_cutoff", "min_freeze_s")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


@dataclass(frozen=True)
class FreezingRequest:
    """What a request asked for; ``params`` is None when freezing is off."""

    params: FreezingParams | None

    def as_dict(self) -> dict[str, Any]:
        if self.params is None:
            return {"enabled": False}
        return {"enabled": True, **asdict(self.params)}


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ValidationError({name: "Must be a number."})
    try:
        return float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError({name: f"Must be a number, got {str(value)[:40]!r}."}) from None


def freezing_request(overrides: Mapping[str, Any] | None) -> tuple[FreezingRequest, dict]:
    """Split the freezing parameters off a request's analysis parameters:
    ``(FreezingRequest, the other parameters)``. ValidationError names the parameter."""
    rest = {k: v for k, v in (overrides or {}).items() if k not in FREEZING_KEYS}
    given = {k: v for k, v in (overrides or {}).items() if k in FREEZING_KEYS}
    on = given.get("freezing", False)
    if isinstance(on, str):
        if on.strip().lower() not in _TRUE | _FALSE:
            raise ValidationError({"freezing": "Must be true or false."})
        on = on.strip().lower() in _TRUE
    elif not isinstance(on, bool):
        raise ValidationError({"freezing": "Must be true or false."})
    kwargs: dict[str, float] = {}
    for key, field in (
        ("freeze_threshold", "freeze_threshold"),
        ("motion_cutoff", "motion_cutoff"),
        ("min_freeze_s", "min_duration_s"),
    ):
        value = given.get(key)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            kwargs[field] = _number(value, key)
    try:
        params = FreezingParams(**kwargs).checked()
    except BehaviorInputError as exc:
        name = {"min_duration_s": "min_freeze_s"}.get(exc.field, exc.field)
        raise ValidationError({name: exc.message}) from None
    return FreezingRequest(params if on else None), rest


def _motion_key(run: TrackingRun, params: FreezingParams) -> str:
    payload = {
        "run": run.pk,
        "file": run.trajectory.name,
        "sha": run.trajectory_sha256,
        "edits": active_edit_state(run=run),
        "video": run.video_id,
        "motion": [params.motion_cutoff, params.dilate_px, params.sigma],
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    return f"behavior-motion:{digest.hexdigest()}"


def motion_key(run: TrackingRun, params: FreezingParams) -> str:
    """A hex digest of everything a run's motion depends on (see the module docstring)."""
    return _motion_key(run, params).removeprefix("behavior-motion:")


def run_motion(
    *, run: TrackingRun, trajectory: Any, params: FreezingParams, max_frames: int | None
) -> np.ndarray:
    """float64 (F, N): per trajectory frame and animal, the share of the box's pixels that
    changed since the previous frame (NaN where not measured). Cached."""
    frames = np.asarray(trajectory.frames, dtype=np.int64)
    if max_frames is not None and frames.size > max_frames:
        raise ValidationError(
            {
                "freezing": f"The video has {frames.size} frames; freezing is computed on a "
                f"page for at most {max_frames} (use manage.py analyze --freezing)."
            }
        )
    key = _motion_key(run, params)
    cached = cache.get(key)
    if cached is not None:
        return np.load(io.BytesIO(cached))
    motion = measure_motion(run=run, trajectory=trajectory, params=params)
    buffer = io.BytesIO()
    np.save(buffer, motion)
    cache.set(key, buffer.getvalue(), CACHE_SECONDS)
    return motion


def measure_motion(
    *,
    run: TrackingRun,
    trajectory: Any,
    params: FreezingParams,
    on_frame: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """:func:`run_motion` without the cache or the page limit: decodes the video (one
    frame in memory). ``on_frame(done, total)`` is called after each trajectory frame (the
    background job beats its heartbeat and progress there, and may raise to stop)."""
    import cv2

    from labeling.videos.services import video_local_path
    from media.probe import VideoError
    from tracking.engine.frames import FrameDecodeError, sandboxed_source

    frames = np.asarray(trajectory.frames, dtype=np.int64)
    boxes = np.asarray(trajectory.boxes, dtype=np.float64)
    n = boxes.shape[1]
    row_of = {int(f): i for i, f in enumerate(frames)}
    changed = np.full((frames.size, n), np.nan)
    region = np.zeros((frames.size, n))
    meters = [MotionMeter(params) for _ in range(n)]
    video = run.video
    try:
        with video_local_path(video=video) as path:
            source = sandboxed_source(path, video)
            for frame in source.frames(int(frames[0]), int(frames[-1]) + 1):
                row = row_of.get(frame.index)
                if row is None:
                    continue
                grey = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
                for a, meter in enumerate(meters):
                    changed[row, a], region[row, a] = meter.update(grey, boxes[row, a])
                if on_frame is not None:
                    on_frame(row + 1, frames.size)
    except FrameDecodeError as exc:
        raise ValidationError(
            {"freezing": f"The video could not be decoded from frame {exc.frame} on."}
        ) from None
    except BehaviorInputError as exc:
        raise ValidationError({"freezing": exc.message}) from None
    except (VideoError, FileNotFoundError) as exc:
        # The video's file is gone (a registered file moved, storage lost): say so.
        raise ValidationError({"freezing": f"The video cannot be read: {exc}"[:300]}) from None
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(region > 0, changed / np.maximum(region, 1), np.nan)


def freezing_masks(
    *,
    run: TrackingRun,
    trajectory: Any,
    labels: list[Any],
    params: FreezingParams,
    max_frames: int | None = MAX_REQUEST_FRAMES,
    motion: np.ndarray | None = None,
) -> dict[Any, np.ndarray]:
    """Per animal label, bool (F,): the frames it froze (ezTrack's rule, see
    ``behavior.core.freezing``). ``motion``: already measured (a finished
    ``FreezingJob``); else measured here."""
    if motion is None:
        motion = run_motion(run=run, trajectory=trajectory, params=params, max_frames=max_frames)
    time_s = np.asarray(trajectory.time_s, dtype=np.float64)
    return {
        label: freezing_from_motion(
            time_s,
            motion[:, a],
            threshold=params.freeze_threshold,
            min_duration_s=params.min_duration_s,
        )
        for a, label in enumerate(labels)
    }
