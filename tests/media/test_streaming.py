"""media.streaming: every frame of a video, in order, through the sandbox.

Synthetic frames carry their own index as an 8-bit code (``coded_frame``), so a test can
tell from the pixels which frame really came out.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import av
import numpy as np
import psutil
import pytest

from media import sandbox
from media.probe import VideoProbeError, VideoSampleError, probe_video
from media.sampling import sample_every_seconds, sample_indices
from media.streaming import DecodedFrame, VideoDecodeError, iter_video_frames
from tests.conftest import wait_for
from tests.labeling.video_helpers import H, W, coded_frame, read_code

# Short GOPs with B-frames (some of them references): frame reordering, and stretches a
# stream that starts late can skip.
X264_SHORT_GOP = {
    "x264-params": "keyint=10:min-keyint=10:scenecut=0:bframes=3:b-pyramid=normal",
    "preset": "veryfast",
}


def write_h264(path: Path, count: int, *, faststart: bool = False) -> Path:
    """An H.264 MP4 of ``count`` coded frames at 30 fps; ``faststart`` puts the index
    (moov) first, so a copy cut short still opens."""
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        stream = out.add_stream("libx264", rate=30, options=X264_SHORT_GOP)
        stream.height, stream.width, stream.pix_fmt = H, W, "yuv420p"
        for i in range(count):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(coded_frame(i), format="bgr24")))
        out.mux(stream.encode(None))
    return path


def remux_faststart(source: Path, target: Path) -> Path:
    """``source``'s video stream copied (no re-encoding) into an MP4 with its index first."""
    with (
        av.open(str(source)) as src,
        av.open(str(target), "w", options={"movflags": "faststart"}) as out,
    ):
        video = src.streams.video[0]
        copy = out.add_stream_from_template(video)
        for packet in src.demux(video):
            if packet.dts is None:
                continue
            packet.stream = copy
            out.mux(packet)
    return target


def cut(source: Path, target: Path, fraction: float) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def own_children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.fixture
def h264_90(tmp_path: Path) -> Path:
    return write_h264(tmp_path / "coded.mp4", 90)


# --------------------------------------------------------------------------------------
# The real recording


def test_the_real_video_streams_every_frame_with_the_samplers_indices_and_timestamps(
    openfield_video: Path,
):
    info = probe_video(openfield_video)
    # The app's own sampling (one frame every 1.5 s), plus frames around GOP boundaries and
    # the last one: the stream must give the same index, timestamp and pixels.
    sampled = {f.index: f for f in sample_every_seconds(openfield_video, 1.5)}
    extra = [1, 2, 249, 250, 251, 1001, info.frame_count - 1]
    sampled.update({f.index: f for f in sample_indices(openfield_video, extra)})
    indices: list[int] = []
    times: list[float] = []
    for frame in iter_video_frames(openfield_video):
        assert isinstance(frame, DecodedFrame)
        assert frame.image.shape == (info.height, info.width, 3)
        assert frame.image.dtype == np.uint8
        indices.append(frame.index)
        times.append(frame.time_s)
        if frame.index in sampled:
            expected = sampled[frame.index]
            assert frame.time_s == expected.timestamp_s, frame.index
            assert np.array_equal(frame.image, expected.image), frame.index
    assert indices == list(range(info.frame_count))  # 2330: what the probe counts
    assert set(sampled) <= set(indices)
    assert times[0] == 0.0 and all(b > a for a, b in zip(times, times[1:], strict=False))
    assert (info.frame_count - 1) / times[-1] == pytest.approx(info.fps)


def test_a_cut_copy_of_the_real_video_yields_the_frames_before_the_cut_then_fails(
    openfield_video: Path, tmp_path: Path
):
    whole = remux_faststart(openfield_video, tmp_path / "faststart.mp4")
    broken = cut(whole, tmp_path / "cut.mp4", 0.5)
    readable = probe_video(broken).frame_count  # the probe warns and counts what is there
    assert 0 < readable < 2330
    got: list[int] = []
    with pytest.raises(VideoDecodeError) as error:
        for frame in iter_video_frames(broken):
            got.append(frame.index)
    assert got == list(range(readable))
    assert error.value.frame_index == readable
    assert f"frame {readable}" in str(error.value) and "truncated" in str(error.value)


# --------------------------------------------------------------------------------------
# Synthetic videos


def test_frames_are_those_of_the_sampler_pixels_included(h264_90: Path):
    streamed = list(iter_video_frames(h264_90))
    assert [f.index for f in streamed] == list(range(90))
    assert [read_code(f.image) for f in streamed] == list(range(90))
    for frame, sampled in zip(streamed, sample_indices(h264_90, range(90)), strict=True):
        assert (frame.index, frame.time_s) == (sampled.index, sampled.timestamp_s)
        assert np.array_equal(frame.image, sampled.image)
    assert streamed[1].time_s == pytest.approx(1 / 30)
    streamed[0].image[0, 0] = 1  # each frame owns its writable buffer


