"""The requests the child serves: probe a file, sample chosen frames, stream every frame."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .cut_short import incomplete_message
from .decode import decode_frames
from .packets import PacketIndex, build_index, open_video
from .rules import (
    DEDUP_THUMB_WIDTH,
    MIN_FRAMES,
    DecodeFailed,
    FileRejected,
    check_frame_size,
    indices_every_seconds,
    indices_uniform,
)

if TYPE_CHECKING:
    from .child import MessageChannel

# Messages a stream may send ahead of the parent: about 9 VGA frames, never under one.
_STREAM_AHEAD_BYTES = 8 << 20


def probe_in_child(
    path: str, threads: int, *, strict: bool, out: MessageChannel | None = None
) -> dict[str, Any]:
    """The fields of a ``media.probe.VideoInfo``."""
    index = build_index(path, threads, strict=strict, alive=out.alive if out else None)
    container, stream = open_video(path, threads)
    codec = stream.codec_context.codec.canonical_name
    container_name = container.format.name
    declared = int(stream.frames or 0) or None
    container.close()
    warnings = list(index.warnings)
    count = int(index.pts.size)
    if count == 0:
        raise FileRejected("The video has no frames.")
    if count < MIN_FRAMES:
        raise FileRejected(
            "The video has only one frame; a video needs at least "
            f"{MIN_FRAMES}. Single images belong in an image set."
        )

    sizes: list[tuple[int, int]] = []

    def check_frame(frame: Any, pts: int) -> None:
        check_frame_size(frame.width, frame.height)
        sizes.append((frame.width, frame.height))

    def alive(pos: int) -> None:
        if out is not None:
            out.alive()

    first = decode_frames(path, threads, index, {int(index.pts[0])}, check_frame, on_position=alive)
    if not first:
        raise FileRejected("The first frame of the video cannot be decoded; the file is damaged.")
    width, height = sizes[0]

    # The last frames: decode the last GOP in full (no skipping: every frame counts);
    # if nothing there decodes, step back a GOP, up to three times.
    last = -1
    gop_starts = [int(p) for p in index.entry_pos.tolist()] or [0]
    for back in range(1, 4):
        if back > len(gop_starts):
            break
        start = gop_starts[-back]
        tail = {int(p) for p in index.dec_pts[start:].tolist()}
        decoded = decode_frames(
            path, threads, index, tail, check_frame, skip_nonref=False, on_position=alive
        )
        if decoded:
            last = int(np.searchsorted(index.pts, max(decoded)))
            break
    if last < 0:
        raise FileRejected("The end of the video cannot be decoded; the file is damaged.")
    real = last + 1
    if any(size != (width, height) for size in sizes):
        raise FileRejected("The video changes its frame size part way; this is not supported.")
    if real < MIN_FRAMES:
        raise FileRejected("The video has only one frame that can be decoded.")
    # A header's count includes the frames an edit list hides.
    declared_shown = declared - index.discarded if declared is not None else None
    if real < count or (declared_shown is not None and declared_shown > real):
        claimed = max(count, declared_shown or 0)
        if strict:
            raise FileRejected(
                incomplete_message(path)
                or f"The video's header claims {claimed} frames but only {real} can be "
                "decoded; the file is truncated or damaged."
            )
        warnings.append(
            f"The file claims {claimed} frames but only {real} can be decoded; using {real}."
        )
    pts = index.pts[:real]
    span = float((int(pts[-1]) - int(pts[0])) * index.time_base)
    deltas = np.diff(pts).astype(np.float64)
    typical = float(np.median(deltas))
    if span <= 0 or typical <= 0:
        raise FileRejected("The video's timestamps are broken.")
    variable = bool(np.any(np.abs(deltas - typical) > 0.1 * typical))
    return {
        "frame_count": real,
        "fps": (real - 1) / span,
        "width": width,
        "height": height,
        "duration_s": span + typical * float(index.time_base),
        "codec": codec,
        "container": container_name,
        "declared_frame_count": declared,
        "variable_frame_rate": variable,
        "warnings": warnings,
    }


def _targets_for(plan: dict[str, Any], index: PacketIndex) -> list[int]:
    """Indices (presentation order) the plan asks for."""
    count = int(index.pts.size)
    kind = plan["kind"]
    if kind == "every_seconds":
        seconds = (index.pts - index.pts[0]).astype(np.float64) * float(index.time_base)
        return indices_every_seconds(seconds, plan["seconds"])
    if kind == "uniform":
        return indices_uniform(count, plan["n"])
    if kind == "indices":
        wanted = [int(i) for i in plan["indices"]]
        beyond = [i for i in wanted if i >= count]
        if beyond:
            raise DecodeFailed(
                f"Frame {beyond[0]} does not exist: the video has {count} frames "
                f"(0 to {count - 1})."
            )
        return wanted
    raise ValueError(f"unknown plan {kind!r}")


def _thumb(frame: Any, width: int) -> np.ndarray:
    height = max(1, round(frame.height * width / frame.width))
    small = frame.reformat(width=width, height=height, format="gray", interpolation="AREA")
    return small.to_ndarray()


def sample_in_child(request: dict[str, Any], out: MessageChannel) -> None:
    path = request["path"]
    threads = request["threads"]
    index = build_index(path, threads, strict=False, alive=out.alive)
    count = int(index.pts.size)
    if count == 0:
        raise FileRejected("The video has no frames.")
    wanted = _targets_for(request["plan"], index)
    skip = set(request["skip"])
    similar = request["skip_similar"]
    output = request["output"]
    # Already-sampled frames are only decoded when they are needed as the reference
    # for near-duplicate skipping.
    if similar is None:
        wanted = [i for i in wanted if i not in skip]
    targets = {int(index.pts[i]) for i in wanted}
    state = {"kept": 0, "similar": 0, "size": None, "reference": None, "pos": 0}

    def report(force: bool = False) -> None:
        out.progress(
            force,
            frames_done=min(count, state["pos"]),
            frame_count=count,
            frames_kept=state["kept"],
            frames_similar=state["similar"],
            frames_failed=0,
        )

    def on_position(pos: int) -> None:
        state["pos"] = pos + 1
        report()

    def on_frame(frame: Any, pts: int) -> None:
        frame_index = int(np.searchsorted(index.pts, pts))
        size = (frame.width, frame.height)
        if state["size"] is None:
            check_frame_size(*size)
            state["size"] = size
        elif size != state["size"]:
            raise DecodeFailed(
                f"The video changes its frame size at frame {frame_index} "
                f"({state['size'][0]}×{state['size'][1]} to {size[0]}×{size[1]}); "
                "this is not supported."
            )
        if similar is not None:
            thumb = _thumb(frame, DEDUP_THUMB_WIDTH).astype(np.int16)
            reference = state["reference"]
            if frame_index in skip:
                state["reference"] = thumb
                return
            if reference is not None:
                difference = float(np.abs(thumb - reference).mean()) / 255.0
                if difference < similar:
                    state["similar"] += 1
                    return
            state["reference"] = thumb
        if output == "gray":
            image = np.ascontiguousarray(_thumb(frame, request["thumb_width"]))
        else:
            image = np.ascontiguousarray(frame.to_ndarray(format="bgr24"))
        state["kept"] += 1
        out.send(
            {
                "type": "frame",
                "index": frame_index,
                "timestamp_s": index.seconds(pts),
                "shape": list(image.shape),
            },
            image.data,
        )

    decoded = decode_frames(path, threads, index, targets, on_frame, on_position=on_position)
    state["pos"] = count
    out.progress(
        True,
        frames_done=count,
        frame_count=count,
        frames_kept=state["kept"],
        frames_similar=state["similar"],
        frames_failed=len(targets) - len(decoded),
    )


def stream_in_child(request: dict[str, Any], out: MessageChannel) -> None:
    """Send frames ``start, start + every, ...`` below ``stop`` (None: to the end) in order,
    each as soon as it is decoded; the decoder only skips what none of them needs, as a
    sampler does, so frame ``i`` here is the sampler's frame ``i``, pixels included.

    A frame the file holds but that does not come out of the decoder, and a file that ends
    before the frames it claims (a header count, or data cut short), stop the stream with
    ``DecodeFailed`` carrying ``frame_index``: the first frame not sent, all wanted frames before
    it having been sent.
    """
    path = request["path"]
    threads = request["threads"]
    start, stop, every = request["start"], request["stop"], request["every"]
    out.write_ahead(_STREAM_AHEAD_BYTES)
    index = build_index(path, threads, strict=False, alive=out.alive)
    count = int(index.pts.size)
    if count == 0:
        raise FileRejected("The video has no frames.")
    container, stream = open_video(path, threads)
    declared = int(stream.frames or 0)
    container.close()
    # What the file claims to hold: its header's count (less the frames an edit list hides),
    # or at least one more than was read when reading stopped at damaged data.
    claimed = max(count + int(index.truncated), declared - index.discarded)
    end = count if stop is None else min(stop, count)
    state: dict[str, Any] = {"next": start, "size": None}

    def on_frame(frame: Any, pts: int) -> None:
        frame_index = int(np.searchsorted(index.pts, pts))
        if frame_index != state["next"]:  # a wanted frame did not come out of the decoder
            raise DecodeFailed(_unreadable(state["next"]), frame_index=state["next"])
        size = (frame.width, frame.height)
        if state["size"] is None:
            check_frame_size(*size)
            state["size"] = size
        elif size != state["size"]:
            raise DecodeFailed(
                f"The video changes its frame size at frame {frame_index} "
                f"({state['size'][0]}×{state['size'][1]} to {size[0]}×{size[1]}); "
                "this is not supported.",
                frame_index=frame_index,
            )
        # A view of the converted frame's buffer (no copy), written straight to the pipe.
        image = frame.to_ndarray(format="bgr24")
        out.send(
            {
                "type": "frame",
                "index": frame_index,
                "timestamp_s": index.seconds(pts),
                "shape": list(image.shape),
            },
            np.ascontiguousarray(image).data,
        )
        state["next"] = frame_index + every

    if start < end:
        targets = {int(p) for p in index.pts[start:end:every].tolist()}
        decode_frames(path, threads, index, targets, on_frame, on_position=lambda pos: out.alive())
        if state["next"] < end:
            raise DecodeFailed(_unreadable(state["next"]), frame_index=state["next"])
    if (stop is None or stop > count) and claimed > count:
        raise DecodeFailed(
            f"The video file ends after frame {count - 1} but claims {claimed} frames; it "
            f"is truncated or damaged (frame {count} cannot be read).",
            frame_index=count,
        )


def _unreadable(frame_index: int) -> str:
    return (
        f"Frame {frame_index} of the video could not be decoded; the file is damaged "
        "(the frames before it were read)."
    )
