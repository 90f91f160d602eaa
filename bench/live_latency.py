"""Live tracking latency: the shared video as a paced 30 fps camera through the live loop.

    .venv/bin/python bench/live_latency.py [--weights best.pt] [--seconds 20] [--imgsz 320]
                                           [--device cpu] [--no-crop] [--fps 30]

A bench, not a test (tests never assert times). The camera is the shared open-field video
played at its own frame rate (``PacedFile``: frames the loop did not take are dropped, as a
camera drops them) with the frame index drawn into each frame's top rows as a bar code
(``tracking.live.sources.draw_frame``'s), so the recording can be checked frame by frame;
the outputs are a serial loopback (``loop://``) that timestamps what it receives, behind
rules that fire often (entries into the halves of the arena, approaching its centre).

Printed: frames offered / processed / dropped (%), capture -> hand-over latency p50/p95/p99
and its jitter (standard deviation) over every processed frame, the frame's age when its
processing started, capture -> TTL received for the events, the processing rate, and CPU
use (process CPU time / wall time: 100 % = one core). The issue's goals on a 2-core CPU:
<= 1 % dropped and p95 <= 50 ms with the Tiny model at 320 px; on a GPU p95 <= 15 ms.

Without ``--weights`` it uses the Tiny model of ``bench/train_tiny_openfield.py``
(``var/bench/tiny-openfield/run/weights/best.pt``), which must have been trained first.
The last line is the JSON summary; the run's folder is ``var/bench/live-latency/``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from tracking.engine.cropping import CropParams  # noqa: E402
from tracking.engine.runner import DetectParams  # noqa: E402
from tracking.live.config import parse_setup  # noqa: E402
from tracking.live.outputs import LoopbackSerial  # noqa: E402
from tracking.live.recording import VIDEO_NAME  # noqa: E402
from tracking.live.session import LiveParams, LiveSession  # noqa: E402
from tracking.live.sources import PacedFile, read_index  # noqa: E402

VIDEO = ROOT.parent / "shared" / "data" / "openfield-m3v1.mp4"
TINY = ROOT / "var" / "bench" / "tiny-openfield" / "run" / "weights" / "best.pt"
OUT = ROOT / "var" / "bench" / "live-latency"
_BITS, _BAR = 24, 8


class IndexedPacedFile(PacedFile):
    """The paced video with its frame index as a bar code in rows 0..5 (as the synthetic
    camera's), ``n_frames`` at most."""

    def __init__(self, path: Path, *, fps: float, n_frames: int):
        super().__init__(path, fps=fps)
        self.limit = n_frames
        self.index = 0

    def read(self):
        if self.index >= self.limit:
            return None
        image = super().read()
        if image is None:
            return None
        image[0:6, : _BITS * _BAR] = 0
        for bit in range(_BITS):
            if self.index >> bit & 1:
                image[0:6, bit * _BAR : (bit + 1) * _BAR] = 255
        self.index += 1
        return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=TINY)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-crop", action="store_true")
    args = parser.parse_args()
    if not VIDEO.exists():
        sys.exit(f"the shared video is absent ({VIDEO})")
    if not args.weights.exists():
        sys.exit(f"{args.weights}: no such weights (train bench/train_tiny_openfield.py first)")

    import psutil

    from training.runtime import Detector
    from training.ultralytics_setup import configure_offline

    configure_offline(ROOT / "var")
    detector = Detector(args.weights, device=args.device, backend=args.backend,
                        threads=args.threads)  # fmt: skip
    # Warm the model up (first calls allocate), as a session does before its camera opens.
    blank = np.zeros((480, 640, 3), np.uint8)
    for _ in range(5):
        detector.predict([blank], imgsz=args.imgsz, batch_size=1)

    n_frames = int(args.seconds * args.fps)
    camera = IndexedPacedFile(VIDEO, fps=args.fps, n_frames=n_frames)
    setup = parse_setup(
        {
            "zones": [
                {"name": "left", "shape": "rect", "x": 0, "y": 0, "w": 320, "h": 480},
                {"name": "right", "shape": "rect", "x": 320, "y": 0, "w": 320, "h": 480},
                {"name": "top", "shape": "rect", "x": 0, "y": 0, "w": 640, "h": 240},
                {"name": "bottom", "shape": "rect", "x": 0, "y": 240, "w": 640, "h": 240},
            ],
        },
        frame_size=camera.size,
        n_animals=1,
    )
    ttl = LoopbackSerial("ttl")
    shutil.rmtree(OUT, ignore_errors=True)
    session = LiveSession(
        camera,
        detector,
        params=LiveParams(
            detect=DetectParams(imgsz=args.imgsz),
            crop=CropParams(enabled=not args.no_crop),
            stall_s=2.0,
        ),
        rules=setup.rules,
        zones=setup.zones,
        outputs=[ttl],
        run_dir=OUT,
    )
    process = psutil.Process()
    cpu_before = process.cpu_times()
    wall_before = time.monotonic()
    summary = session.run()
    wall = time.monotonic() - wall_before
    cpu_after = process.cpu_times()
    cpu_s = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)

    log = [json.loads(x) for x in (OUT / "events.jsonl").read_text().splitlines()]
    events = [e for e in log if e["kind"] != "safe_state"]
    # Capture -> written to the serial line and read back at its far end (the loopback's
    # receive stamp is taken right after the write, so send_ms covers it).
    ttl_ms = [e["latency_ms"] + e["send_ms"] for e in events if e["output"] == "ttl"]
    assert len(ttl.received) >= len(ttl_ms), "the loopback lost bytes"
    import av

    with av.open(str(OUT / VIDEO_NAME)) as container:
        indices = [read_index(f.to_ndarray(format="bgr24")) for f in container.decode(video=0)]
    in_order = indices == sorted(indices) and len(set(indices)) == len(indices)

    offered = summary.frames_offered
    result = {
        "weights": str(args.weights),
        "device": detector.device_name,
        "backend": detector.backend,
        "imgsz": args.imgsz,
        "crop": not args.no_crop,
        "fps": args.fps,
        "frames_offered": offered,
        "frames_processed": summary.frames_processed,
        "dropped_pct": round(100 * summary.frames_dropped / offered, 2) if offered else None,
        "latency_ms": summary.latency_ms,
        "jitter_ms": summary.jitter_ms,
        "frame_age_ms": summary.frame_age_ms,
        "ttl_latency_ms": {
            "n": len(ttl_ms),
            "p50": round(float(np.percentile(ttl_ms, 50)), 3) if ttl_ms else None,
            "max": round(float(max(ttl_ms)), 3) if ttl_ms else None,
        },
        "processing_fps": summary.processing_fps,
        "cpu_pct_of_one_core": round(100 * cpu_s / wall, 1),
        "cores": psutil.cpu_count(),
        "load_avg_1min": round(psutil.getloadavg()[0], 2),
        "recording_frames_in_order": in_order,
        "recording_frames": len(indices),
    }
    lat = summary.latency_ms
    print(f"device {result['device']} · {result['backend']} · imgsz {args.imgsz} · "
          f"crop {'on' if result['crop'] else 'off'} · camera {args.fps:g} fps")  # fmt: skip
    print(f"frames offered {offered} · processed {summary.frames_processed} · "
          f"dropped {result['dropped_pct']} %")  # fmt: skip
    print(f"capture -> outputs latency ms: p50 {lat['p50']} · p95 {lat['p95']} · "
          f"p99 {lat['p99']} · max {lat['max']} · jitter (sd) {summary.jitter_ms}")  # fmt: skip
    print(f"frame age at processing ms: {summary.frame_age_ms}")
    print(f"capture -> TTL sent, {len(ttl_ms)} events: {result['ttl_latency_ms']}")
    print(f"processing {summary.processing_fps} frames/s · CPU {result['cpu_pct_of_one_core']} % "
          f"of one core ({result['cores']} cores, load {result['load_avg_1min']})")  # fmt: skip
    print(f"recording: {len(indices)} frames, in capture order: {in_order}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