def test_start_stop_and_every_select_frames_by_index(h264_90: Path):
    def codes(**kwargs) -> list[tuple[int, int]]:
        return [(f.index, read_code(f.image)) for f in iter_video_frames(h264_90, **kwargs)]

    assert codes(start=25, stop=61, every=7) == [(i, i) for i in range(25, 61, 7)]
    assert codes(start=83) == [(i, i) for i in range(83, 90)]
    assert codes(stop=3) == [(0, 0), (1, 1), (2, 2)]
    assert codes(start=80, stop=1000, every=4) == [(80, 80), (84, 84), (88, 88)]
    assert codes(start=90) == [] and codes(start=5, stop=5) == []


@pytest.mark.parametrize(
    "kwargs", [{"start": -1}, {"stop": -2}, {"every": 0}, {"every": 1.5}, {"start": True}]
)
def test_bad_arguments_fail_at_the_call(h264_90: Path, kwargs: dict):
    with pytest.raises(ValueError):
        iter_video_frames(h264_90, **kwargs)


def test_a_truncated_file_yields_the_frames_before_the_break_then_names_the_frame(
    tmp_path: Path,
):
    whole = write_h264(tmp_path / "whole.mp4", 90, faststart=True)
    broken = cut(whole, tmp_path / "cut.mp4", 0.6)
    got: list[int] = []
    with pytest.raises(VideoDecodeError) as error:
        for frame in iter_video_frames(broken):
            assert read_code(frame.image) == frame.index
            got.append(frame.index)
    assert 0 < len(got) < 90 and got == list(range(len(got)))
    assert error.value.frame_index == len(got)
    assert isinstance(error.value, VideoSampleError)  # what callers of the samplers catch
    # A stream that stops before the break does not fail.
    assert [f.index for f in iter_video_frames(broken, stop=len(got))] == got


def test_random_bytes_are_a_probe_error(tmp_path: Path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(200_000))
    frames = iter_video_frames(junk)  # nothing runs until the first next()
    with pytest.raises(VideoProbeError):
        next(frames)


def test_closing_the_stream_early_ends_the_child_and_leaves_no_zombie(h264_90: Path):
    before = own_children()
    frames = iter_video_frames(h264_90)
    assert next(frames).index == 0
    started = own_children() - before
    assert len(started) == 1  # the sandboxed decoder
    frames.close()
    for pid in started:
        assert not psutil.pid_exists(pid)  # killed and reaped (a zombie would still exist)


def test_a_consumer_that_stops_reading_stops_the_decoder(tmp_path: Path):
    video = write_h264(tmp_path / "long.mp4", 600)
    before = own_children()
    with contextlib.closing(iter_video_frames(video)) as frames:
        next(frames)
        (pid,) = own_children() - before
        child = psutil.Process(pid)

        def idle() -> bool:  # blocked on the full pipe: no CPU spent between two looks
            spent = sum(child.cpu_times()[:2])
            wait_for(lambda: child.status() == psutil.STATUS_SLEEPING, timeout=60)
            return sum(child.cpu_times()[:2]) == spent

        wait_for(idle, timeout=60, interval=0.5, what="the decoder to wait for the reader")
        # It waited, it did not give up: the rest of the frames still come.
        assert [f.index for f in frames] == list(range(1, 600))


def test_a_decoder_dying_mid_video_says_which_frame_it_reached(
    h264_90: Path, monkeypatch: pytest.MonkeyPatch
):
    # A stand-in worker: answers with frame 0, then crashes.
    script = (
        "import json, os, signal, struct, sys\n"
        "sys.stdin.buffer.read()\n"
        "payload = bytes(12)\n"
        "header = json.dumps({'type': 'frame', 'index': 0, 'timestamp_s': 0.0,"
        " 'shape': [2, 2, 3], 'nbytes': 12}).encode()\n"
        "sys.stdout.buffer.write(struct.pack('>I', len(header)) + header + payload)\n"
        "sys.stdout.buffer.flush()\n"
        "os.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    monkeypatch.setattr(sandbox, "_worker_command", lambda: [sys.executable, "-c", script])
    frames = iter_video_frames(h264_90)
    assert next(frames).image.shape == (2, 2, 3)
    with pytest.raises(VideoDecodeError, match="crashed") as error:
        next(frames)
    assert error.value.frame_index == 1
    assert "frame 1" in str(error.value)
