"""Tiny labeled datasets for the training tests: dark ellipse "mice" on a light floor."""

from __future__ import annotations

import numpy as np

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeling.models import Box, Frame, Project, Video

# Small on purpose: 2 CPU cores are shared, and the model only has to train, not be good.
FAST_HP = {"epochs": 2, "imgsz": 64, "batch": 4, "workers": 0, "device": "cpu", "augment": False}
WIDTH, HEIGHT = 128, 96


def draw_mouse(rng: np.random.Generator) -> tuple[bytes, tuple[float, float, float, float]]:
    """A JPEG of one dark ellipse on a noisy light floor and its box (x, y, w, h) in pixels."""
    import cv2

    img = np.full((HEIGHT, WIDTH, 3), 215, np.uint8) + rng.integers(
        0, 20, (HEIGHT, WIDTH, 1), np.uint8
    )
    ax, ay = int(rng.integers(14, 22)), int(rng.integers(8, 12))
    cx = int(rng.integers(ax + 2, WIDTH - ax - 2))
    cy = int(rng.integers(ay + 2, HEIGHT - ay - 2))
    cv2.ellipse(img, (cx, cy), (ax, ay), 0, 0, 360, (35, 35, 35), -1)
    ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return jpeg.tobytes(), (float(cx - ax), float(cy - ay), float(2 * ax), float(2 * ay))


def make_frames(
    project: Project,
    *,
    splits: list[str] | None = None,
    status: str = Frame.Status.LABELED,
    negatives: int = 0,
    unlabeled: int = 0,
    seed: int = 0,
    video: Video | None = None,
) -> list[Frame]:
    """Frames with one box each (``splits[i]`` is frame i's split, "" = unassigned), then
    ``negatives`` labeled frames without boxes and ``unlabeled`` frames."""
    splits = ["train"] * 6 + ["val"] * 2 if splits is None else splits
    rng = np.random.default_rng(seed)
    video = video or Video.objects.create(
        project=project,
        original_name="synthetic.mp4",
        width=WIDTH,
        height=HEIGHT,
        frame_count=1000,
        fps=30.0,
    )
    label_class = project.classes.get(index=0)
    start = video.frames.count()
    frames = []
    plan = [(split, status, True) for split in splits]
    plan += [("", status, False)] * negatives + [("", Frame.Status.UNLABELED, False)] * unlabeled
    for i, (split, frame_status, with_box) in enumerate(plan, start=start):
        jpeg, box = draw_mouse(rng)
        name = default_storage.save(
            f"frames/{project.pk}/{video.pk}/{i:07d}.jpg", ContentFile(jpeg)
        )
        frame = Frame.objects.create(
            project=project,
            video=video,
            frame_index=i,
            image=name,
            width=WIDTH,
            height=HEIGHT,
            status=frame_status,
            split=split,
            is_negative=frame_status != Frame.Status.UNLABELED and not with_box,
        )
        if with_box:
            Box.objects.create(
                frame=frame, label_class=label_class, x=box[0], y=box[1], w=box[2], h=box[3]
            )
        frames.append(frame)
    return frames


def fake_model(project, *, name: str = "m", onnx: bool = True):
    """A registered model whose files are placeholder bytes (for access and download tests)."""
    import hashlib

    from training.models import TrainedModel

    pt = b"placeholder weights " + name.encode()
    files = {
        "weights": default_storage.save(f"training/{project.pk}/test/{name}.pt", ContentFile(pt))
    }
    if onnx:
        files["onnx"] = default_storage.save(
            f"training/{project.pk}/test/{name}.onnx", ContentFile(b"placeholder onnx")
        )
    return TrainedModel.objects.create(
        project=project,
        name=name,
        preset="yolo11n",
        weights=files["weights"],
        weights_sha256=hashlib.sha256(pt).hexdigest(),
        weights_size=len(pt),
        onnx=files.get("onnx", ""),
        onnx_sha256=hashlib.sha256(b"placeholder onnx").hexdigest() if onnx else "",
        imgsz=64,
        class_names=["mouse"],
        metrics={"map50": 0.5, "map50_95": 0.25},
        card={"model": {"name": name, "files": {}}, "training": {}, "dataset": {}},
    )


def stored_files(prefix: str) -> set[str]:
    """Every file name in default storage under ``prefix`` (empty if the folder is absent)."""
    try:
        dirs, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return set()
    found = {f"{prefix}/{f}" for f in files}
    for d in dirs:
        found |= stored_files(f"{prefix}/{d}")
    return found


def record_dispatch(monkeypatch) -> list[int]:
    """Record training jobs handed to the queue instead of publishing them, so that no
    worker of this test run trains them. Returns the recorded job ids."""
    from training import tasks

    sent: list[int] = []

    class Result:
        id = "recorded"

    def apply_async(args, **kwargs):
        sent.append(args[0])
        return Result()

    monkeypatch.setattr(tasks.training_job_run, "apply_async", apply_async)
    return sent
