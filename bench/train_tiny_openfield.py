"""Train the seed paper's Tiny model (YOLOv3-tiny) from scratch on the open-field recording.

    .venv/bin/python bench/train_tiny_openfield.py [--frames 60] [--epochs 150] [--imgsz 320]
                                                  [--video PATH] [--device cpu]
                                                  [--two-mice-frames 0] [--out DIR]

A bench, not a test: the full run (150 epochs at 320 px on a CPU) takes a long time. Use
``--epochs 2`` to check that it works.

1. Samples ``--frames`` frames spread uniformly over ../shared/data/openfield-m3v1.mp4
   (one black mouse in a white arena, 640x480).
2. Labels them automatically (no annotation needed). The heuristic:

   - background = the per-pixel median of the sampled frames: the mouse moves, so the
     median is the empty arena, with its vignetted border and drawn lines;
   - foreground = pixels at least ``DARKER_BY`` grey levels darker than the background
     there. Comparing with the background rather than with a fixed threshold is what keeps
     the dark arena border (nearly as dark as the mouse) out;
   - a morphological opening with a ``TAIL_KERNEL_PX`` ellipse removes the thin tail (a few
     pixels wide) and noise while keeping the body (tens of pixels wide);
   - the box is the bounding box of the largest remaining blob. Frames whose blob is
     implausibly small or large (mouse hidden, lighting jump) are dropped.

3. Splits the frames 50/25/25 (the seed paper's ratio) with ``labeling.datasets.splits``, writes
   them in the YOLO layout with ``labeling.datasets.formats.yolo`` and trains ``yolov3-tiny`` with
   ``training.trainer`` (offline: ``training.ultralytics_setup``, files under var/).
4. Prints validation mAP50 and mAP50-95 of the best weights, the wall time, and, as its last
   line, the same as JSON.

``--two-mice-frames N`` adds N frames of a two-mouse video made for training (the mouse of
another moment pasted in, ``tests/tracking/synthetic_video.py``), labelled with both pasted
and real boxes: what a lab does for a multi-animal set-up, labelling frames where the animals
touch, since a detector that has only seen one mouse at a time merges two touching ones.
Its donor delay is NOT the one of ``bench/track_video.py``'s scoring video (that one is
:func:`choose_delay`'s; this one is half the video away from it), so the pairs of mice the
scoring video shows are not trained on; half the N frames are taken where the two mice
touch (boxes overlapping or nearly), half spread over the rest; frames where one mouse
covers most of the other (IoU > 0.5: nothing of it is visible to label) are left out.

No Django: only the pure modules are used. Output goes to var/bench/tiny-openfield/
(``--out`` to change).
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

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from labeling.datasets.formats import yolo  # noqa: E402
from labeling.datasets.formats.base import Dataset, DatasetBox, DatasetImage  # noqa: E402
from labeling.datasets.splits import assign_splits  # noqa: E402
from training import trainer  # noqa: E402
from training.presets import PRESETS, Hyperparameters  # noqa: E402
from training.ultralytics_setup import configure_offline  # noqa: E402

SOURCE = ROOT.parent / "shared" / "data" / "openfield-m3v1.mp4"
OUT = ROOT / "var" / "bench" / "tiny-openfield"
DARKER_BY = 50  # grey levels darker than the empty arena
TAIL_KERNEL_PX = 9  # wider than the tail, much narrower than the body
MIN_AREA_PX, MAX_AREA_PX = 300, 40_000  # a mouse seen from above at 640x480


def sample_frames(video: Path, n: int) -> list[tuple[int, np.ndarray]]:
    """``n`` (index, BGR frame) pairs spread uniformly over the video."""
    cap = cv2.VideoCapture(str(video))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    if count <= 0:
        raise SystemExit(f"{video}: cannot read the frame count")
    wanted = sorted({int(i) for i in np.linspace(0, count - 1, n)})
    frames = []
    for index in wanted:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        if ok:
            frames.append((index, frame))
    cap.release()
    return frames


def mouse_box(gray: np.ndarray, background: np.ndarray) -> tuple[float, float, float, float] | None:
    """(x, y, w, h) in pixels of the largest dark blob without its tail, or None."""
    darker = cv2.subtract(background, cv2.GaussianBlur(gray, (5, 5), 0))
    mask = (darker >= DARKER_BY).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (TAIL_KERNEL_PX, TAIL_KERNEL_PX))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h, area = (int(v) for v in stats[largest])
    if not MIN_AREA_PX <= area <= MAX_AREA_PX:
        return None
    return float(x), float(y), float(w), float(h)


def two_mouse_frames(video: Path, folder: Path, n: int) -> list[tuple[str, np.ndarray, list]]:
    """``n`` (name, BGR frame, [(x, y, w, h), ...]) of a two-mouse training video."""
    sys.path.insert(0, str(ROOT))
    from tests.tracking.synthetic_video import (
        _iou,
        choose_delay,
        make_two_mouse_video,
        median_background,
        mouse_boxes,
    )

    cap = cv2.VideoCapture(str(video))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    # The scoring video's delay, computed as make_two_mouse_video computes it.
    background = median_background(video, start=0, n_frames=count)
    boxes = mouse_boxes(video, background, start=0, n_frames=count)
    scored_delay = choose_delay(boxes)  # bench/track_video.py's scoring video
    delay = (scored_delay + len(boxes) // 2) % len(boxes)
    truth = make_two_mouse_video(video, folder / "train-two-mice.mp4", delay=delay)
    real, pasted = truth.boxes[:, 0], truth.boxes[:, 1]
    visible = ~np.isnan(truth.boxes).any(axis=(1, 2))
    iou = _iou(real, pasted)
    gap = np.maximum(  # distance between the boxes (0: touching or overlapping)
        np.maximum(real[:, 0], pasted[:, 0]) - np.minimum(real[:, 2], pasted[:, 2]),
        np.maximum(real[:, 1], pasted[:, 1]) - np.minimum(real[:, 3], pasted[:, 3]),
    )
    usable = visible & (iou <= 0.5)
    close = np.flatnonzero(usable & (gap < 20))
    rest = np.flatnonzero(usable & (gap >= 20))
    pick = lambda idx, k: idx[np.linspace(0, len(idx) - 1, k).astype(int)] if len(idx) else idx  # noqa: E731
    wanted = set(pick(close, min(n // 2, len(close))).tolist())
    wanted |= set(pick(rest, n - len(wanted)).tolist())
    cap = cv2.VideoCapture(str(truth.path))
    out = []
    for index in range(truth.n_frames):
        ok, frame = cap.read()
        if not ok:
            break
        if index in wanted:
            pair = [(float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1]))
                    for b in truth.boxes[index]]  # fmt: skip
            out.append((f"two-{index:06d}.jpg", frame, pair))
    cap.release()
    print(f"two-mouse training video: delay {delay} (scored video: {scored_delay}); "
          f"{len(out)} frames, {len(wanted & set(close.tolist()))} with the mice touching",
          flush=True)  # fmt: skip
    return out


def build_dataset(
    frames: list[tuple[int, np.ndarray]], folder: Path, extra: list | None = None
) -> tuple[Path, dict]:
    grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for _, f in frames]
    background = cv2.GaussianBlur(np.median(np.stack(grays), axis=0).astype(np.uint8), (5, 5), 0)
    images, paths = [], {}
    raw = folder / "frames"
    raw.mkdir(parents=True)
    for (index, frame), gray in zip(frames, grays, strict=True):
        box = mouse_box(gray, background)
        if box is None:
            continue
        name = f"{index:06d}.jpg"
        cv2.imwrite(str(raw / name), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths[name] = raw / name
        h, w = frame.shape[:2]
        images.append(DatasetImage(name, w, h, boxes=[DatasetBox("mouse", *box)]))
    for name, frame, pair in extra or []:
        cv2.imwrite(str(raw / name), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths[name] = raw / name
        h, w = frame.shape[:2]
        images.append(DatasetImage(name, w, h, boxes=[DatasetBox("mouse", *b) for b in pair]))
    splits = assign_splits([img.file_name for img in images], ratios=(50, 25, 25), seed=0)
    for img in images:
        img.split = splits[img.file_name]
    counts = {s: sum(img.split == s for img in images) for s in ("train", "val", "test")}
    if not counts["train"] or not counts["val"]:
        raise SystemExit(f"not enough labeled frames for train and val: {counts}")
    dataset_dir = folder / "dataset"
    yolo.write(Dataset(classes=["mouse"], images=images), dataset_dir, lambda i: paths[i.file_name])
    return dataset_dir / yolo.YAML_NAME, {
        "sampled": len(frames) + len(extra or []),
        "labeled": len(images),
        **counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=SOURCE)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=4)  # small set: more optimizer steps per epoch
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--two-mice-frames", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if not args.video.exists():
        raise SystemExit(f"{args.video} is absent (see ../shared/data/README.md)")

    started = time.monotonic()
    out = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    frames = sample_frames(args.video, args.frames)
    extra = two_mouse_frames(args.video, out, args.two_mice_frames) if args.two_mice_frames else []
    data_yaml, counts = build_dataset(frames, out, extra)
    print(
        f"{counts['labeled']} of {counts['sampled']} frames labeled automatically: "
        f"{counts['train']} train, {counts['val']} val, {counts['test']} test",
        flush=True,
    )

    configure_offline(ROOT / "var")
    hp = Hyperparameters(
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        workers=0,
        device=args.device,
        momentum=PRESETS["yolov3-tiny"].hyperparameters.momentum,
        weight_decay=PRESETS["yolov3-tiny"].hyperparameters.weight_decay,
    )

    def report(r: trainer.EpochReport) -> None:
        print(
            f"epoch {r.epoch}/{r.epochs}  box {r.box_loss or 0:.3f}  cls {r.cls_loss or 0:.3f}"
            f"  mAP50 {r.map50 or 0:.3f}  mAP50-95 {r.map50_95 or 0:.3f}"
            f"  {r.epoch_time_s:.1f} s",
            flush=True,
        )

    train_started = time.monotonic()
    result = trainer.train(
        data_yaml=data_yaml,
        preset_or_model="yolov3-tiny",
        hyperparameters=hp,
        project_dir=out / "run",
        on_epoch_end=report,
    )
    summary = {
        "preset": "yolov3-tiny",
        "epochs": result.epochs_done,
        "imgsz": args.imgsz,
        "frames": counts,
        "two_mice_frames": len(extra),
        "val_map50": result.metrics.map50 if result.metrics else None,
        "val_map50_95": result.metrics.map50_95 if result.metrics else None,
        "train_wall_s": round(time.monotonic() - train_started, 1),
        "total_wall_s": round(time.monotonic() - started, 1),
        "device": result.device_name,
        "best": str(result.best),
    }
    print(f"val mAP50 {summary['val_map50']}  mAP50-95 {summary['val_map50_95']}")
    print(f"wall time {summary['total_wall_s']} s (training {summary['train_wall_s']} s)")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
