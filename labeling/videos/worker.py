"""The decoding half of :mod:`labeling.videos.sampling`: what runs inside the sandboxed child.

:mod:`labeling.videos.sandbox` runs this file as a script (``python -I worker.py
--video-worker``) under resource limits; it reads one JSON request on stdin and answers
with messages on stdout (``[4-byte length][JSON header][payload]``). Because ``-I`` keeps
the project off ``sys.path`` (nothing beside this file may shadow a module in the child),
this module imports only the standard library, numpy and PyAV, and holds everything the
child needs: what files are acceptable, which frames a plan selects, the packet index,
the decoding loop, probing and sampling. :mod:`labeling.videos.sampling` re-exports the public
pieces (the constants and the ``indices_*`` helpers). PyAV is only imported inside
functions, so importing this module in the web or Celery process does not load ffmpeg.

Frame indices, timestamps and images follow the conventions of :mod:`labeling.videos.sampling`.

Speed: a sampler demuxes the file once to index its packets (cheap: no decoding), works
out which frames it wants, then decodes once, in order, with these savings measured on the
lab videos (see ``bench/sample_frames.py``):
- only the frames kept are converted to BGR; the rest stay in the decoder's YUV;
- packets that no kept frame depends on are never decoded: non-reference frames (most
  B-frames) through the decoder's ``skip_frame``, and whole stretches between *entry
  points* with no kept frame are not even sent to the decoder (like a seek, but without
  re-reading the index);
- the decoder runs frame-threaded.

Jumping over a stretch is only safe where a fresh decoder really starts clean, so:
- Entry points are keyframes proven to be random-access points, not whatever the container
  flags: for H.264 an IDR picture, or an I-picture whose recovery-point SEI says it is
  exact at once (open-GOP x264); for HEVC an IRAP picture (IDR, CRA, BLA). Other codecs'
  keyframes are trusted (MPEG-1/2/4 I-pictures, VPx and AV1 key frames, intra-only
  codecs): each decodes on its own, and so does what follows it. Pictures shown before
  their entry point (open-GOP leading pictures) are decoded from the previous one.
- The decoder is primed with the stream's first entry point before any jump: some stream
  state is only written there, and a flush keeps it, so one intra frame decoded up front
  is enough. x264 writes its version in an SEI of the first picture only, and FFmpeg
  decodes High 4:4:4 streams from x264 before core 151 with a workaround for a bug of
  those encoders only once it has seen that SEI: without it, a frame taken alone from any
  GOP after the first of the lab recording (x264 core 148) comes out as green garbage.
- After each jump, the entry picture must come out of the decoder as a key frame without
  errors before anything of that stretch is used; otherwise the decode starts over from
  the beginning of the file without jumping (frames already given are not given again).
"""

from __future__ import annotations

import json
import math
import os
import signal
import struct
import sys
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

MAX_DIMENSION = 8192
MIN_FRAMES = 2
# About 27 hours at 30 fps: more packets than that is a crafted file or a mistake.
MAX_FRAMES = 3_000_000

# ffmpeg demuxer names (as ffmpeg spells them) accepted for upload.
ALLOWED_CONTAINERS = frozenset(
    {
        "mov,mp4,m4a,3gp,3g2,mj2",  # .mp4 .mov .m4v
        "avi",
        "matroska,webm",  # .mkv .webm
        "mpeg",  # MPEG program stream
        "mpegts",
    }
)
# ffmpeg codec names of the video codecs lab cameras and converters write.
ALLOWED_CODECS = frozenset(
    {
        "h264",
        "hevc",
        "mpeg4",  # also XVID/DIVX and OpenCV's "mp4v"
        "msmpeg4v2",
        "msmpeg4v3",
        "mjpeg",
        "vp8",
        "vp9",
        "av1",
        "mpeg1video",
        "mpeg2video",
        "ffv1",
        "rawvideo",
        "prores",
    }
)
CONTAINER_NAMES = "MP4/MOV, AVI, MKV/WebM or MPEG-PS/TS"

# Dedup thumbnails are this wide (grayscale); the height keeps the aspect ratio.
DEDUP_THUMB_WIDTH = 64

_PROGRESS_INTERVAL_S = 0.2
_STDERR_LIMIT_BYTES = 1 << 20


# --------------------------------------------------------------------------------------
# Pure frame selection (timestamps and counts in, indices out)


