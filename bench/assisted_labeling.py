"""Assisted labeling, measured: bootstrap quality, labeling effort, and the improvement loop.

    .venv/bin/python bench/assisted_labeling.py quality [--background-frames 60]
    .venv/bin/python bench/assisted_labeling.py loop [--epochs 30] [--imgsz 160] [--hard 20]
    .venv/bin/python bench/assisted_labeling.py control     # after loop: no hard frames
    .venv/bin/python bench/assisted_labeling.py effort      # a scripted Chromium session

All on ../shared/data/openfield-m3v1.mp4 (one black mouse, 640x480, 2330 frames), against the
hand-made boxes of bench/data/openfield_hand_boxes.json (30 frames; how they were made is in
that file). Each part prints its figures and, as its last line, the same as JSON.

- ``quality``: the zero-label bootstrap (:mod:`assisted.bootstrap`) exactly as the pre-label
  job runs it (background = per-pixel median of the video's sampled frames, here
  ``--background-frames`` spread uniformly plus the 30 labeled ones), against the hand boxes:
  share of frames whose proposal has IoU >= 0.7 and >= 0.9, mean and worst IoU.
- ``loop``: labels -> model -> track -> hard frames -> relabel -> model 2. Model 1: YOLO11n
  from scratch on 40 frames labeled by accepting bootstrap proposals (no person); tracking:
  that model over every 2nd frame of the video; hard frames: misses, low confidence and
  jumps of the best box (:mod:`assisted.hardframes`), ``--hard`` of them; relabel: their
  bootstrap proposals accepted (a stand-in for the person; the quality figures say how
  good that is); model 2: trained *from model 1* on the 40 + hard frames, same settings.
  Both are tested on the 30 hand-labeled frames (never trained on) with
  :func:`evaluation.metrics.evaluate_detections`.
- ``effort``: runs tests/e2e/test_assisted_effort.py (a live server and headless Chromium):
  50 frames labeled by drawing every box, and the same 50 with bootstrap proposals; counts
  the user actions (drags, key presses, clicks, fields filled) and the wall time of each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from assisted import bootstrap  # noqa: E402

SOURCE = ROOT.parent / "shared" / "data" / "openfield-m3v1.mp4"
HAND = ROOT / "bench" / "data" / "openfield_hand_boxes.json"
OUT = ROOT / "var" / "bench" / "assisted"
JUMP_PX = 40.0  # a mouse moves a few px per frame; a best box 40 px away is another object
NEAR = 3  # frames this close to a training or test frame are near-duplicates of it


def hand_boxes() -> dict[int, tuple[float, float, float, float]]:
    data = json.loads(HAND.read_text())
    return {int(f["frame"]): tuple(float(v) for v in f["box"]) for f in data["frames"]}


def read_frames(video: Path, indices) -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    out = {}
    for index in sorted({int(i) for i in indices}):
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        if ok:
            out[index] = frame
    cap.release()
    return out


def frame_count(video: Path) -> int:
    cap = cv2.VideoCapture(str(video))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return n


def bootstrap_boxes(frames: dict[int, np.ndarray], background: list[np.ndarray]) -> dict:
    model = bootstrap.background_model(background)
    out = {}
    for index, frame in frames.items():
        boxes = bootstrap.propose_boxes(frame, model, expected=1)
        out[index] = boxes[0] if boxes else None
    return out


# --- quality -------------------------------------------------------------------------------
def quality(args) -> dict:
    truth = hand_boxes()
    n = frame_count(args.video)
    extra = np.linspace(0, n - 1, args.background_frames).astype(int)
    frames = read_frames(args.video, [*truth, *extra])
    started = time.monotonic()
    proposals = bootstrap_boxes({i: frames[i] for i in truth}, list(frames.values()))
    wall = time.monotonic() - started
    ious = []
    for index, want in sorted(truth.items()):
        got = proposals[index]
        iou = bootstrap.box_iou((got.x, got.y, got.w, got.h), want) if got else 0.0
        ious.append(iou)
        shown = f"{got.x:.0f},{got.y:.0f} {got.w:.0f}x{got.h:.0f}" if got else "none"
        print(f"frame {index:5d}  hand {want}  bootstrap {shown}  IoU {iou:.3f}")
    ious = np.array(ious)
    summary = {
        "frames": len(ious),
        "background_frames": len(frames),
        "iou_ge_0_7": round(float((ious >= 0.7).mean()), 3),
        "iou_ge_0_9": round(float((ious >= 0.9).mean()), 3),
        "mean_iou": round(float(ious.mean()), 3),
        "min_iou": round(float(ious.min()), 3),
        "wall_s": round(wall, 2),
    }
    print(
        f"IoU >= 0.7: {summary['iou_ge_0_7']:.0%}  IoU >= 0.9: {summary['iou_ge_0_9']:.0%}"
        f"  mean {summary['mean_iou']:.3f}  worst {summary['min_iou']:.3f}"
    )
    return summary


# --- the loop ------------------------------------------------------------------------------
def _write_yolo(folder: Path, items: list[tuple[str, np.ndarray, list, str]]) -> Path:
    """items: (name, BGR image, [(x, y, w, h)], split) -> a YOLO dataset; its data.yaml."""
    from labeling.datasets.formats import yolo
    from labeling.datasets.formats.base import Dataset, DatasetBox, DatasetImage

    raw = folder / "images-raw"
    raw.mkdir(parents=True, exist_ok=True)
    images, paths = [], {}
    for name, image, boxes, split in items:
        path = raw / f"{name}.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths[path.name] = path
        h, w = image.shape[:2]
        images.append(
            DatasetImage(
                path.name, w, h, split, [DatasetBox("mouse", *b) for b in boxes],
                is_negative=not boxes,
            )
        )  # fmt: skip
    yolo.write(
        Dataset(classes=["mouse"], images=images), folder / "dataset", lambda i: paths[i.file_name]
    )
    return folder / "dataset" / yolo.YAML_NAME


def _train(data_yaml: Path, start: str, args, folder: Path) -> tuple[Path, float]:
    from training import trainer
    from training.presets import Hyperparameters

    started = time.monotonic()
    result = trainer.train(
        data_yaml=data_yaml,
        preset_or_model=start,
        hyperparameters=Hyperparameters(
            epochs=args.epochs, imgsz=args.imgsz, batch=4, workers=0, device="cpu", patience=0
        ),
        project_dir=folder / "run",
    )
    return Path(result.best), time.monotonic() - started


def _test(detector, frames: dict[int, np.ndarray], truth: dict, imgsz: int) -> dict:
    from evaluation.metrics import DetectionBox, GroundTruthBox, evaluate_detections

    order = sorted(truth)
    dets = detector.predict([frames[i] for i in order], imgsz=imgsz, conf=0.001)
    gt = {i: [GroundTruthBox(0, *truth[i])] for i in order}
    found = {
        i: [
            DetectionBox(0, *map(float, b), float(s))
            for b, s in zip(d.boxes_xywh, d.scores, strict=True)
        ]
        for i, d in zip(order, dets, strict=True)
    }
    r = evaluate_detections(gt, found, iou_threshold=0.5, conf_threshold=0.25)
    return {
        "ap50": round(r.coco_ap50 or 0.0, 3),
        "ap50_95": round(r.coco_ap50_95 or 0.0, 3),
        "precision": round(r.precision, 3),
        "recall": round(r.recall, 3),
        "mean_iou": round(r.average_iou or 0.0, 3),
    }


def _track(detector, video: Path, imgsz: int, step: int):
    """Best box of every ``step``-th frame: (frames, status, confidence, outlier, count);
    an outlier is a best box whose centre jumped more than ``JUMP_PX`` since the last one."""
    cap = cv2.VideoCapture(str(video))
    frames, status, conf, batch, index = [], [], [], [], 0
    centres: list[tuple[float, float] | None] = []

    def flush():
        for (i, _), d in zip(
            batch, detector.predict([b for _, b in batch], imgsz=imgsz, conf=0.1), strict=True
        ):
            frames.append(i)
            if len(d.scores):
                best = int(np.argmax(d.scores))
                x, y, w, h = (float(v) for v in d.boxes_xywh[best])
                status.append(1)
                conf.append(float(d.scores[best]))
                centres.append((x + w / 2, y + h / 2))
            else:
                status.append(0)
                conf.append(np.nan)
                centres.append(None)
        batch.clear()

    while True:
        ok, image = cap.read()
        if not ok:
            break
        if index % step == 0:
            batch.append((index, image))
            if len(batch) == 16:
                flush()
        index += 1
    if batch:
        flush()
    cap.release()
    outlier, last = np.zeros((len(frames), 1), bool), None
    for k, c in enumerate(centres):
        if c is not None:
            if last is not None and np.hypot(c[0] - last[0], c[1] - last[1]) > JUMP_PX:
                outlier[k, 0] = True
            last = c
    return np.array(frames), np.array(status)[:, None], np.array(conf)[:, None], outlier, index


def loop(args) -> dict:
    from assisted.hardframes import sample_hard_frames, tracking_hard_frames
    from training.runtime import Detector
    from training.ultralytics_setup import configure_offline

    configure_offline(ROOT / "var")
    shutil.rmtree(OUT / "loop", ignore_errors=True)
    truth = hand_boxes()
    n = frame_count(args.video)
    test_set = set(truth)
    # Training frames: 40 spread over the video, none within 15 frames of a test frame.
    candidates = [int(i) for i in np.linspace(0, n - 1, 80)]
    train_idx = [i for i in candidates if min(abs(i - t) for t in test_set) > NEAR][:40]
    background_idx = np.linspace(0, n - 1, 60).astype(int)
    frames = read_frames(args.video, [*truth, *train_idx, *background_idx])
    background = [frames[i] for i in background_idx if i in frames]
    labels = bootstrap_boxes({i: frames[i] for i in train_idx}, background)

    def items(indices):
        out = []
        for k, i in enumerate(sorted(indices)):
            box = labels[i]
            boxes = [(box.x, box.y, box.w, box.h)] if box else []
            out.append((f"f{i:05d}", frames[i], boxes, "val" if k % 4 == 3 else "train"))
        return out

    t0 = time.monotonic()
    yaml1 = _write_yolo(OUT / "loop" / "m1", items(train_idx))
    weights1, train1_s = _train(yaml1, "yolo11n.yaml", args, OUT / "loop" / "m1")
    det1 = Detector(weights1, device="cpu", threads=args.threads)
    test1 = _test(det1, frames, truth, args.imgsz)
    print(f"model 1 ({len(train_idx)} bootstrap-labeled frames): {test1}", flush=True)

    track_started = time.monotonic()
    tf, status, conf, outlier, total = _track(det1, args.video, args.imgsz, args.track_step)
    track_s = time.monotonic() - track_started
    hard = tracking_hard_frames(
        status=status,
        confidence=conf,
        frames=tf,
        flags={"outlier": outlier},
        low_confidence=args.low_conf,
    )
    exclude = set(train_idx) | test_set
    hard = [h for h in hard if min(abs(h.frame - t) for t in exclude) > NEAR]
    chosen = sample_hard_frames(hard, n_frames=total, cap=args.hard, min_gap=15)
    reasons = {}
    for h in chosen:
        reasons[h.reason] = reasons.get(h.reason, 0) + 1
    print(
        f"tracked {len(tf)} frames in {track_s:.0f} s: {int((status == 0).sum())} misses, "
        f"{int((np.nan_to_num(conf, nan=1) < args.low_conf).sum())} low confidence, "
        f"{int(outlier.sum())} jumps; hard frames {reasons}",
        flush=True,
    )
    hard_frames = read_frames(args.video, [h.frame for h in chosen])
    frames.update(hard_frames)
    labels.update(bootstrap_boxes(hard_frames, background))
    yaml2 = _write_yolo(OUT / "loop" / "m2", items([*train_idx, *hard_frames]))
    weights2, train2_s = _train(yaml2, str(weights1), args, OUT / "loop" / "m2")
    det2 = Detector(weights2, device="cpu", threads=args.threads)
    test2 = _test(det2, frames, truth, args.imgsz)
    print(f"model 2 (+{len(hard_frames)} hard frames, from model 1): {test2}", flush=True)
    _, status2, conf2, outlier2, _ = _track(det2, args.video, args.imgsz, args.track_step)
    return {
        "train_frames": len(train_idx),
        "hard_frames": len(hard_frames),
        "hard_reasons": reasons,
        "epochs": args.epochs,
        "imgsz": args.imgsz,
        "model1_test": test1,
        "model2_test": test2,
        "model1_track": {
            "frames": len(tf),
            "misses": int((status == 0).sum()),
            "low_conf": int((np.nan_to_num(conf, nan=1) < args.low_conf).sum()),
            "jumps": int(outlier.sum()),
        },
        "model2_track": {
            "frames": len(tf),
            "misses": int((status2 == 0).sum()),
            "low_conf": int((np.nan_to_num(conf2, nan=1) < args.low_conf).sum()),
            "jumps": int(outlier2.sum()),
        },
        "train1_s": round(train1_s, 1),
        "train2_s": round(train2_s, 1),
        "total_s": round(time.monotonic() - t0, 1),
    }


def control(args) -> dict:
    """After ``loop``: model 1 trained the same extra epochs on its own 40 frames (no hard
    frames), so that model 2's gain is not just more training."""
    from training.runtime import Detector
    from training.ultralytics_setup import configure_offline

    configure_offline(ROOT / "var")
    weights1 = OUT / "loop" / "m1" / "run" / "weights" / "best.pt"
    yaml1 = OUT / "loop" / "m1" / "dataset" / "data.yaml"
    if not weights1.is_file():
        raise SystemExit("run the loop part first")
    shutil.rmtree(OUT / "loop" / "control", ignore_errors=True)
    truth = hand_boxes()
    frames = read_frames(args.video, truth)
    weights, train_s = _train(yaml1, str(weights1), args, OUT / "loop" / "control")
    test = _test(Detector(weights, device="cpu", threads=args.threads), frames, truth, args.imgsz)
    print(f"model 1 + {args.epochs} epochs on the same 40 frames: {test}")
    return {"control_test": test, "train_s": round(train_s, 1), "epochs": args.epochs}


