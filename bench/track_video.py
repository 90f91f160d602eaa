"""Track the open-field recording with the engine, and with what a user would write instead.

    .venv/bin/python bench/track_video.py [--weights best.pt] [--frames N] [--imgsz 320]
                                          [--device cpu] [--no-two-mice] [--train-epochs 100]

A bench, not a test (tests never assert times). Same model, same video, same imgsz, same
conf/iou/max_det for every contender:

1. decode only: ``OpenCVSource`` over the video;
2. the naive loop: ``cv2.VideoCapture`` + ``YOLO(pt).predict(frame, imgsz=...)`` per frame;
3. Ultralytics' own streaming: ``YOLO(pt).predict(source=video, stream=True)``;
4. the engine end to end (decode -> detections -> chunks -> positions via the identity
   pipeline), dynamic cropping off, then on.

Printed: fps, ratio to the naive loop, real-time factor (processed fps / video fps),
per-frame latency, agreement with the naive loop (share of frames whose boxes all match
one to one at IoU >= 0.9; and the same for the best box only, the animal's position), and
CPU milliseconds per frame (all threads) with its ratio to the naive loop: on a shared
machine wall-clock ratios move with the neighbours' load, CPU time much less.
``--four-arenas N`` adds a multi-arena video made from the recording (four moments side by
side, one mouse each) tracked with full frames, one window around all, and a window per
animal: CPU time, fps and agreement with full frames.
``--repeats`` runs all contenders in turn that many times (medians are printed); ``--only
"engine, crop on"`` runs the named ones (separated by ``;``; no ratios without the naive loop).

On the recording itself, each contender's one-animal positions are also scored against
held-out labels (``bench/heldout_labels.py``: frames the model was not trained on, boxes by
background difference, checked on a contact sheet): share of labels matched at IoU >= 0.5,
median centre error in px; ``heldout-sheet.png`` shows labels and boxes side by side.

Then, on the two-mouse synthetic video (``tests/tracking/synthetic_video.py``: the mouse of
another moment pasted into every frame, ground truth known): IDF1, MOTA and ID switches
(``tracking.engine.scoring``) of the engine against Ultralytics' default BoT-SORT
(``model.track(frame, persist=True)`` per frame), same model.

Without ``--weights`` it uses ``var/bench/tiny-openfield/run/weights/best.pt`` and trains
it first if absent (``bench/train_tiny_openfield.py``: a YOLOv3-tiny on auto-labelled
frames). Output and the last line's JSON go to ``var/bench/track-video/``.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402

from bench import two_mice  # noqa: E402
from tracking.engine.cropping import CropParams  # noqa: E402
from tracking.engine.frames import OpenCVSource  # noqa: E402
from tracking.engine.runner import DetectParams, TrackParams, track_video  # noqa: E402

SOURCE = ROOT.parent / "shared" / "data" / "openfield-m3v1.mp4"
OUT = ROOT / "var" / "bench" / "track-video"
TINY_WEIGHTS = ROOT / "var" / "bench" / "tiny-openfield" / "run" / "weights" / "best.pt"
CONF, IOU, MAX_DET = 0.25, 0.7, 300  # Ultralytics' predict defaults, for every contender
AGREE_IOU = 0.9


def runtime():
    """The model runtime (``training.runtime.Detector``) and Ultralytics' offline set-up."""
    from training.runtime import Detector
    from training.ultralytics_setup import configure_offline

    return Detector, configure_offline


def make_detector(Detector, weights: Path, args) -> Any:  # noqa: N803 - a class
    """``--backend``/``--threads`` reach the new runtime only; the old one takes neither."""
    import inspect

    accepted = inspect.signature(Detector).parameters
    extra = {k: v for k, v in (("backend", args.backend), ("threads", args.threads)) if v}
    ignored = sorted(set(extra) - set(accepted))
    if ignored:
        print(f"this runtime has no {', '.join(ignored)}: ignored", flush=True)
    kwargs = {k: v for k, v in extra.items() if k in accepted}
    return Detector(weights, device=args.device, **kwargs)


