"""Held-out boxes of the mouse in the open-field recording, for scoring a model trained on it.

    .venv/bin/python bench/heldout_labels.py [--every 10] [--sheet var/bench/heldout/sheet.png]

Frames: every ``--every``-th frame of the video that is *not* one of the frames the Tiny
model is trained on (``bench/train_tiny_openfield.py`` samples ``TRAIN_FRAMES`` frames spread
uniformly; those and their neighbours within ``GUARD`` frames are left out, so no label sits
on a training frame or its near-copy).

Labels: the mouse's body box by background difference, made more carefully than the training
labels (which use a background from their own 60 frames): the background is the per-pixel
median of 120 frames over the whole video; foreground = at least ``DARKER_BY`` grey levels
darker, an opening that removes the tail, the largest blob. A frame is *kept* only where the
label is unambiguous: one blob clearly the largest (a second dark blob half its size drops the
frame; blobs cut by the frame's edge are the mouse's reflection in the arena wall or the
dark border, never the mouse); the mouse's blob cut by the edge or an area far from the
median area drops the frame too, so a partly seen mouse is never scored against a guess.
Kept are frames with the mouse's reflection in the wall above it (a real difficulty for a
detector); the contact sheet shows them.

``--sheet`` writes a contact sheet (a crop around each of a sample of labels with the box
drawn) to look at before trusting the labels. ``load_or_make`` is what the tracking bench
calls.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

SOURCE = ROOT.parent / "shared" / "data" / "openfield-m3v1.mp4"
OUT = ROOT / "var" / "bench" / "heldout"
TRAIN_FRAMES = 60  # bench/train_tiny_openfield.py --frames default
GUARD = 2  # frames next to a training frame are near-copies of it: left out too
BACKGROUND_FRAMES = 120
DARKER_BY = 50
TAIL_KERNEL_PX = 9
MIN_AREA_PX, MAX_AREA_PX = 300, 40_000
SECOND_BLOB_SHARE = 0.5  # another dark blob half the mouse's size: ambiguous, dropped


def training_frames(n_frames: int, n_train: int = TRAIN_FRAMES) -> set[int]:
    """The indices ``train_tiny_openfield.sample_frames`` takes (``np.linspace``)."""
    return {int(i) for i in np.linspace(0, n_frames - 1, n_train)}


def heldout_frames(n_frames: int, every: int, n_train: int = TRAIN_FRAMES) -> list[int]:
    train = training_frames(n_frames, n_train)
    near = {t + d for t in train for d in range(-GUARD, GUARD + 1)}
    return [i for i in range(0, n_frames, every) if i not in near]


def _background(video: Path, n_frames: int) -> np.ndarray:
    wanted = set(np.linspace(0, n_frames - 1, BACKGROUND_FRAMES).astype(int).tolist())
    cap = cv2.VideoCapture(str(video))
    grays = []
    for i in range(n_frames):
        ok = cap.grab()
        if not ok:
            break
        if i in wanted:
            _, frame = cap.retrieve()
            grays.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    cap.release()
    return cv2.GaussianBlur(np.median(np.stack(grays), axis=0).astype(np.uint8), (5, 5), 0)


def _label(gray: np.ndarray, background: np.ndarray) -> tuple[np.ndarray | None, str]:
    """(x1, y1, x2, y2) of the body, or None and why the frame is dropped."""
    darker = cv2.subtract(background, cv2.GaussianBlur(gray, (5, 5), 0))
    mask = (darker >= DARKER_BY).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (TAIL_KERNEL_PX, TAIL_KERNEL_PX))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return None, "no blob"
    height, width = gray.shape
    # Blobs cut by the frame's edge are the mouse's reflection in the arena wall (above the
    # floor, at the top of the picture) or the dark border: never the mouse on the floor.
    st = stats[1:]
    inside = (
        (st[:, 0] > 0)
        & (st[:, 1] > 0)
        & (st[:, 0] + st[:, 2] < width)
        & (st[:, 1] + st[:, 3] < height)
    )
    areas = np.where(inside, st[:, cv2.CC_STAT_AREA], 0)
    order = np.argsort(-areas)
    x, y, w, h, area = (int(v) for v in st[order[0]])
    if not inside[order[0]]:
        return None, "at the edge"
    if not MIN_AREA_PX <= area <= MAX_AREA_PX:
        return None, "blob size"
    if len(order) > 1 and areas[order[1]] >= SECOND_BLOB_SHARE * area:
        return None, "second blob"
    return np.array([x, y, x + w, y + h], np.float64), ""


def make_labels(video: Path, every: int) -> dict:
    cap = cv2.VideoCapture(str(video))
    n_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    background = _background(video, n_frames)
    wanted = set(heldout_frames(n_frames, every))
    cap = cv2.VideoCapture(str(video))
    frames, boxes, dropped = [], [], {}
    for i in range(n_frames):
        if not cap.grab():
            break
        if i not in wanted:
            continue
        _, frame = cap.retrieve()
        box, why = _label(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), background)
        if box is None:
            dropped[why] = dropped.get(why, 0) + 1
            continue
        frames.append(i)
        boxes.append(box)
    cap.release()
    boxes = np.array(boxes).reshape(-1, 4)
    # An area far from the usual (a rearing or half-hidden mouse, a merged shadow): dropped.
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    typical = np.median(area)
    keep = (area > typical / 2.5) & (area < typical * 2.5)
    dropped["area far from median"] = int((~keep).sum())
    return {
        "video": str(video),
        "n_frames": n_frames,
        "every": every,
        "train_frames": sorted(training_frames(n_frames)),
        "frames": [f for f, k in zip(frames, keep, strict=True) if k],
        "boxes": boxes[keep].tolist(),
        "candidates": len(wanted),
        "dropped": dropped,
    }


def load_or_make(video: Path = SOURCE, every: int = 10) -> dict:
    path = OUT / f"labels-every{every}.json"
    if path.exists():
        data = json.loads(path.read_text())
        if data["video"] == str(video):
            return data
    OUT.mkdir(parents=True, exist_ok=True)
    data = make_labels(video, every)
    path.write_text(json.dumps(data))
    return data


def contact_sheet(video: Path, labels: dict, out: Path, *, n: int = 48, others=None) -> Path:
    """Crops around ``n`` labels spread over the video, label box green (and ``others``:
    {frame: (x1, y1, x2, y2)} in red), frame number written on each."""
    frames = labels["frames"]
    pick = sorted({frames[int(i)] for i in np.linspace(0, len(frames) - 1, n)})
    box_of = dict(zip(frames, labels["boxes"], strict=True))
    cap = cv2.VideoCapture(str(video))
    tiles = []
    for i in range(max(pick) + 1):
        if not cap.grab():
            break
        if i not in box_of or i not in pick:
            continue
        _, frame = cap.retrieve()
        x1, y1, x2, y2 = (int(round(v)) for v in box_of[i])
        cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
        half = int(0.7 * max(x2 - x1, y2 - y1)) + 10
        if others and i in others and others[i] is not None:
            a = [int(round(v)) for v in others[i]]
            cv2.rectangle(frame, (a[0], a[1]), (a[2], a[3]), (0, 0, 255), 1)
        cv2.rectangle(frame, (x1, y1), (x2, y2), (0, 200, 0), 1)
        padded = cv2.copyMakeBorder(frame, half, half, half, half, cv2.BORDER_CONSTANT)
        tile = padded[cy : cy + 2 * half, cx : cx + 2 * half]
        tile = cv2.resize(tile, (240, 240), interpolation=cv2.INTER_NEAREST)
        cv2.putText(tile, str(i), (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 0, 0), 1)
        tiles.append(tile)
    cap.release()
    cols = 8
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[r : r + cols]) for r in range(0, len(tiles), cols)]
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), np.vstack(rows))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=SOURCE)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--sheet", type=Path, default=OUT / "sheet.png")
    args = parser.parse_args()
    labels = load_or_make(args.video, args.every)
    print(f"{len(labels['frames'])} held-out labels of {labels['candidates']} candidate frames "
          f"(dropped: {labels['dropped']})")  # fmt: skip
    print(contact_sheet(args.video, labels, args.sheet))


if __name__ == "__main__":
    main()