# --- effort --------------------------------------------------------------------------------
def effort(args) -> dict:
    out = OUT / "effort.json"
    out.unlink(missing_ok=True)
    env = {**os.environ, "MOUSETRACK_BENCH_EFFORT": str(out)}
    cmd = [sys.executable, "-m", "pytest", "tests/e2e/test_assisted_effort.py", "-q", "-x"]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)
    summary = json.loads(out.read_text())
    for mode in ("without", "with"):
        s = summary[mode]
        print(f"{mode} proposals: {s['actions']} actions ({s['detail']}), {s['wall_s']} s")
    print(
        f"ratio (without / with): actions {summary['action_ratio']}, time {summary['time_ratio']}"
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["quality", "loop", "control", "effort"])
    parser.add_argument("--video", type=Path, default=SOURCE)
    parser.add_argument("--background-frames", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--imgsz", type=int, default=160)
    parser.add_argument("--hard", type=int, default=20)
    parser.add_argument("--track-step", type=int, default=2)
    parser.add_argument("--low-conf", type=float, default=0.6)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not args.video.exists():
        raise SystemExit(f"{args.video} is absent (see ../shared/data/README.md)")
    OUT.mkdir(parents=True, exist_ok=True)
    parts = {"quality": quality, "loop": loop, "control": control, "effort": effort}
    summary = parts[args.part](args)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