class Limited:
    """The first ``n`` frames of a source (``None``: all)."""

    def __init__(self, source, n):
        self.source, self.n = source, n
        self.fps, self.size = source.fps, source.size
        count = source.frame_count
        self.frame_count = count if n is None else min(n, count or n)

    def frames(self, start=0, stop=None):
        if self.n is not None:
            stop = self.n if stop is None else min(stop, self.n)
        return self.source.frames(start, stop)


# --------------------------------------------------------------------------------------------
# Contenders


def decode_only(video: Path, n: int | None) -> dict:
    started = time.perf_counter()
    count = sum(1 for _ in Limited(OpenCVSource(video), n).frames())
    wall = time.perf_counter() - started
    return {"frames": count, "wall_s": wall, "fps": count / wall}


def _boxes_of(result) -> tuple[np.ndarray, np.ndarray]:
    boxes = result.boxes
    return (
        boxes.xyxy.cpu().numpy().astype(np.float32).reshape(-1, 4),
        boxes.conf.cpu().numpy().astype(np.float32).reshape(-1),
    )


def naive_loop(weights: Path, video: Path, n: int | None, imgsz: int, device: str) -> dict:
    """What a user writes first: read a frame, predict, repeat."""
    import cv2
    from ultralytics import YOLO

    model = YOLO(str(weights))
    cap = cv2.VideoCapture(str(video))
    ok, frame = cap.read()
    model.predict(frame, imgsz=imgsz, conf=CONF, iou=IOU, max_det=MAX_DET, device=device,
                  verbose=False)  # fmt: skip  # warm-up, as every contender gets
    cap.release()
    cap = cv2.VideoCapture(str(video))
    found, latencies = [], []
    started = time.perf_counter()
    while n is None or len(found) < n:
        ok, frame = cap.read()
        if not ok:
            break
        t = time.perf_counter()
        (result,) = model.predict(
            frame, imgsz=imgsz, conf=CONF, iou=IOU, max_det=MAX_DET, device=device, verbose=False
        )
        latencies.append(time.perf_counter() - t)
        found.append(_boxes_of(result))
    wall = time.perf_counter() - started
    cap.release()
    return {"frames": len(found), "wall_s": wall, "fps": len(found) / wall,
            "latencies_s": latencies, "boxes": found}  # fmt: skip


def ultralytics_stream(weights: Path, video: Path, n: int | None, imgsz: int, device: str) -> dict:
    from ultralytics import YOLO

    model = YOLO(str(weights))
    found, latencies = [], []
    started = time.perf_counter()
    for result in model.predict(
        source=str(video), stream=True, imgsz=imgsz, conf=CONF, iou=IOU, max_det=MAX_DET,
        device=device, verbose=False,
    ):  # fmt: skip
        found.append(_boxes_of(result))
        latencies.append(sum((result.speed or {}).values()) / 1000)
        if n is not None and len(found) >= n:
            break
    wall = time.perf_counter() - started
    return {"frames": len(found), "wall_s": wall, "fps": len(found) / wall,
            "latencies_s": latencies, "boxes": found}  # fmt: skip


def engine(detector, video: Path, n: int | None, imgsz: int, *, crop: bool, n_animals: int,
           run_dir: Path, per_animal: bool = True) -> dict:  # fmt: skip
    shutil.rmtree(run_dir, ignore_errors=True)
    params = TrackParams(
        detect=DetectParams(imgsz=imgsz, conf=CONF, iou=IOU, max_det=MAX_DET, batch_size=1),
        crop=CropParams(enabled=crop, per_animal=per_animal),
    )
    started = time.perf_counter()
    result = track_video(
        Limited(OpenCVSource(video), n),
        detector,
        n_animals=n_animals,
        params=params,
        run_dir=run_dir,
    )
    wall = time.perf_counter() - started
    s = result.stats
    return {
        "frames": s.frames,
        "wall_s": wall,
        "fps": s.frames / wall,
        "detect_fps": s.fps,
        "inference_fps": s.inference_fps,
        "decode_fps_in_thread": s.decode_fps,
        "crop_share": s.crop_share,
        "full_reruns": s.full_reruns,
        "fallbacks": s.fallbacks,
        "latency_ms_mean": s.latency_ms_mean,
        "latency_ms_p95": s.latency_ms_p95,
        "boxes": [(d.boxes_xyxy, d.scores) for d in result.detections],
        "detections": result.detections,
        "tracking": result.tracking,
    }