def indices_every_seconds(timestamps_s: Sequence[float], seconds: float) -> list[int]:
    """Indices of the frames nearest to times 0, ``seconds``, 2 * ``seconds``, ...

    ``timestamps_s``: presentation timestamps in increasing order, the first frame at 0
    (or not: times are counted from the first). A target time past the last frame by more
    than half a frame interval is not taken. When a gap in a variable-frame-rate file puts
    one frame nearest to several targets, it is taken once.
    """
    if not seconds > 0 or not math.isfinite(seconds):
        raise ValueError("seconds must be a positive number")
    ts = np.asarray(timestamps_s, dtype=np.float64)
    if ts.size == 0:
        return []
    rel = ts - ts[0]
    # Half the typical frame interval: a frame that late still counts as "at" the target
    # (frame 45 of a 29.9997 fps file is at 1.499985 s, and is the 1.5 s frame).
    half_frame = 0.5 * float(np.median(np.diff(rel))) if rel.size > 1 else 0.0
    count = int(math.floor((rel[-1] + half_frame) / seconds + 1e-9)) + 1
    targets = np.arange(count, dtype=np.float64) * seconds
    right = np.clip(np.searchsorted(rel, targets, side="left"), 0, rel.size - 1)
    left = np.clip(right - 1, 0, rel.size - 1)
    # On a tie the earlier frame wins: it is the one on screen at the target time.
    nearest = np.where(np.abs(rel[left] - targets) <= np.abs(rel[right] - targets), left, right)
    return sorted({int(i) for i in nearest})


