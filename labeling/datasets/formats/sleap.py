"""SLEAP labels files (``.slp``, HDF5) read with ``sleap-io``. Pure module: no Django.

SLEAP's own library reads the file (no reader of ours: the format is HDF5 with SLEAP's
own structured tables and versions, which sleap-io follows). What comes out is plain data:
the skeleton (nodes in order, edges, SLEAP's symmetries as left/right pairs) and, per
frame index of each video, the instances with their points in original-image pixels,
whether a model predicted them (``PredictedInstance``, with a score) or a user placed them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from labeling.annotations.keypoints import SkeletonError, SkeletonSpec, skeleton_from

from .base import FormatError


@dataclass
class SleapInstance:
    """One animal: ``points`` ``[[x, y, v], ...]`` in skeleton order (v 2 where SLEAP has a
    point, 0 where it has NaN); ``score`` is the instance score of a prediction."""

    points: list[list]
    predicted: bool
    score: float | None = None
    track: str = ""


@dataclass
class SleapVideo:
    filename: str
    width: int | None
    height: int | None
    frames: dict[int, list[SleapInstance]] = field(default_factory=dict)


@dataclass
class SleapFile:
    skeleton: SkeletonSpec
    videos: list[SleapVideo]


def read_slp(path: Path) -> SleapFile:
    """Read ``path``; FormatError when sleap-io cannot, or the file has no usable skeleton."""
    import sleap_io  # heavy (HDF5, pandas): imported when a file is read

    try:
        labels = sleap_io.load_slp(str(path), open_videos=False)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's problem
        raise FormatError([f"{Path(path).name}: not a SLEAP labels file ({exc})"]) from None
    if len(labels.skeletons) != 1:
        raise FormatError([f"{len(labels.skeletons)} skeletons; one is supported"])
    skeleton = labels.skeletons[0]
    names = list(skeleton.node_names)
    try:
        spec = skeleton_from(
            keypoints=names,
            edges=[list(e) for e in skeleton.edge_inds],
            flip_pairs=[list(p) for p in getattr(skeleton, "symmetry_inds", [])],
        )
    except SkeletonError as exc:
        raise FormatError([f"skeleton: {k}: {v}" for k, v in exc.errors.items()]) from None
    videos: dict[int, SleapVideo] = {}
    for video in labels.videos:
        shape = getattr(video, "shape", None) or (None, None, None, None)
        videos[id(video)] = SleapVideo(
            filename=str(video.filename), width=shape[2], height=shape[1]
        )
    for frame in labels.labeled_frames:
        target = videos[id(frame.video)]
        for instance in frame.instances:
            points = []
            for x, y in instance.numpy():
                ok = math.isfinite(float(x)) and math.isfinite(float(y))
                points.append([float(x), float(y), 2] if ok else [0.0, 0.0, 0])
            if not any(p[2] for p in points):
                continue
            predicted = type(instance).__name__ == "PredictedInstance"
            score = getattr(instance, "score", None) if predicted else None
            track = instance.track.name if instance.track is not None else ""
            target.frames.setdefault(int(frame.frame_idx), []).append(
                SleapInstance(points, predicted, None if score is None else float(score), track)
            )
    return SleapFile(skeleton=spec, videos=list(videos.values()))


def box_around(points: list[list], width: int, height: int, pad: float = 0.1) -> tuple:
    """(x, y, w, h) around the labeled points, widened by ``pad`` of its size on each side
    (at least 4 px: a SLEAP instance has no box, and points sit on the body's outline
    rather than outside it), clipped to the image."""
    xs = [p[0] for p in points if p[2]]
    ys = [p[1] for p in points if p[2]]
    px = max(4.0, (max(xs) - min(xs)) * pad)
    py = max(4.0, (max(ys) - min(ys)) * pad)
    x0, y0 = max(0.0, min(xs) - px), max(0.0, min(ys) - py)
    x1, y1 = min(float(width), max(xs) + px), min(float(height), max(ys) + py)
    return (round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2))