# --------------------------------------------------------------------------------------------
# Comparisons


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from tracking.engine.scoring import iou_matrix

    return iou_matrix(a, b)


def agreement(found, reference) -> dict:
    """Share of frames whose boxes match the reference's one to one at IoU >= 0.9 (all boxes;
    and the best-scoring box only, i.e. the position a single animal gets)."""
    from scipy.optimize import linear_sum_assignment

    frames = min(len(found), len(reference))
    all_ok = best_ok = 0
    for (boxes, scores), (ref_boxes, ref_scores) in zip(found[:frames], reference[:frames],
                                                        strict=True):  # fmt: skip
        if len(boxes) == len(ref_boxes):
            if len(boxes) == 0:
                all_ok += 1
            else:
                iou = _iou(boxes, ref_boxes)
                rows, cols = linear_sum_assignment(-iou)
                all_ok += bool((iou[rows, cols] >= AGREE_IOU).all())
        if len(boxes) == 0 or len(ref_boxes) == 0:
            best_ok += len(boxes) == len(ref_boxes)
        else:
            a = boxes[np.argmax(scores)][None]
            b = ref_boxes[np.argmax(ref_scores)][None]
            best_ok += bool(_iou(a, b)[0, 0] >= AGREE_IOU)
    return {"all_boxes": all_ok / frames, "best_box": best_ok / frames, "frames": frames}


def botsort(weights: Path, video: Path, imgsz: int, device: str, n: int | None) -> dict:
    """Ultralytics' default tracker, as its docs show it: ``model.track(persist=True)``."""
    import cv2
    from ultralytics import YOLO

    model = YOLO(str(weights))
    cap = cv2.VideoCapture(str(video))
    frames = []
    started = time.perf_counter()
    while n is None or len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        (result,) = model.track(
            frame, persist=True, tracker="botsort.yaml", imgsz=imgsz, conf=CONF, iou=IOU,
            max_det=MAX_DET, device=device, verbose=False,
        )  # fmt: skip
        boxes = result.boxes
        if boxes.id is None:
            frames.append((np.zeros(0, np.int64), np.zeros((0, 4))))
        else:
            frames.append(
                (boxes.id.cpu().numpy().astype(np.int64), boxes.xyxy.cpu().numpy().astype(float))
            )
    wall = time.perf_counter() - started
    cap.release()
    return {"frames": len(frames), "wall_s": wall, "fps": len(frames) / wall, "tracks": frames}


def heldout_accuracy(positions: np.ndarray, labels: dict) -> dict:
    """``positions``: float (F, 4) xyxy the one animal's box per frame (NaN: none). Against
    the held-out labels (``bench/heldout_labels.py``: frames the model was not trained on):
    share of labels matched at IoU >= 0.5 (a frame without a box is a miss), median and p95
    centre error in px over the frames with a box."""
    frames = [f for f in labels["frames"] if f < len(positions)]
    truth = np.asarray(labels["boxes"], np.float64)[: len(frames)]
    found = positions[frames]
    has = ~np.isnan(found).any(axis=1)
    iou = np.array([_iou(a[None], b[None])[0, 0] if h else 0.0
                    for a, b, h in zip(found, truth, has, strict=True)])  # fmt: skip
    centre = lambda b: (b[:, :2] + b[:, 2:]) / 2  # noqa: E731
    error = np.linalg.norm(centre(found[has]) - centre(truth[has]), axis=1)
    return {
        "labels": len(frames),
        "iou50_share": float(np.mean(iou >= 0.5)) if frames else float("nan"),
        "found_share": float(np.mean(has)) if frames else float("nan"),
        "median_iou": float(np.median(iou)) if frames else float("nan"),
        "centre_error_px_median": float(np.median(error)) if error.size else float("nan"),
        "centre_error_px_p95": float(np.percentile(error, 95)) if error.size else float("nan"),
    }