def indices_uniform(frame_count: int, n: int) -> list[int]:
    """``n`` indices spread evenly over ``frame_count`` frames, first and last included
    (all of them when ``n >= frame_count``)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    if frame_count <= 0:
        return []
    if n >= frame_count:
        return list(range(frame_count))
    if n == 1:
        return [0]
    return sorted({int(round(x)) for x in np.linspace(0, frame_count - 1, n)})


# --------------------------------------------------------------------------------------
# The child process: limits, message channel, request dispatch


class _Reject(Exception):
    """The file is not an acceptable video; the message is for a person."""


class _Fail(Exception):
    """Sampling cannot go on; the message is for a person."""


def _apply_limits(memory_limit_bytes: int, cpu_limit_s: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit_s, cpu_limit_s + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # The child writes no files; stderr (a temp file) is capped, and going over the cap
    # fails the write instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (_STDERR_LIMIT_BYTES, _STDERR_LIMIT_BYTES))


class _Out:
    """The child's message channel: a private copy of stdout, so that a C library
    printing to fd 1 cannot corrupt the protocol."""

    def __init__(self) -> None:
        self._file = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
        self._last_progress = 0.0

    def send(self, header: dict[str, Any], payload: Any = None) -> None:
        if payload is not None:
            header["nbytes"] = memoryview(payload).nbytes
        data = json.dumps(header).encode()
        self._file.write(struct.pack(">I", len(data)) + data)
        if payload is not None:
            self._file.write(payload)
        self._file.flush()

    def alive(self) -> None:
        """Tell the parent the child is working (it ignores the message)."""
        now = time.monotonic()
        if now - self._last_progress >= _PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.send({"type": "alive"})

    def progress(self, force: bool = False, **values: int) -> None:
        now = time.monotonic()
        if force or now - self._last_progress >= _PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.send({"type": "progress", "progress": values})


def worker_main() -> int:
    """Serve one request read from stdin (see :func:`labeling.videos.sandbox.run_worker`)."""
    request = json.loads(sys.stdin.buffer.read())
    _apply_limits(request["memory_limit_bytes"], request["cpu_limit_s"])
    out = _Out()
    try:
        import av  # noqa: F401 - loaded under the limits, before the file is touched
    except (ImportError, MemoryError, OSError) as exc:
        out.send(
            {
                "type": "error",
                "message": "The video decoder could not start within its memory limit "
                f"({request['memory_limit_bytes'] // 1024**2} MiB); raise the limit.",
                "detail": repr(exc),
            }
        )
        return 0
    try:
        if request["op"] == "probe":
            info = _probe(request["path"], request["threads"], strict=request["strict"], out=out)
            out.send({"type": "info", "info": info})
        else:
            _sample_in_child(request, out)
        out.send({"type": "done"})
    except _Reject as exc:
        out.send({"type": "error", "reject": True, "message": str(exc)})
    except _Fail as exc:
        out.send({"type": "error", "message": str(exc)})
    except MemoryError:
        out.send(
            {
                "type": "error",
                "message": "Decoding the video needed more than the "
                f"{request['memory_limit_bytes'] // 1024**2} MiB of memory allowed.",
            }
        )
    except BrokenPipeError:
        return 1  # the parent stopped listening (generator closed)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the file's fault
        import traceback

        out.send(
            {
                "type": "error",
                "message": "The video could not be decoded; it is damaged or not supported.",
                "detail": "".join(traceback.format_exception(exc))[-4000:],
            }
        )
    return 0


# --------------------------------------------------------------------------------------
# Opening a file and indexing its packets


@dataclass
class _Index:
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


def _open(path: str, threads: int) -> tuple[Any, Any]:
    """Open ``path`` with only allowed demuxers and the file protocol; pick the video
    stream and set up its decoder. Raises ``_Reject``."""
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
        raise _Reject(
            "The file is not a video we can read: its contents are not a recognised "
            "video format (whatever its name says)."
        ) from None
    except av.error.ArgumentError:
        raise _Reject(
            f"The file is not in a supported video container ({CONTAINER_NAMES})."
        ) from None
    except av.error.FFmpegError as exc:
        raise _Reject(f"The file could not be opened as a video ({exc.strerror}).") from None
    streams = [
        s
        for s in container.streams.video
        if not (s.disposition & av.stream.Disposition.attached_pic)  # cover art
    ]
    if not streams:
        container.close()
        raise _Reject("The file contains no video stream.")
    stream = streams[0]
    ctx = stream.codec_context
    # canonical_name: "av1" whichever decoder (libdav1d, native) ffmpeg picked.
    codec = ctx.codec.canonical_name if ctx is not None and ctx.codec is not None else ""
    if ctx is None or codec not in ALLOWED_CODECS:
        container.close()
        raise _Reject(
            f"The video uses the codec “{codec or 'unknown'}”, which is not supported; "
            "please convert it to H.264 MP4."
        )
    _check_size(ctx.width, ctx.height, allow_unknown=True)
    stream.thread_type = "AUTO"
    ctx.thread_count = threads
    return container, stream


def _check_size(width: int, height: int, *, allow_unknown: bool = False) -> None:
    if allow_unknown and width == 0 and height == 0:
        return  # some containers only know after decoding; checked on every frame
    if width <= 0 or height <= 0:
        raise _Reject(f"The video's frame size ({width}×{height}) is invalid.")
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        raise _Reject(
            f"The video's frames are {width}×{height} pixels; at most "
            f"{MAX_DIMENSION}×{MAX_DIMENSION} is supported."
        )


def _build_index(
    path: str, threads: int, *, strict: bool, alive: Callable[[], None] | None = None
) -> _Index:
    """Demux every packet of the video stream (no decoding). ``alive`` is called every
    4096 packets, so the parent can tell a long index pass from a hang."""
    import av

    container, stream = _open(path, threads)
    is_entry = _entry_point_test(stream.codec_context)
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
                raise _Reject(
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
                raise _Reject(f"The video has more than {MAX_FRAMES:,} frames.")
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
        raise _Reject("The video file is truncated or damaged.")
    decode_order = np.frombuffer(dec_pts, dtype=np.int64).copy()
    visible = np.frombuffer(bytes(shown), dtype=np.uint8).astype(bool)
    presentation = np.unique(decode_order[visible])
    repeated = int(visible.sum()) - presentation.size
    if repeated:
        warnings.append(f"{repeated} frames repeat another frame's timestamp and are ignored.")
    if time_base is None:
        raise _Reject("The video has no time base; it cannot be indexed.")
    return _Index(
        dec_pts=decode_order,
        entry_pos=np.frombuffer(entries, dtype=np.int64).copy(),
        pts=presentation,
        time_base=Fraction(time_base),
        warnings=warnings,
        truncated=truncated,
        discarded=int(decode_order.size - visible.sum()),
    )


# --------------------------------------------------------------------------------------
# Entry points: which keyframes a fresh decoder can really start from


def _entry_point_test(ctx: Any) -> Callable[[Any], bool]:
    """A test of keyframe packets for ``ctx``'s codec: True when decoding may start there.

    H.264 and HEVC flag recovery points and open-GOP I-pictures as keyframes too, so their
    NAL units are read; other codecs' keyframes are reset points."""
    codec = ctx.codec.canonical_name
    if codec not in ("h264", "hevc"):
        return lambda packet: True
    length_size = _nal_length_size(bytes(ctx.extradata or b""), codec)
    test = _h264_entry if codec == "h264" else _hevc_entry

    def is_entry(packet: Any) -> bool:
        try:
            return test(_nal_units(bytes(packet), length_size))
        except (IndexError, ValueError):
            return False  # unreadable headers: not trusted as an entry point

    return is_entry


