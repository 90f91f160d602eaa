"""The live loop end to end on a synthetic camera: events out with their timestamps, what
is kept, stalls, a vanished camera, the watchdog, stop (no database, no model)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import av
import numpy as np

from tracking.engine.chunks import read_chunks
from tracking.live.config import parse_setup
from tracking.live.outputs import LoopbackSerial, WebhookOutput
from tracking.live.recording import EVENTS_NAME, VIDEO_NAME
from tracking.live.session import LiveParams, LiveSession
from tracking.live.sources import SyntheticCamera, read_index

from .helpers import LEFT_RIGHT_ZONES, BlobDetector, Receiver


def _session(camera, tmp_path, *, outputs=(), detector=None, **params):
    setup = parse_setup(LEFT_RIGHT_ZONES, frame_size=camera.size, n_animals=1)
    return LiveSession(
        camera,
        detector or BlobDetector(),
        params=LiveParams(chunk_frames=25, **params),
        rules=setup.rules,
        zones=setup.zones,
        outputs=list(outputs),
        run_dir=tmp_path / "run",
    )


def _log(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "run" / EVENTS_NAME).read_text().splitlines()]


def _decoded_indices(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [read_index(f.to_ndarray(format="bgr24")) for f in container.decode(video=0)]


def test_a_paced_camera_session_sends_events_and_keeps_video_and_detections(tmp_path):
    camera = SyntheticCamera(n_frames=75)  # crosses into the right half at frame 40
    ttl = LoopbackSerial("ttl")
    with Receiver() as receiver:
        session = _session(camera, tmp_path, outputs=[ttl, WebhookOutput("hook", url=receiver.url)])
        summary = session.run()
        hook_kinds = receiver.kinds()
    assert summary.ended == "source ended" and summary.error is None
    assert summary.frames_offered == 75
    assert summary.frames_recorded == summary.frames_processed > 0
    assert summary.frames_dropped == 75 - summary.frames_processed
    assert summary.latency_ms["p50"] is not None and summary.latency_ms["p50"] >= 0
    assert summary.events_by_kind.get("zone_entry", 0) >= 1
    # Events reached both outputs, then the safe state at the end.
    assert "zone_entry" in hook_kinds and hook_kinds[-1] == "safe_state"
    # The TTL got one byte per event it was sent, then the safe byte, each timestamped.
    ttl_events = [e for e in _log(tmp_path) if e["output"] == "ttl"]
    sent = b"".join(b"0" if e["kind"] == "safe_state" else b"1" for e in ttl_events)
    assert ttl.bytes_received() == sent and sent.endswith(b"10")
    assert all(stamp > 0 for stamp, _ in ttl.received)
    log = _log(tmp_path)
    entries = [e for e in log if e["kind"] == "zone_entry"]
    assert {e["output"] for e in entries} == {"ttl", "hook"}
    for e in entries:
        assert e["zone"] == "right" and e["animal"] == 1
        assert e["capture_s"] <= e["handed_s"] <= e["output_s"]
        assert e["latency_ms"] >= 0
    # The recording is the processed frames, in order; detection k is recorded frame k.
    stored = read_chunks(tmp_path / "run")
    indices = _decoded_indices(tmp_path / "run" / VIDEO_NAME)
    assert len(indices) == stored.n_frames == summary.frames_recorded
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    for det, index in zip(stored.detections, indices, strict=True):
        (box,) = det.boxes_xyxy
        cx, cy = camera.path(index)
        assert abs((box[0] + box[2]) / 2 - cx) < 2 and abs((box[1] + box[3]) / 2 - cy) < 2
    times = [d.time_s for d in stored.detections]
    assert times[0] == 0.0 and all(b > a for a, b in zip(times, times[1:], strict=False))
    summary_file = json.loads((tmp_path / "run" / "live.json").read_text())
    assert summary_file["frames_recorded"] == summary.frames_recorded


def test_a_stalled_camera_is_no_data_with_outputs_safe_and_tracking_resumes(tmp_path):
    camera = SyntheticCamera(n_frames=50, stall_at=20, stall_s=1.0)
    ttl = LoopbackSerial("ttl", safe="0")
    summary = _session(camera, tmp_path, outputs=[ttl], stall_s=0.3).run()
    assert summary.ended == "source ended"
    log = _log(tmp_path)
    kinds = [e["kind"] for e in log]
    assert "safe_state" in kinds
    reasons = [e.get("reason") for e in log if e["kind"] == "safe_state"]
    assert any("no frames" in (r or "") for r in reasons)
    assert summary.events_by_kind.get("no_data") == 1
    assert summary.events_by_kind.get("data_back") == 1
    assert summary.frames_recorded > 20  # frames after the stall were tracked too


def test_a_camera_stalled_for_good_ends_the_session_with_what_it_recorded(tmp_path):
    camera = SyntheticCamera(stall_at=15, stall_s=60.0)
    summary = _session(camera, tmp_path, stall_s=0.2, give_up_s=0.8).run()
    assert summary.ended == "camera stalled" and "no frame" in summary.error
    assert 0 < summary.frames_recorded <= 15
    assert read_chunks(tmp_path / "run").n_frames == summary.frames_recorded
    assert len(_decoded_indices(tmp_path / "run" / VIDEO_NAME)) == summary.frames_recorded


def test_a_vanished_camera_ends_cleanly_keeping_the_recording(tmp_path):
    camera = SyntheticCamera(vanish_at=30)
    ttl = LoopbackSerial("ttl", safe="0")
    summary = _session(camera, tmp_path, outputs=[ttl]).run()
    assert summary.ended == "camera vanished" and "unplugged" in summary.error
    assert 0 < summary.frames_recorded <= 30
    assert read_chunks(tmp_path / "run").n_frames == summary.frames_recorded
    assert len(_decoded_indices(tmp_path / "run" / VIDEO_NAME)) == summary.frames_recorded
    assert _log(tmp_path)[-1]["kind"] == "safe_state"


class StuckOnce(BlobDetector):
    """A detector whose 10th call hangs for a second (a stuck runtime)."""

    def predict(self, images, **kw):
        if len(self.calls) == 10:
            time.sleep(1.0)
        return super().predict(images, **kw)


def test_the_watchdog_puts_outputs_safe_when_the_loop_hangs(tmp_path):
    camera = SyntheticCamera(n_frames=40)
    ttl = LoopbackSerial("ttl", safe="0")
    summary = _session(camera, tmp_path, outputs=[ttl], detector=StuckOnce(),
                       watchdog_s=0.3).run()  # fmt: skip
    assert summary.watchdog_fired == 1
    reasons = [e.get("reason") for e in _log(tmp_path) if e["kind"] == "safe_state"]
    assert any("watchdog" in r for r in reasons)


def test_stop_ends_an_endless_session_and_keeps_what_was_recorded(tmp_path):
    camera = SyntheticCamera()  # never ends
    session = _session(camera, tmp_path)
    threading.Timer(1.0, session.stop).start()
    summary = session.run()
    assert summary.ended == "stopped" and summary.frames_recorded > 0
    assert read_chunks(tmp_path / "run").n_frames == summary.frames_recorded


def test_recording_starts_when_the_animal_is_first_seen_and_stops_after_the_duration(tmp_path):
    camera = SyntheticCamera(path=lambda k: (-100.0, -100.0) if k < 12 else (60.0 + k, 120.0))
    summary = _session(camera, tmp_path, start_on_detection=True, duration_s=0.5).run()
    assert summary.ended == "duration"
    indices = _decoded_indices(tmp_path / "run" / VIDEO_NAME)
    assert indices[0] >= 12  # nothing before the animal was in view
    stored = read_chunks(tmp_path / "run")
    assert all(len(d.boxes_xyxy) == 1 for d in stored.detections)
    assert 0.5 <= stored.detections[-1].time_s < 1.0
    assert np.isfinite(stored.detections[-1].boxes_xyxy).all()
