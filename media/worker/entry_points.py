"""Entry points: which keyframes a fresh decoder can really start from.

H.264 and HEVC flag recovery points and open-GOP I-pictures as keyframes too, so their NAL
units are read (see :mod:`media.worker.decode` for why it matters).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any


def entry_point_test(ctx: Any) -> Callable[[Any], bool]:
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