def _nal_length_size(extradata: bytes, codec: str) -> int | None:
    """Bytes of each NAL unit's length prefix (MP4, MKV: from the avcC/hvcC record), or
    None for Annex B start codes (MPEG-TS, MPEG-PS, or no record)."""
    if not extradata or extradata[0] != 1:
        return None
    offset = 4 if codec == "h264" else 21
    if len(extradata) <= offset:
        return None
    return (extradata[offset] & 3) + 1


def _nal_units(data: bytes, length_size: int | None) -> Iterator[bytes]:
    """The NAL units of one packet, headers first, without their prefix."""
    if length_size is not None:
        pos = 0
        while pos + length_size <= len(data):
            size = int.from_bytes(data[pos : pos + length_size], "big")
            pos += length_size
            if size == 0 or pos + size > len(data):
                return
            yield data[pos : pos + size]
            pos += size
        return
    start = data.find(b"\x00\x00\x01")
    while start >= 0:
        end = data.find(b"\x00\x00\x01", start + 3)
        yield data[start + 3 : end if end >= 0 else len(data)]
        start = end


def _h264_entry(nals: Iterable[bytes]) -> bool:
    """An IDR picture, or a non-IDR picture with a recovery-point SEI of 0 frames."""
    exact_at_once = False
    for nal in nals:
        if not nal:
            continue
        kind = nal[0] & 0x1F
        if kind == 5:  # IDR slice
            return True
        if kind == 6 and _h264_recovery_frame_count(nal[1:]) == 0:
            exact_at_once = True
        if kind == 1:  # the picture's first (non-IDR) slice: the SEIs came before it
            return exact_at_once
    return False


def _hevc_entry(nals: Iterable[bytes]) -> bool:
    """An IRAP picture (BLA, IDR, CRA: NAL types 16 to 23)."""
    for nal in nals:
        if not nal:
            continue
        kind = (nal[0] >> 1) & 0x3F
        if kind < 32:  # the first slice decides
            return 16 <= kind <= 23
    return False


def _h264_recovery_frame_count(payload: bytes) -> int | None:
    """``recovery_frame_cnt`` of the recovery-point message in an H.264 SEI NAL payload
    (after its header byte), or None when it has none."""
    data = payload.replace(b"\x00\x00\x03", b"\x00\x00")  # emulation prevention bytes
    pos = 0
    while pos < len(data) and data[pos:] != b"\x80":  # rbsp_trailing_bits end it
        kind = size = 0
        while data[pos] == 0xFF:
            kind, pos = kind + 255, pos + 1
        kind, pos = kind + data[pos], pos + 1
        while data[pos] == 0xFF:
            size, pos = size + 255, pos + 1
        size, pos = size + data[pos], pos + 1
        if kind == 6:  # recovery point: ue(v) recovery_frame_cnt comes first
            return _read_ue(data[pos : pos + size])
        pos += size
    return None


def _read_ue(data: bytes) -> int:
    """The first unsigned Exp-Golomb number of ``data``."""
    bits = int.from_bytes(data[:8], "big")
    width = 8 * min(len(data), 8)
    zeros = width - bits.bit_length()
    if bits == 0 or 2 * zeros + 1 > width:
        raise ValueError("Exp-Golomb number too long")
    return (bits >> (width - 2 * zeros - 1)) - 1


# --------------------------------------------------------------------------------------
# Decoding chosen frames


class _BadJump(Exception):
    """The picture decoding jumped to did not come out as a clean key frame."""


def _frame_pts(frame: Any) -> int | None:
    return frame.pts if frame.pts is not None else getattr(frame, "dts", None)