def _best_boxes(found) -> np.ndarray:
    """Per-frame (boxes, scores) -> (F, 4) the best-scoring box, NaN where none."""
    out = np.full((len(found), 4), np.nan)
    for i, (boxes, scores) in enumerate(found):
        if len(scores):
            out[i] = boxes[int(np.argmax(scores))]
    return out


def four_arena_video(out: Path, n_frames: int) -> Path:
    """A multi-arena recording made from the shared one: four moments of it (frames t, t+500,
    t+1000, t+1500) side by side, 2x2, 1280x960, one mouse per arena."""
    import cv2

    from tracking.engine.render import Mp4Writer

    video = out / f"four-arenas-{n_frames}.mp4"
    if video.exists():
        return video
    caps = []
    for offset in (0, 500, 1000, 1500):
        cap = cv2.VideoCapture(str(SOURCE))
        for _ in range(offset):
            cap.grab()
        caps.append(cap)
    with Mp4Writer(video, size=(1280, 960), fps=30.0, crf=18) as writer:
        for _ in range(n_frames):
            tiles = [cap.read()[1] for cap in caps]
            writer.write(np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])]))
    for cap in caps:
        cap.release()
    return video


def crop_modes(detector, video: Path, n: int | None, imgsz: int, n_animals: int) -> dict:
    """Full frames, one window around all, a window per animal: CPU ms per frame, fps,
    share cropped, and agreement with full frames (frames, and boxes scoring >= 0.5)."""
    rows, found = {}, {}
    for label, crop, per_animal in (("full frames", False, True), ("one window", True, False),
                                    ("window per animal", True, True)):  # fmt: skip
        cpu = time.process_time()
        run_dir = OUT / f"run-modes-{label.replace(' ', '-')}"
        e = engine(detector, video, n, imgsz, crop=crop, n_animals=n_animals,
                   run_dir=run_dir, per_animal=per_animal)  # fmt: skip
        rows[label] = {"cpu_ms_per_frame": (time.process_time() - cpu) / e["frames"] * 1000,
                       "fps": e["fps"], "crop_share": e["crop_share"]}  # fmt: skip
        found[label] = e["boxes"]
    for label, boxes in found.items():
        rows[label]["agree_frames"] = agreement(boxes, found["full frames"])["all_boxes"]
        confident = [(b[s >= 0.5], s[s >= 0.5]) for b, s in boxes]
        reference = [(b[s >= 0.5], s[s >= 0.5]) for b, s in found["full frames"]]
        matched = [_iou(a, r).max(axis=1) for (a, _), (r, _) in zip(confident, reference,
                   strict=True) if len(a) and len(r)]  # fmt: skip
        rows[label]["agree_boxes"] = float(np.mean(np.concatenate(matched) >= AGREE_IOU))
    print(f"{'':20}{'cpu ms':>8}{'fps':>7}{'cropped':>9}{'agree frames':>14}{'agree boxes':>13}")
    for label, r in rows.items():
        print(f"{label:20}{r['cpu_ms_per_frame']:8.1f}{r['fps']:7.1f}{r['crop_share']:9.3f}"
              f"{r['agree_frames']:14.3f}{r['agree_boxes']:13.3f}")  # fmt: skip
    return rows


# --------------------------------------------------------------------------------------------


def _latency(latencies_s) -> dict:
    ms = np.asarray(latencies_s) * 1000
    return {"latency_ms_mean": float(ms.mean()), "latency_ms_p95": float(np.percentile(ms, 95))}


