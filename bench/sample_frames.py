"""Time frame sampling every 1.5 s on a 10-minute 640x480 30 fps video.

    .venv/bin/python bench/sample_frames.py [--repeat 3] [--seconds 1.5] [--video PATH]

Builds the video once, cached under var/bench/: the lab recording
../shared/data/openfield-m3v1.mp4 (H.264 High 4:4:4, 2330 frames, GOPs of about 200
frames with B-frames) looped by remuxing its packets, without re-encoding, so the bench
decodes exactly what a lab camera file holds; a synthetic H.264 video when that file is
absent. Then, in the same run, times each way of getting one frame every 1.5 s:

- ours: ``media.sampling.sample_every_seconds`` (sandboxed child, skip_frame +
  GOP skipping, colour conversion of kept frames only), frames in memory, and frames
  written as JPEG;
- the ffmpeg CLI (imageio-ffmpeg's binary): ``-vf fps=1/1.5`` writing JPEGs;
- OpenCV: the naive loop (``read()`` every frame, keep every 45th), and ``grab()`` every
  frame with ``retrieve()`` of kept ones only;
- PyAV decoding every frame, converting kept ones only (ours without the skipping).

Prints wall time (median of ``--repeat`` runs, interleaved so a busy machine hurts all
alike), CPU time (user+sys, this process and its children) and ratios to ours. The
machine is shared, so trust the ratios and the CPU times more than single wall times.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import cv2  # noqa: E402
import imageio_ffmpeg  # noqa: E402
import numpy as np  # noqa: E402

from media.probe import probe_video  # noqa: E402
from media.sampling import sample_every_seconds  # noqa: E402

SOURCE = ROOT.parent / "shared" / "data" / "openfield-m3v1.mp4"
CACHE = ROOT / "var" / "bench"
TARGET_S = 600.0
FPS = 30
JPEG_QUALITY = 95


def build_video() -> Path:
    """The 10-minute bench video (cached). Looping keeps whole copies of the source and
    stops at the first keyframe at or after 10 minutes, so every frame is decodable."""
    CACHE.mkdir(parents=True, exist_ok=True)
    if SOURCE.exists():
        path = CACHE / "openfield-loop-10min.mp4"
        if not path.exists():
            _loop_remux(SOURCE, path)
    else:
        path = CACHE / "synthetic-10min.mp4"
        if not path.exists():
            _synthesize(path)
    return path


def _loop_remux(source: Path, path: Path) -> None:
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(source)) as src:
        stream = src.streams.video[0]
        packets = [p for p in src.demux(stream) if p.size]
        pts_sorted = sorted(p.pts for p in packets)
        # One copy lasts one frame interval longer than its last timestamp.
        period = len(packets) * (pts_sorted[1] - pts_sorted[0])
        limit = round(TARGET_S / float(stream.time_base))
        with av.open(str(tmp), "w", format="mp4") as dst:
            out = dst.add_stream_from_template(stream)
            loop = 0
            done = False
            while not done:
                offset = loop * period
                for packet in packets:
                    if packet.is_keyframe and packet.pts + offset >= limit:
                        done = True
                        break
                    packet.pts += offset
                    packet.dts += offset
                    packet.stream = out
                    dst.mux(packet)
                    packet.pts -= offset
                    packet.dts -= offset
                loop += 1
    tmp.replace(path)


def _synthesize(path: Path) -> None:
    """A mouse-like dark blob wandering on a bright floor, H.264 with B-frames."""
    tmp = path.with_suffix(".part.mp4")
    rng = np.random.default_rng(0)
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        x, y = 320.0, 240.0
        floor = np.full((480, 640, 3), 215, np.uint8)
        cv2.rectangle(floor, (40, 20), (600, 460), (90, 90, 90), 6)
        for _ in range(int(TARGET_S * FPS)):
            x = float(np.clip(x + rng.normal(0, 3), 80, 560))
            y = float(np.clip(y + rng.normal(0, 3), 60, 420))
            img = floor.copy()
            cv2.ellipse(img, (int(x), int(y)), (28, 14), 0, 0, 360, (20, 20, 20), -1)
            noise = rng.integers(0, 6, img.shape, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(cv2.add(img, noise), format="bgr24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    tmp.replace(path)


# ---------------------------------------------------------------------------------------
# The contenders. Each returns the number of frames it produced.


def ours_in_memory(path: Path, seconds: float, out_dir: Path) -> int:
    return sum(1 for _ in sample_every_seconds(path, seconds))


def ours_jpeg(path: Path, seconds: float, out_dir: Path) -> int:
    count = 0
    for frame in sample_every_seconds(path, seconds):
        cv2.imwrite(
            str(out_dir / f"{frame.index:06d}.jpg"),
            frame.image,
            [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY],
        )
        count += 1
    return count


def ffmpeg_cli_jpeg(path: Path, seconds: float, out_dir: Path) -> int:
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            str(path),
            "-vf",
            f"fps=1/{seconds}",
            "-q:v",
            "2",  # about JPEG quality 95
            str(out_dir / "%06d.jpg"),
        ],
        check=True,
    )
    return len(os.listdir(out_dir))


def opencv_read_all(path: Path, seconds: float, out_dir: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    step = round(seconds * cap.get(cv2.CAP_PROP_FPS))
    index = kept = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        if index % step == 0:
            kept += 1
        index += 1
    cap.release()
    return kept


def opencv_grab_retrieve(path: Path, seconds: float, out_dir: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    step = round(seconds * cap.get(cv2.CAP_PROP_FPS))
    index = kept = 0
    while cap.grab():
        if index % step == 0:
            ok, image = cap.retrieve()
            kept += ok
        index += 1
    cap.release()
    return kept


def pyav_decode_all(path: Path, seconds: float, out_dir: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        base = float(stream.time_base)
        start = None
        next_t = 0.0
        half = 0.5 / float(stream.average_rate)
        kept = 0
        for frame in container.decode(stream):
            start = frame.pts if start is None else start
            if (frame.pts - start) * base >= next_t - half:
                frame.to_ndarray(format="bgr24")
                kept += 1
                next_t += seconds
        return kept


CONTENDERS: list[tuple[str, Callable[[Path, float, Path], int]]] = [
    ("ours (frames in memory)", ours_in_memory),
    ("ours + JPEG files (cv2.imwrite q95)", ours_jpeg),
    ("ffmpeg CLI fps=1/1.5 -> JPEG (q:v 2)", ffmpeg_cli_jpeg),
    ("OpenCV naive read() every frame", opencv_read_all),
    ("OpenCV grab() all, retrieve() kept", opencv_grab_retrieve),
    ("PyAV decode all, convert kept", pyav_decode_all),
]


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--video", type=Path, help="time this file instead")
    args = parser.parse_args()

    path = args.video or build_video()
    info = probe_video(path)
    print(
        f"video: {path} ({path.stat().st_size / 1e6:.1f} MB)\n"
        f"  {info.width}x{info.height}, {info.frame_count} frames, {info.fps:.3f} fps, "
        f"{info.duration_s:.1f} s, {info.codec}; sampling every {args.seconds} s; "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    walls: dict[str, list[float]] = {name: [] for name, _ in CONTENDERS}
    cpus: dict[str, list[float]] = {name: [] for name, _ in CONTENDERS}
    frames: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, run in CONTENDERS:  # interleaved: a busy moment hurts every contender
            out_dir = Path(tempfile.mkdtemp(prefix="bench-frames-"))
            try:
                cpu0, wall0 = _cpu_seconds(), time.perf_counter()
                frames[name] = run(path, args.seconds, out_dir)
                walls[name].append(time.perf_counter() - wall0)
                cpus[name].append(_cpu_seconds() - cpu0)
            finally:
                shutil.rmtree(out_dir, ignore_errors=True)
    ours_wall = statistics.median(walls[CONTENDERS[0][0]])
    ours_cpu = statistics.median(cpus[CONTENDERS[0][0]])
    print(f"\n{'method':40} {'frames':>6} {'wall s':>7} {'x ours':>7} {'cpu s':>7} {'x ours':>7}")
    for name, _ in CONTENDERS:
        wall = statistics.median(walls[name])
        cpu = statistics.median(cpus[name])
        print(
            f"{name:40} {frames[name]:>6} {wall:>7.2f} {wall / ours_wall:>7.2f} "
            f"{cpu:>7.2f} {cpu / ours_cpu:>7.2f}"
        )
    print(f"\nload after: {os.getloadavg()[0]:.1f} (median of {args.repeat} runs each)")


if __name__ == "__main__":
    main()