def _decode(
    path: str,
    threads: int,
    index: _Index,
    targets: set[int],
    on_frame: Callable[[Any, int], None],
    *,
    skip_nonref: bool = True,
    on_position: Callable[[int], None] | None = None,
) -> set[int]:
    """Decode the frames whose PTS are in ``targets``, calling ``on_frame(frame, pts)``
    for each, in presentation order. Returns the PTS decoded.

    Skips what no target needs (see the module notes); when a jump turns out unsafe, it
    decodes again from the start without jumping, giving only the frames not yet given.
    """
    done: set[int] = set()
    if not targets:
        return done
    try:
        _decode_pass(
            path, threads, index, targets, on_frame, done, skip_nonref, on_position, jump=True
        )
    except _BadJump:
        reached = -1

        def forward_only(pos: int) -> None:  # progress must not run backwards
            nonlocal reached
            if pos > reached and on_position is not None:
                reached = pos
                on_position(pos)

        _decode_pass(
            path, threads, index, targets, on_frame, done, skip_nonref, forward_only, jump=False
        )
    return done


def _stretches(index: _Index, targets: set[int]) -> dict[int, int]:
    """For each entry point's GOP (-1: packets before the first entry point) that must be
    decoded, the last decode position needed in it.

    A target needs its GOP from the entry point up to itself; a leading picture (shown
    before its entry point, in open GOPs) needs the whole previous GOP as well. The first
    GOP's entry point is always needed: it primes the decoder."""
    dec = index.dec_pts
    entry_pos = index.entry_pos
    positions = np.flatnonzero(np.isin(dec, np.fromiter(targets, dtype=np.int64)))
    gops = np.searchsorted(entry_pos, positions, side="right") - 1
    need_until: dict[int, int] = {}
    for pos, gop in zip(positions.tolist(), gops.tolist(), strict=True):
        need_until[gop] = max(need_until.get(gop, -1), pos)
        if gop >= 0 and dec[pos] < dec[entry_pos[gop]]:
            need_until[gop - 1] = max(need_until.get(gop - 1, -1), int(entry_pos[gop]) - 1)
    if entry_pos.size:
        need_until[0] = max(need_until.get(0, -1), int(entry_pos[0]))
    return need_until


def _decode_pass(
    path: str,
    threads: int,
    index: _Index,
    targets: set[int],
    on_frame: Callable[[Any, int], None],
    done: set[int],
    skip_nonref: bool,
    on_position: Callable[[int], None] | None,
    *,
    jump: bool,
) -> None:
    """One pass over the file, adding to ``done``. With ``jump``, only the stretches
    ``_stretches`` names are fed to the decoder, and it drains and flushes between them,
    so the next starts clean, as after a seek; raises ``_BadJump`` when a stretch does
    not start cleanly. Without, every packet up to the last target is fed."""
    import av

    dec = index.dec_pts
    entry_pos = index.entry_pos
    need_until = _stretches(index, targets)
    last_needed = max(need_until.values())

    container, stream = _open(path, threads)
    ctx = stream.codec_context
    # PTS of the entry picture of the stretch being fed, until it has come out clean.
    unchecked: int | None = None

    def take(frames: Iterable[Any]) -> None:
        nonlocal unchecked
        for frame in frames:
            pts = _frame_pts(frame)
            if unchecked is not None and pts is not None:
                if pts < unchecked:
                    continue  # a leading picture of an open GOP: never a target here
                if pts > unchecked or not frame.key_frame or frame.is_corrupt:
                    raise _BadJump
                unchecked = None
            if pts in targets and pts not in done:
                done.add(pts)
                on_frame(frame, pts)

    def drain() -> None:
        try:
            take(ctx.decode(None))
        except av.error.FFmpegError:
            pass
        ctx.flush_buffers()
        if unchecked is not None:
            raise _BadJump  # the decoder dropped the entry picture

    pos = -1
    gop = -1
    next_entry = 0
    feeding = False
    fed_before = False
    skip_mode = None
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_corrupt:
                continue
            pos += 1
            if pos > last_needed or len(done) == len(targets):
                break
            if pos >= dec.size or packet.pts is not None and packet.pts != dec[pos]:
                raise _Fail("The video file changed while it was being read.")
            while next_entry < entry_pos.size and entry_pos[next_entry] <= pos:
                gop = next_entry
                next_entry += 1
            if on_position is not None:
                on_position(pos)
            if jump and pos > need_until.get(gop, -1):
                if feeding:
                    drain()
                    feeding = False
                continue
            if not feeding and fed_before:
                unchecked = int(dec[pos])  # a jump: this stretch must start clean
            feeding = fed_before = True
            pts = int(dec[pos])
            if packet.pts is None:
                packet.pts = pts
            if skip_nonref:
                # The decoder reads this per packet, so only wanted frames are decoded
                # in full; reference frames are always decoded.
                mode = "DEFAULT" if pts in targets else "NONREF"
                if mode != skip_mode:
                    ctx.skip_frame = skip_mode = mode
            try:
                take(ctx.decode(packet))
            except av.error.FFmpegError as exc:
                if isinstance(exc, MemoryError):
                    raise
                if unchecked is not None:
                    raise _BadJump from None
                continue  # a damaged packet: its frame is reported as failed
        if feeding and len(done) < len(targets):
            drain()
    except av.error.FFmpegError as exc:
        if isinstance(exc, MemoryError):
            raise
        # Demuxing stopped early (the index pass saw the same): keep what was decoded.
    finally:
        container.close()


