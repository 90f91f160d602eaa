"""Decoding chosen frames, skipping what none of them needs.

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

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .packets import PacketIndex, open_video
from .rules import DecodeFailed


class _BadJump(Exception):
    """The picture decoding jumped to did not come out as a clean key frame."""


def _frame_pts(frame: Any) -> int | None:
    return frame.pts if frame.pts is not None else getattr(frame, "dts", None)


def decode_frames(
    path: str,
    threads: int,
    index: PacketIndex,
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


def _stretches(index: PacketIndex, targets: set[int]) -> dict[int, int]:
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
    index: PacketIndex,
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

    container, stream = open_video(path, threads)
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
                raise DecodeFailed("The video file changed while it was being read.")
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
