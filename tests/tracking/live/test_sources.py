"""The capture side: newest frame only, drops counted, paced files, sources that fail."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tracking.live.sources import (
    CapturedFrame,
    CaptureThread,
    LatestFrame,
    PacedFile,
    SourceError,
    SyntheticCamera,
    draw_frame,
    open_source,
    read_index,
    source_key,
)


def test_the_bar_code_gives_the_frame_index_back():
    for index in (0, 1, 5, 1023, 123_456):
        assert read_index(draw_frame(index, (320, 240), (100, 120))) == index


def test_the_slot_keeps_only_the_newest_frame_and_counts_the_dropped_ones():
    slot = LatestFrame()
    image = np.zeros((2, 2, 3), np.uint8)
    for i in range(5):
        slot.put(CapturedFrame(i, time.monotonic_ns(), image))
    frame = slot.take(timeout=0.1)
    assert frame is not None and frame.index == 4
    assert (slot.offered, slot.dropped) == (5, 4)
    assert slot.take(timeout=0.01) is None  # nothing newer: a stall, not the old frame again
    slot.end("gone")
    assert slot.take(timeout=5) is None and slot.ended and slot.error == "gone"


def test_a_slow_consumer_loses_frames_as_with_a_camera_and_sees_them_in_order():
    capture = CaptureThread(SyntheticCamera(fps=200.0, n_frames=60)).start()
    seen = []
    while True:
        frame = capture.slot.take(timeout=1.0)
        if frame is None and capture.slot.ended:
            break
        if frame is not None:
            assert read_index(frame.image) == frame.index
            seen.append(frame.index)
            time.sleep(0.02)  # four frame intervals of the camera
    capture.stop()
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert capture.slot.offered == 60
    assert capture.slot.dropped > 0 and len(seen) < 60
    assert capture.slot.offered == len(seen) + capture.slot.dropped + (0 if seen[-1] == 59 else 1)


def test_capture_timestamps_are_taken_at_the_grab():
    capture = CaptureThread(SyntheticCamera(fps=100.0, n_frames=5)).start()
    before = time.monotonic_ns()
    frame = capture.slot.take(timeout=2.0)
    capture.stop()
    assert frame is not None and frame.capture_ns <= time.monotonic_ns()
    assert frame.capture_ns >= before - 10**9


def test_a_vanishing_camera_ends_the_capture_with_its_reason():
    capture = CaptureThread(SyntheticCamera(fps=500.0, vanish_at=3)).start()
    deadline = time.monotonic() + 10
    while not capture.slot.ended and time.monotonic() < deadline:
        capture.slot.take(timeout=0.1)
    capture.stop()
    assert capture.slot.ended and "unplugged" in capture.slot.error


def test_a_paced_file_delivers_its_frames_and_ends(tiny_video: Path):
    source = PacedFile(tiny_video, fps=400.0)
    frames = []
    while (image := source.read()) is not None:
        frames.append(image)
    source.close()
    assert len(frames) > 5 and source.size == (frames[0].shape[1], frames[0].shape[0])


def test_sources_that_do_not_open_are_refused_clearly(tmp_path: Path):
    with pytest.raises(SourceError, match="no such file"):
        open_source(str(tmp_path / "missing.mp4"), paced=True)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(SourceError, match="cannot be opened"):
        open_source(str(junk), paced=True)
    with pytest.raises(SourceError, match="--paced"):
        open_source(str(junk))
    with pytest.raises(SourceError, match="cannot be opened"):
        open_source("/dev/video97")


def test_one_camera_has_one_key_however_it_is_named(tmp_path: Path):
    assert source_key("0") == source_key("/dev/video0")
    assert source_key("rtsp://cam/1") == "rtsp://cam/1"
    video = tmp_path / "a.mp4"
    assert source_key(str(video)) == source_key(str(tmp_path / "." / "a.mp4"))


def test_a_network_stream_is_read_through_pyav(tiny_video: Path):
    """PyAV's path (what rtsp:// and http:// cameras use), over HTTP on localhost: frames
    come in order and a broken-off stream ends; a URL that does not answer is refused."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tiny_video.parent))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{tiny_video.name}"
        source = open_source(url)
        assert source.size == (320, 240)
        frames = []
        while (image := source.read()) is not None:
            frames.append(image)
        source.close()
        assert len(frames) == 40 and frames[0].shape == (240, 320, 3)
        blob_x = [float(np.flatnonzero(f[120, :, 0] < 100).mean()) for f in frames[:20]]
        assert blob_x == sorted(blob_x)  # the blob moves right, frame after frame: in order
        with pytest.raises(SourceError, match="cannot be opened"):
            open_source(f"http://127.0.0.1:{server.server_address[1]}/missing.mp4")
    finally:
        server.shutdown()
        server.server_close()
