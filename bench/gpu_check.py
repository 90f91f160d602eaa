"""The GPU check: training and inference on CUDA, in one prepared run for a lent GPU machine.

    .venv/bin/python bench/gpu_check.py [--video PATH] [--epochs 3] [--imgsz 320] [--out FILE]

What it measures (each figure next to the card's name, as JSON on the last line):

1. ``torch.cuda`` and ONNX Runtime's providers as the worker's device report sees them
   (``webapp.worker_devices.probe_gpus``, the training form's device list).
2. Training on ``cuda:0`` with Ultralytics' automatic mixed precision (half precision where
   the card has it): the seed paper's **Tiny** (YOLOv3-tiny) and **YOLO11n**, ``--epochs``
   epochs at ``--imgsz`` on the shared open-field frames labeled automatically
   (``bench/train_tiny_openfield.py``'s labeler); seconds per epoch and validation mAP.
3. Inference through ``training.runtime.Detector`` (the one door every app uses) on 256
   frames of the video: PyTorch on CUDA and ONNX Runtime with CUDAExecutionProvider (when
   installed), at batch sizes 1, 16 and 64; per-image milliseconds (the seed paper: 80 ms
   Tiny / 360 ms Full on a GTX 1060) and frames per second.

On the device machine the shared video is not beside the checkout: copy it into an ignored
folder of the repo first (``mkdir -p .gpu && cp ../shared/data/openfield-m3v1.mp4 .gpu/``),
carry ``.gpu`` and ``.venv`` (or install requirements there), and pass ``--video``.
No Django: only the pure modules are used. Output under var/bench/gpu-check/.
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

from bench.train_tiny_openfield import SOURCE, build_dataset, sample_frames  # noqa: E402

OUT = ROOT / "var" / "bench" / "gpu-check"


def devices() -> dict:
    import onnxruntime
    import torch

    from webapp.worker_devices import probe_gpus

    return {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpus": probe_gpus(),
        "onnx_providers": onnxruntime.get_available_providers(),
    }


def train(data_yaml: Path, preset: str, *, epochs: int, imgsz: int) -> dict:
    from training import trainer
    from training.presets import PRESETS, Hyperparameters

    defaults = PRESETS[preset].hyperparameters
    hp = Hyperparameters(
        epochs=epochs,
        imgsz=imgsz,
        batch=16,
        device="0",
        momentum=defaults.momentum,
        weight_decay=defaults.weight_decay,
        patience=epochs,
    )
    started = time.monotonic()
    result = trainer.train(
        data_yaml=data_yaml, preset_or_model=preset, hyperparameters=hp, project_dir=OUT / preset
    )
    seconds = time.monotonic() - started
    return {
        "preset": preset,
        "device": result.device_name,
        "epochs": result.epochs_done,
        "s_per_epoch": round(seconds / max(1, result.epochs_done), 2),
        "val_map50": result.metrics.map50 if result.metrics else None,
        "weights": str(result.best),
    }


def inference(weights: Path, frames: list, *, imgsz: int) -> list[dict]:
    from training.runtime import Detector

    rows = []
    for backend in ("torch", "onnx"):
        try:
            detector = Detector(weights, device="cuda:0", backend=backend)
        except Exception as exc:  # e.g. no CUDAExecutionProvider in this onnxruntime build
            rows.append({"backend": backend, "error": f"{type(exc).__name__}: {exc}"[:300]})
            continue
        for batch in (1, 16, 64):
            detector.predict(frames[:batch], imgsz=imgsz, batch_size=batch)  # warm-up
            started = time.perf_counter()
            detector.predict(frames, imgsz=imgsz, batch_size=batch)
            seconds = time.perf_counter() - started
            rows.append(
                {
                    "backend": backend,
                    "device": detector.device_name,
                    "batch": batch,
                    "ms_per_image": round(1000 * seconds / len(frames), 3),
                    "fps": round(len(frames) / seconds, 1),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=SOURCE)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--out", type=Path, help="also write the JSON summary here")
    args = parser.parse_args()
    if not args.video.exists():
        raise SystemExit(f"{args.video} is absent: see this script's docstring")
    from training.ultralytics_setup import configure_offline

    configure_offline(ROOT / "var")
    summary: dict = {"devices": devices()}
    print(json.dumps(summary["devices"]), flush=True)
    if not summary["devices"]["gpus"]:
        raise SystemExit("no CUDA GPU here: nothing to measure")
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    data_yaml, counts = build_dataset(sample_frames(args.video, 60), OUT)
    summary["frames"] = counts
    summary["training"] = [
        train(data_yaml, preset, epochs=args.epochs, imgsz=args.imgsz)
        for preset in ("yolov3-tiny", "yolo11n")
    ]
    print(json.dumps(summary["training"]), flush=True)
    frames = [frame for _, frame in sample_frames(args.video, 256)]
    summary["inference"] = {
        row["preset"]: inference(Path(row["weights"]), frames, imgsz=args.imgsz)
        for row in summary["training"]
    }
    text = json.dumps(summary)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