def _weights(args) -> Path:
    if args.weights:
        return args.weights
    if not TINY_WEIGHTS.exists():
        print(f"no --weights: training {TINY_WEIGHTS} first", flush=True)
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "train_tiny_openfield.py"),
             "--epochs", str(args.train_epochs), "--imgsz", str(args.imgsz)],
            check=True,
        )  # fmt: skip
    return TINY_WEIGHTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--video", type=Path, default=SOURCE)
    parser.add_argument("--frames", type=int, help="only the first N frames (default: all)")
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", help="new runtime only: auto | torch | onnx")
    parser.add_argument("--threads", type=int, help="new runtime only: CPU threads")
    parser.add_argument("--train-epochs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1, help="rounds of all contenders")
    parser.add_argument("--no-two-mice", action="store_true")
    parser.add_argument("--only", help="contenders to run, separated by ';' (default: all; "
                        "without the naive loop no ratios are printed)")  # fmt: skip
    parser.add_argument("--two-mice-crop-off", action="store_true",
                        help="also score one window around both, and no cropping")  # fmt: skip
    parser.add_argument("--render", action="store_true", help="annotated two-mouse MP4")
    parser.add_argument("--noise-seeds", type=int, default=0, metavar="N",
                        help="also: IDF1 of the two-mouse detections under 1 px of box "
                        "noise, N seeds, by motion only and by motion and look")  # fmt: skip
    parser.add_argument("--four-arenas", type=int, metavar="N",
                        help="also: N frames of a 2x2 multi-arena video made from the "
                        "recording, tracked at twice --imgsz with each cropping mode")  # fmt: skip
    args = parser.parse_args()
    if not args.video.exists():
        raise SystemExit(f"{args.video} is absent (see ../shared/data/README.md)")
    OUT.mkdir(parents=True, exist_ok=True)
    weights = _weights(args)
    Detector, configure_offline = runtime()
    configure_offline(ROOT / "var")
    import torch

    video_fps = OpenCVSource(args.video).fps
    n, imgsz, device = args.frames, args.imgsz, args.device
    load_start = os.getloadavg()[0]
    print(f"weights {weights}\nvideo {args.video} ({video_fps:g} fps), imgsz {imgsz}, "
          f"device {device}, load average {load_start:.2f}", flush=True)  # fmt: skip

    detector = make_detector(Detector, weights, args)
    print(f"engine runtime: {type(detector).__module__}.Detector, backend "
          f"{getattr(detector, 'backend', 'ultralytics')}, threads "
          f"{getattr(detector, 'threads', 'ultralytics default')}", flush=True)  # fmt: skip
    detector.predict([np.zeros((480, 640, 3), np.uint8)], imgsz=imgsz, conf=CONF, iou=IOU,
                     max_det=MAX_DET, batch_size=1)  # fmt: skip  # warm-up
    contenders = {
        "decode only": lambda: decode_only(args.video, n),
        "naive loop": lambda: naive_loop(weights, args.video, n, imgsz, device),
        "ultralytics stream": lambda: ultralytics_stream(weights, args.video, n, imgsz, device),
        "engine, crop off": lambda: engine(detector, args.video, n, imgsz, crop=False,
                                           n_animals=1, run_dir=OUT / "run-crop-off"),
        "engine, crop on": lambda: engine(detector, args.video, n, imgsz, crop=True,
                                          n_animals=1, run_dir=OUT / "run-crop-on"),
    }  # fmt: skip
    if args.only:
        wanted = [name.strip() for name in args.only.split(";")]
        unknown = sorted(set(wanted) - set(contenders))
        if unknown:
            raise SystemExit(f"--only: no contender {unknown[0]!r} (one of {list(contenders)})")
        contenders = {name: run for name, run in contenders.items() if name in wanted}
    # The CPU is shared: run the contenders in turn, --repeats times, so that each round
    # sees about the same load; ratios are taken within a round, then the median.
    rounds: list[dict[str, dict]] = []
    for i in range(args.repeats):
        rounds.append({})
        for name, run in contenders.items():
            cpu = time.process_time()
            rounds[-1][name] = run()
            cpu = time.process_time() - cpu  # every thread of this process
            rounds[-1][name]["cpu_ms_per_frame"] = cpu / rounds[-1][name]["frames"] * 1000
            print(f"round {i + 1}: {name} {rounds[-1][name]['fps']:.1f} fps "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
    results = rounds[0]

    naive = results.get("naive loop")
    print(f"\n{'':22}{'fps':>8}{'x naive':>9}{'x real-time':>12}{'latency ms':>12}"
          f"{'p95':>7}{'agree all':>11}{'agree pos':>11}{'cropped':>9}{'cpu ms':>8}"
          f"{'x cpu':>7}")  # fmt: skip
    summary = {"weights": str(weights), "imgsz": imgsz, "device": device, "video_fps": video_fps,
               "runtime": f"{type(detector).__module__}.Detector",
               "backend": getattr(detector, "backend", "ultralytics"),
               "threads": getattr(detector, "threads", None),
               "torch_threads": torch.get_num_threads(), "repeats": args.repeats,
               "load_average_start": load_start}  # fmt: skip
    for name, r in results.items():
        fps = float(np.median([rd[name]["fps"] for rd in rounds]))
        cpu = float(np.median([rd[name]["cpu_ms_per_frame"] for rd in rounds]))
        if naive is None:
            ratio = cpu_ratio = float("nan")
        else:
            ratio = float(np.median([rd[name]["fps"] / rd["naive loop"]["fps"] for rd in rounds]))
            cpu_ratio = float(np.median(
                [rd["naive loop"]["cpu_ms_per_frame"] / rd[name]["cpu_ms_per_frame"]
                 for rd in rounds]
            ))  # fmt: skip
        row = {"fps": fps, "x_naive": ratio, "rtf": fps / video_fps, "frames": r["frames"],
               "fps_rounds": [rd[name]["fps"] for rd in rounds], "cpu_ms_per_frame": cpu,
               "x_naive_cpu": cpu_ratio}  # fmt: skip
        if "latencies_s" in r:
            row.update(_latency(r["latencies_s"]))
        elif "latency_ms_mean" in r:
            row.update(latency_ms_mean=r["latency_ms_mean"], latency_ms_p95=r["latency_ms_p95"])
        if "boxes" in r and naive is not None and name != "naive loop":
            agree = agreement(r["boxes"], naive["boxes"])
            row.update(agree_all=agree["all_boxes"], agree_position=agree["best_box"])
        for key in ("crop_share", "full_reruns", "fallbacks", "inference_fps"):
            if key in r:
                row[key] = r[key]
        summary[name] = row
        print(f"{name:22}{row['fps']:8.1f}{row['x_naive']:9.2f}{row['rtf']:12.2f}"
              f"{row.get('latency_ms_mean', float('nan')):12.1f}"
              f"{row.get('latency_ms_p95', float('nan')):7.1f}"
              f"{row.get('agree_all', float('nan')):11.4f}"
              f"{row.get('agree_position', float('nan')):11.4f}"
              f"{row.get('crop_share', float('nan')):9.3f}{cpu:8.1f}{cpu_ratio:7.2f}",
              flush=True)  # fmt: skip
    if "engine, crop on" in results:
        print(f"fallbacks (crop on): {results['engine, crop on']['fallbacks']}")

    if args.video == SOURCE:
        import heldout_labels

        labels = heldout_labels.load_or_make(args.video)
        print(f"\nsingle animal vs {len(labels['frames'])} held-out labels (frames the model "
              f"was not trained on, bench/heldout_labels.py):")  # fmt: skip
        print(f"{'':22}{'IoU>=.5':>9}{'found':>8}{'med IoU':>9}{'centre px':>11}{'p95':>7}")
        last = None
        for name, r in results.items():
            if "tracking" in r and r["tracking"] is not None:
                positions = r["tracking"].trajectory.boxes[:, 0].astype(np.float64)
            elif "boxes" in r:
                positions = _best_boxes(r["boxes"])
            else:
                continue
            acc = heldout_accuracy(positions, labels)
            last = positions
            summary[name]["heldout"] = acc
            print(f"{name:22}{acc['iou50_share']:9.3f}{acc['found_share']:8.3f}"
                  f"{acc['median_iou']:9.3f}{acc['centre_error_px_median']:11.2f}"
                  f"{acc['centre_error_px_p95']:7.2f}")  # fmt: skip
        if last is not None:
            sheet = heldout_labels.contact_sheet(
                args.video, labels, OUT / "heldout-sheet.png",
                others={f: b for f, b in enumerate(last) if not np.isnan(b).any()},
            )  # fmt: skip
            print(f"labels (green) and the last contender's boxes (red): {sheet}")

    if not args.no_two_mice:
        from tracking.engine.scoring import boxes_as_frames, score_frames, trajectory_as_frames

        gt = two_mice.two_mouse_video(SOURCE, OUT)
        print(f"\ntwo mice: {gt.path} ({gt.n_frames} frames)", flush=True)
        truth = boxes_as_frames(gt.boxes[: n or gt.n_frames])
        rows = {}
        # Cropping on (a window per animal), and with --two-mice-crop-off also one window
        # around both, and no cropping: same detector, same video, one after the other.
        modes = [("crop on", True, True)]
        if args.two_mice_crop_off:
            modes += [("crop on, one window", True, False), ("crop off", False, True)]
        found = {}
        for label, crop, per_animal in modes:
            e = engine(detector, gt.path, n, imgsz, crop=crop, n_animals=2,
                       run_dir=OUT / f"run-two-mice-{label.replace(' ', '-').replace(',', '')}",
                       per_animal=per_animal)  # fmt: skip
            if e["tracking"] is None:
                print("engine: the identity pipeline is not there yet")
                continue
            hyp = trajectory_as_frames(e["tracking"].trajectory)
            if args.render and crop and per_animal:
                from tracking.engine.render import render_video

                out = render_video(OpenCVSource(gt.path), e["tracking"].trajectory,
                                   OUT / "two-mice-annotated.mp4")  # fmt: skip
                print(f"annotated: {out}")
            found[label] = e["boxes"]
            rows[f"engine, {label}"] = (score_frames(truth, hyp), e["fps"], e["crop_share"])
            looks = e["tracking"].stats.get("appearance")
            summary[f"two mice: engine, {label}: appearance"] = looks
            print(f"two mice, {label}: identity by look: {looks}")
            if crop and per_animal:
                # The same detections linked by motion alone: what the look adds.
                from tracking.engine.params import TrackingParams
                from tracking.engine.pipeline import build_trajectory

                motion = build_trajectory(e["detections"], n_animals=2,
                                          params=TrackingParams(appearance=False))  # fmt: skip
                rows[f"engine, {label}, motion only"] = (
                    score_frames(truth, trajectory_as_frames(motion.trajectory)),
                    e["fps"], e["crop_share"],
                )  # fmt: skip
                if args.noise_seeds:
                    summary["two mice: box noise"] = two_mice.box_noise(
                        e["detections"], truth, args.noise_seeds
                    )
        if "crop off" in found:
            for label, boxes in found.items():
                agree = agreement(boxes, found["crop off"])
                summary[f"two mice: engine, {label}: agreement with crop off"] = agree
                print(f"two mice, {label}: boxes agree with crop off (IoU >= {AGREE_IOU}) on "
                      f"{agree['all_boxes']:.2%} of frames")  # fmt: skip
        b = botsort(weights, gt.path, imgsz, device, n)
        rows["ultralytics BoT-SORT"] = (score_frames(truth, b["tracks"]), b["fps"], 0.0)
        print(f"{'':34}{'IDF1':>7}{'MOTA':>7}{'ID sw':>7}{'recall':>8}{'prec':>7}{'fps':>7}"
              f"{'cropped':>9}")  # fmt: skip
        for name, (s, fps, share) in rows.items():
            print(f"{name:34}{s.idf1:7.3f}{s.mota:7.3f}{s.id_switches:7d}{s.recall:8.3f}"
                  f"{s.precision:7.3f}{fps:7.1f}{share:9.3f}")  # fmt: skip
            summary[f"two mice: {name}"] = {**s.to_dict(), "fps": fps, "crop_share": share}

    if args.four_arenas:
        video = four_arena_video(OUT, args.four_arenas)
        print(f"\nfour arenas: {video} ({args.four_arenas} frames, 1280x960, imgsz {2 * imgsz})")
        summary["four arenas"] = crop_modes(detector, video, None, 2 * imgsz, n_animals=4)

    summary["load_average_end"] = os.getloadavg()[0]
    (OUT / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(json.dumps(summary, default=str))


if __name__ == "__main__":
    main()
