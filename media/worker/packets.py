"""Opening a file with only the allowed demuxers, and indexing its packets."""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .cut_short import incomplete_message
from .entry_points import entry_point_test
from .rules import (
    ALLOWED_CODECS,
    ALLOWED_CONTAINERS,
    CONTAINER_NAMES,
    MAX_FRAMES,
    FileRejected,
    check_frame_size,
)


@dataclass
class PacketIndex:
    """Every video packet of the file, from one demux pass without decoding.

    ``dec_pts``: PTS of each packet in decode (file) order; ``entry_pos``: decode positions
    of the keyframes where decoding may start (see the module notes); ``pts``: the
    distinct PTS of the frames shown, sorted (presentation order), so a frame's index is
    its position in ``pts``. Units: ``time_base`` seconds. Packets an edit list discards (a
    file cut with ``ffmpeg -ss ... -c copy`` starts with the frames before the cut, decoded
    for reference but never shown) are in ``dec_pts`` but not in ``pts``, as in every
    player and in OpenCV's frame numbering.
    """

    dec_pts: np.ndarray
    entry_pos: np.ndarray
    pts: np.ndarray
    time_base: Fraction
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False
    discarded: int = 0

    def seconds(self, pts: int) -> float:
        return float((pts - int(self.pts[0])) * self.time_base)


def open_video(path: str, threads: int) -> tuple[Any, Any]:
    """Open ``path`` with only allowed demuxers and the file protocol; pick the video
    stream and set up its decoder. Raises ``FileRejected``."""
    import av

    options = {
        "format_whitelist": ",".join(sorted(ALLOWED_CONTAINERS)),
        # No demuxer may open another file or URL (HLS playlists, concat lists, MOV
        # external references): those are the classic upload-to-local-file-read tricks.
        "protocol_whitelist": "file",
    }
    try:
        container = av.open(path, mode="r", options=options)
    except av.error.InvalidDataError:
        # A camera MP4 cut short has lost its index (written last): say so, not "no video".
        raise FileRejected(
            incomplete_message(path)
            or "The file is not a video we can read: its contents are not a recognised "
            "video format (whatever its name says)."
        ) from None
    except av.error.ArgumentError:
        raise FileRejected(
            f"The file is not in a supported video container ({CONTAINER_NAMES})."
        ) from None
    except av.error.FFmpegError as exc:
        raise FileRejected(
            incomplete_message(path) or f"The file could not be opened as a video ({exc.strerror})."
        ) from None
    streams = [
        s
        for s in container.streams.video
        if not (s.disposition & av.stream.Disposition.attached_pic)  # cover art
    ]
    if not streams:
        container.close()
        raise FileRejected("The file contains no video stream.")
    stream = streams[0]
    ctx = stream.codec_context
    # canonical_name: "av1" whichever decoder (libdav1d, native) ffmpeg picked.
    codec = ctx.codec.canonical_name if ctx is not None and ctx.codec is not None else ""
    if ctx is None or codec not in ALLOWED_CODECS:
        container.close()
        raise FileRejected(
            f"The video uses the codec “{codec or 'unknown'}”, which is not supported; "
            "please convert it to H.264 MP4."
        )
    check_frame_size(ctx.width, ctx.height, allow_unknown=True)
    stream.thread_type = "AUTO"
    ctx.thread_count = threads
    return container, stream


def build_index(
    path: str, threads: int, *, strict: bool, alive: Callable[[], None] | None = None
) -> PacketIndex:
    """Demux every packet of the video stream (no decoding). ``alive`` is called every
    4096 packets, so the parent can tell a long index pass from a hang."""
    import av

    container, stream = open_video(path, threads)
    is_entry = entry_point_test(stream.codec_context)
    dec_pts = array("q")
    entries = array("q")
    shown = bytearray()
    truncated = False
    warnings = []
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the end-of-stream marker
            if packet.is_corrupt:
                truncated = True  # a packet cut short: the file ends mid-frame
                continue
            pts = packet.pts if packet.pts is not None else packet.dts
            if pts is None:
                raise FileRejected(
                    "The video has no timestamps (a raw stream?); please put it in an "
                    "MP4 or MKV container."
                )
            if packet.is_keyframe and is_entry(packet):
                entries.append(len(dec_pts))
            dec_pts.append(pts)
            shown.append(0 if packet.is_discard else 1)
            if alive is not None and len(dec_pts) % 4096 == 0:
                alive()
            if len(dec_pts) > MAX_FRAMES:
                raise FileRejected(f"The video has more than {MAX_FRAMES:,} frames.")
    except av.error.FFmpegError as exc:
        if isinstance(exc, MemoryError):
            raise
        truncated = True
        warnings.append(
            f"The file is damaged or truncated after {len(dec_pts)} frames "
            f"({exc.strerror}); only those are used."
        )
    finally:
        time_base = stream.time_base
        container.close()
    if truncated and strict:
        raise FileRejected(incomplete_message(path) or "The video file is truncated or damaged.")
    decode_order = np.frombuffer(dec_pts, dtype=np.int64).copy()
    visible = np.frombuffer(bytes(shown), dtype=np.uint8).astype(bool)
    presentation = np.unique(decode_order[visible])
    repeated = int(visible.sum()) - presentation.size
    if repeated:
        warnings.append(f"{repeated} frames repeat another frame's timestamp and are ignored.")
    if time_base is None:
        raise FileRejected("The video has no time base; it cannot be indexed.")
    return PacketIndex(
        dec_pts=decode_order,
        entry_pos=np.frombuffer(entries, dtype=np.int64).copy(),
        pts=presentation,
        time_base=Fraction(time_base),
        warnings=warnings,
        truncated=truncated,
        discarded=int(decode_order.size - visible.sum()),
    )