# --------------------------------------------------------------------------------------
# Requests: probe, sample


def _probe(path: str, threads: int, *, strict: bool, out: _Out | None = None) -> dict[str, Any]:
    """The fields of a ``labeling.videos.sampling.VideoInfo``."""
    index = _build_index(path, threads, strict=strict, alive=out.alive if out else None)
    container, stream = _open(path, threads)
    codec = stream.codec_context.codec.canonical_name
    container_name = container.format.name
    declared = int(stream.frames or 0) or None
    container.close()
    warnings = list(index.warnings)
    count = int(index.pts.size)
    if count == 0:
        raise _Reject("The video has no frames.")
    if count < MIN_FRAMES:
        raise _Reject(
            "The video has only one frame; a video needs at least "
            f"{MIN_FRAMES}. Single images belong in an image set."
        )

    sizes: list[tuple[int, int]] = []

    def check_frame(frame: Any, pts: int) -> None:
        _check_size(frame.width, frame.height)
        sizes.append((frame.width, frame.height))

    def alive(pos: int) -> None:
        if out is not None:
            out.alive()

    first = _decode(path, threads, index, {int(index.pts[0])}, check_frame, on_position=alive)
    if not first:
        raise _Reject("The first frame of the video cannot be decoded; the file is damaged.")
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
        decoded = _decode(
            path, threads, index, tail, check_frame, skip_nonref=False, on_position=alive
        )
        if decoded:
            last = int(np.searchsorted(index.pts, max(decoded)))
            break
    if last < 0:
        raise _Reject("The end of the video cannot be decoded; the file is damaged.")
    real = last + 1
    if any(size != (width, height) for size in sizes):
        raise _Reject("The video changes its frame size part way; this is not supported.")
    if real < MIN_FRAMES:
        raise _Reject("The video has only one frame that can be decoded.")
    # A header's count includes the frames an edit list hides.
    declared_shown = declared - index.discarded if declared is not None else None
    if real < count or (declared_shown is not None and declared_shown > real):
        claimed = max(count, declared_shown or 0)
        if strict:
            raise _Reject(
                f"The video's header claims {claimed} frames but only {real} can be "
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
        raise _Reject("The video's timestamps are broken.")
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


def _targets_for(plan: dict[str, Any], index: _Index) -> list[int]:
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
            raise _Fail(
                f"Frame {beyond[0]} does not exist: the video has {count} frames "
                f"(0 to {count - 1})."
            )
        return wanted
    raise ValueError(f"unknown plan {kind!r}")


def _thumb(frame: Any, width: int) -> np.ndarray:
    height = max(1, round(frame.height * width / frame.width))
    small = frame.reformat(width=width, height=height, format="gray", interpolation="AREA")
    return small.to_ndarray()


def _sample_in_child(request: dict[str, Any], out: _Out) -> None:
    path = request["path"]
    threads = request["threads"]
    index = _build_index(path, threads, strict=False, alive=out.alive)
    count = int(index.pts.size)
    if count == 0:
        raise _Reject("The video has no frames.")
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
            _check_size(*size)
            state["size"] = size
        elif size != state["size"]:
            raise _Fail(
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

    decoded = _decode(path, threads, index, targets, on_frame, on_position=on_position)
    state["pos"] = count
    out.progress(
        True,
        frames_done=count,
        frame_count=count,
        frames_kept=state["kept"],
        frames_similar=state["similar"],
        frames_failed=len(targets) - len(decoded),
    )


if __name__ == "__main__" and sys.argv[1:] == ["--video-worker"]:
    sys.exit(worker_main())
