"""Frames per second of ``training.runtime.Detector`` against Ultralytics' own predict.

    .venv/bin/python bench/runtime_backends.py [--weights best.pt] [--frames 120] [--imgsz 320]
                                               [--rounds 3] [--conf 0.25] [--video PATH]

On ``--frames`` consecutive frames of ../shared/data/openfield-m3v1.mp4 (640x480), at
``--imgsz`` (320: the network sees 320x256), it times

- the naive baseline: ``YOLO(pt).predict(frame, imgsz=...)`` for one frame at a time, with
  Ultralytics' own thread choice (``cpu_count - 1`` torch threads);
- ``Detector(backend="torch")`` and ``Detector(backend="onnx")`` with 1 thread and with every
  core this process may use, at batch 1 and batch 4.

It also times Ultralytics' own predict on the ONNX export (its AutoBackend). Configurations
take turns within each of ``--rounds`` rounds and the median is kept (the machine is shared
and noisy); every ratio is against the baseline of the same invocation. Besides frames per
second it prints the process CPU time per frame (all threads), steadier on a busy machine.
Box agreement: the share of frames whose top box (highest score, at conf 0.001) matches the
baseline's at IoU >= 0.9.

Without ``--weights`` it first trains YOLO11n for ``--epochs`` epochs at 160 px on 24 frames
of the video, labeled automatically (darkest blob against the median background), which takes
a minute or two on a CPU. No Django: only the pure modules are used. Output goes to
var/bench/runtime-backends/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from evaluation.matching import iou  # noqa: E402
from training.presets import Hyperparameters  # noqa: E402
from training.ultralytics_setup import configure_offline, default_cpu_threads  # noqa: E402

SOURCE = ROOT.parent / "shared" / "data" / "openfield-m3v1.mp4"
OUT = ROOT / "var" / "bench" / "runtime-backends"
AGREE_IOU = 0.9
AGREE_CONF = 0.001


def read_frames(video: Path, n: int, start: int = 0) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def spread_frames(video: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = []
    for index in np.linspace(0, count - 1, n).astype(int):
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, frame = cap.read()
        if ok:
            frames.append(frame)
    cap.release()
    return frames


def train_quickly(video: Path, epochs: int) -> Path:
    """YOLO11n trained for a few epochs on 24 automatically labeled frames of ``video``."""
    from training import trainer

    frames = spread_frames(video, 24)
    grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    background = np.median(np.stack(grays), axis=0).astype(np.uint8)
    data = OUT / "data"
    for i, (frame, gray) in enumerate(zip(frames, grays, strict=True)):
        split = "val" if i % 4 == 0 else "train"
        (data / "images" / split).mkdir(parents=True, exist_ok=True)
        (data / "labels" / split).mkdir(parents=True, exist_ok=True)
        dark = (cv2.subtract(background, gray) >= 50).astype(np.uint8)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
        count, _, stats, _ = cv2.connectedComponentsWithStats(
            cv2.morphologyEx(dark, cv2.MORPH_OPEN, kernel)
        )
        line = ""
        if count > 1:
            x, y, w, h = stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])), :4]
            H, W = gray.shape
            line = f"0 {(x + w / 2) / W:.6f} {(y + h / 2) / H:.6f} {w / W:.6f} {h / H:.6f}\n"
        cv2.imwrite(str(data / "images" / split / f"{i}.jpg"), frame)
        (data / "labels" / split / f"{i}.txt").write_text(line)
    (data / "data.yaml").write_text(
        f"path: {data}\ntrain: images/train\nval: images/val\nnames:\n  0: mouse\n"
    )
    result = trainer.train(
        data_yaml=data / "data.yaml",
        preset_or_model="yolo11n",
        hyperparameters=Hyperparameters(
            epochs=epochs, imgsz=160, batch=4, workers=0, device="cpu", patience=0
        ),
        project_dir=OUT / "run",
    )
    print(f"trained YOLO11n for {result.epochs_done} epochs in {result.training_time_s:.0f} s")
    return result.best


def top_box(boxes: np.ndarray, scores: np.ndarray) -> np.ndarray | None:
    return boxes[int(np.argmax(scores))] if len(scores) else None


def agreement(reference: list[np.ndarray | None], other: list[np.ndarray | None]) -> float:
    same = 0
    for a, b in zip(reference, other, strict=True):
        if a is None or b is None:
            same += a is None and b is None
        else:
            same += iou(a, b) >= AGREE_IOU
    return same / len(reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--video", type=Path, default=SOURCE)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--conf", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    if not args.video.exists():
        raise SystemExit(f"{args.video} is absent (see ../shared/data/README.md)")

    configure_offline(ROOT / "var")
    import torch
    import ultralytics.utils.torch_utils as ul_torch_utils
    from ultralytics import YOLO

    from training import runtime
    from training.runtime import Detector

    ultralytics_threads = ul_torch_utils.NUM_THREADS  # before anything changes it
    if args.weights is None:
        shutil.rmtree(OUT, ignore_errors=True)
        weights = train_quickly(args.video, args.epochs)
    else:
        weights = args.weights
    frames = read_frames(args.video, args.frames, start=300)
    all_threads = default_cpu_threads()
    cache = OUT / "onnx-cache"

    naive = YOLO(str(weights))

    def run_naive(conf: float) -> list[np.ndarray | None]:
        # What a user's loop gets: Ultralytics' own threads (set_cpu_threads changed them).
        ul_torch_utils.NUM_THREADS = ultralytics_threads
        torch.set_num_threads(ultralytics_threads)  # its predictor set them once, at first use
        tops = []
        for frame in frames:
            (r,) = naive.predict(frame, imgsz=args.imgsz, conf=conf, verbose=False)
            xywh = r.boxes.xyxy.numpy().copy()
            xywh[:, 2:] -= xywh[:, :2]
            tops.append(top_box(xywh, r.boxes.conf.numpy()))
        return tops

    onnx_export = runtime.onnx_for_checkpoint(weights, cache)
    naive_onnx = YOLO(str(onnx_export), task="detect")

    def run_naive_onnx(conf: float) -> list[np.ndarray | None]:
        tops = []
        for frame in frames:
            (r,) = naive_onnx.predict(frame, imgsz=args.imgsz, conf=conf, verbose=False)
            xywh = r.boxes.xyxy.numpy().copy()
            xywh[:, 2:] -= xywh[:, :2]
            tops.append(top_box(xywh, r.boxes.conf.numpy()))
        return tops

    configs: dict[str, object] = {
        "naive Ultralytics predict, 1 frame a call": run_naive,
        "Ultralytics predict on the ONNX export": run_naive_onnx,
    }
    for backend in ("torch", "onnx"):
        for threads in sorted({1, all_threads}):
            detector = Detector(
                weights, device="cpu", backend=backend, threads=threads, onnx_cache_dir=cache
            )
            for batch in (1, 4):

                def run(conf: float, detector=detector, batch=batch) -> list[np.ndarray | None]:
                    out = detector.predict(frames, imgsz=args.imgsz, conf=conf, batch_size=batch)
                    return [top_box(d.boxes_xywh, d.scores) for d in out]

                configs[f"{backend}, {threads} thread{'s' * (threads > 1)}, batch {batch}"] = run

    # Agreement on the top box at conf 0.001, where every frame has one even for a weak model;
    # this pass also warms every configuration up (allocations, the ONNX export).
    tops = {name: run(AGREE_CONF) for name, run in configs.items()}
    fps: dict[str, list[float]] = {name: [] for name in configs}
    cpu_ms: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(args.rounds):
        for name, run in configs.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            run(args.conf)
            fps[name].append(len(frames) / (time.perf_counter() - started))
            cpu_ms[name].append((time.process_time() - cpu_started) * 1000 / len(frames))
    baseline_name = next(iter(configs))
    baseline = statistics.median(fps[baseline_name])
    print(
        f"\n{len(frames)} frames 640x480 at imgsz {args.imgsz}, conf {args.conf}, "
        f"median of {args.rounds} rounds; baseline torch threads: {ultralytics_threads}; "
        f"this process may use {all_threads} cores; top boxes compared at conf {AGREE_CONF}"
    )
    print(
        f"{'method':<44} {'fps':>7} {'x naive':>8} {'CPU ms/frame':>13} {'naive/it':>8} "
        f"{'top box agrees':>15}"
    )
    summary = []
    baseline_cpu = statistics.median(cpu_ms[baseline_name])
    for name in configs:
        value, cpu = statistics.median(fps[name]), statistics.median(cpu_ms[name])
        agree = agreement(tops[baseline_name], tops[name])
        print(
            f"{name:<44} {value:7.1f} {value / baseline:8.2f} {cpu:13.1f} "
            f"{baseline_cpu / cpu:8.2f} {agree:15.1%}"
        )
        summary.append(
            {
                "method": name,
                "fps": round(value, 2),
                "x_naive": round(value / baseline, 3),
                "cpu_ms_per_frame": round(cpu, 2),
                "agreement": agree,
            }
        )
    print(json.dumps({"torch_version": torch.__version__, "results": summary}))


if __name__ == "__main__":
    main()
