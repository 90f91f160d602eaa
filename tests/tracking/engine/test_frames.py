"""Frame sources and the reader thread that decodes ahead of the detector."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from tests.tracking.synthetic_video import make_tiny_video
from tracking.engine.frames import (
    DecodedFrame,
    DecoderSource,
    FrameDecodeError,
    OpenCVSource,
    ReadAhead,
    sandboxed_source,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_video(tmp_path_factory.mktemp("video") / "tiny.mp4", n_frames=30)


def test_opencv_source_yields_every_frame_with_container_timestamps(tiny):
    source = OpenCVSource(tiny.path)
    frames = list(source.frames())
    assert source.size == tiny.size and source.frame_count == 30 and source.fps == 30.0
    assert [f.index for f in frames] == list(range(30))
    assert np.allclose([f.time_s for f in frames], np.arange(30) / 30, atol=1e-3)
    assert frames[0].image.shape == (tiny.size[1], tiny.size[0], 3)
    assert frames[0].image.dtype == np.uint8


def test_opencv_source_start_and_stop_give_the_same_pixels_as_a_full_decode(tiny):
    source = OpenCVSource(tiny.path)
    everything = list(source.frames())
    part = list(source.frames(start=12, stop=17))
    assert [f.index for f in part] == [12, 13, 14, 15, 16]
    for frame in part:
        assert np.array_equal(frame.image, everything[frame.index].image)
        assert frame.time_s == pytest.approx(everything[frame.index].time_s)


def test_opencv_source_refuses_a_file_that_is_no_video(tmp_path):
    bad = tmp_path / "not-a-video.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(FrameDecodeError) as info:
        OpenCVSource(bad)
    assert info.value.frame == 0


def _decoder(fail_at=None, closed=None):
    """A stand-in for ``media.streaming.iter_video_frames(path, start=, stop=)``."""

    def iter_video_frames(path, *, start=0, stop=None):
        try:
            for i in range(start, 10 if stop is None else stop):
                if i == fail_at:
                    raise OSError("Invalid data found when processing input")
                yield DecodedFrame(i, i * 0.04, np.zeros((4, 6, 3), np.uint8))
        finally:
            if closed is not None:
                closed.append(True)

    return iter_video_frames


def test_decoder_source_turns_a_decode_failure_into_an_error_naming_the_frame():
    source = DecoderSource("v.mp4", decode=_decoder(fail_at=6), frame_count=10, fps=25, size=(6, 4))
    seen = []
    with pytest.raises(FrameDecodeError) as info:
        for frame in source.frames(start=2):
            seen.append(frame.index)
    assert seen == [2, 3, 4, 5]
    assert info.value.frame == 6
    assert isinstance(info.value.__cause__, OSError)
    assert "frame 6" in str(info.value)


def test_decoder_source_closes_the_decoder_when_the_consumer_stops_early():
    closed: list[bool] = []
    source = DecoderSource(
        "v.mp4", decode=_decoder(closed=closed), frame_count=10, fps=25, size=(6, 4)
    )
    frames = source.frames()
    next(frames)
    frames.close()
    assert closed == [True]


class _CountingSource:
    def __init__(self, n):
        self.n, self.produced, self.closed = n, 0, False

    def __iter__(self):
        try:
            for i in range(self.n):
                self.produced += 1
                yield DecodedFrame(i, i / 30, np.zeros((2, 2, 3), np.uint8))
        finally:
            self.closed = True


def test_the_reader_never_runs_more_than_the_queue_ahead():
    source = _CountingSource(40)
    ahead = []
    with ReadAhead(iter(source), maxsize=4) as reader:
        consumed = 0
        for frame in reader:
            consumed += 1
            assert frame.index == consumed - 1
            time.sleep(0.005)  # a slow detector: the reader fills the queue meanwhile
            ahead.append(source.produced - consumed)
    assert consumed == 40
    assert max(ahead) <= 4 + 1  # the queue, plus the frame the thread waits to put
    assert max(ahead) >= 3  # it did read ahead


def test_the_reader_delivers_every_frame_before_a_decode_error_then_raises_it():
    def frames():
        for i in range(5):
            yield DecodedFrame(i, i / 30, np.zeros((2, 2, 3), np.uint8))
        raise FrameDecodeError(5, "truncated")

    got = []
    with ReadAhead(frames(), maxsize=2) as reader, pytest.raises(FrameDecodeError) as info:
        for frame in reader:
            got.append(frame.index)
    assert got == [0, 1, 2, 3, 4] and info.value.frame == 5


def test_closing_the_reader_early_stops_its_thread_and_closes_the_source():
    source = _CountingSource(10_000)
    reader = ReadAhead(iter(source), maxsize=3)
    assert reader.get().index == 0
    reader.close()
    assert not any(t.name == "frame-reader" and t.is_alive() for t in threading.enumerate())
    assert source.closed and source.produced < 10


def test_the_product_source_is_the_sandboxed_decoder_of_labeling(monkeypatch):
    import media.streaming

    calls = []

    def iter_video_frames(path, *, start=0, stop=None):
        calls.append((str(path), start, stop))
        yield from _decoder()(path, start=start, stop=stop)

    monkeypatch.setattr(media.streaming, "iter_video_frames", iter_video_frames, raising=False)
    info = SimpleNamespace(frame_count=10, fps=25.0, width=6, height=4)
    source = sandboxed_source("upload.mp4", info)
    assert (source.frame_count, source.fps, source.size) == (10, 25.0, (6, 4))
    assert [f.index for f in source.frames(start=7)] == [7, 8, 9]
    assert calls == [("upload.mp4", 7, None)]
