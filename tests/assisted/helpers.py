"""Synthetic open-field frames for the assisted-labeling tests: dark (or bright) ellipse
"mice" with a thin tail on a vignetted arena with a drawn line and a dark wall."""

from __future__ import annotations

import cv2
import numpy as np

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeling.models import Frame, Project, Video

H, W = 480, 640  # the recording's size; a mouse body is ~60x28 px there


def arena(floor: int, seed: int = 0) -> np.ndarray:
    """A vignetted arena with a drawn line and a dark border, BGR."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    vignette = 1.0 - 0.25 * (((xx - W / 2) / W) ** 2 + ((yy - H / 2) / H) ** 2)
    gray = np.clip(floor * vignette + rng.normal(0, 3, (H, W)), 0, 255).astype(np.uint8)
    cv2.line(gray, (0, 120), (W, 400), int(floor * 0.8), 1)
    gray[:16, :] = gray[:, :16] = int(floor * 0.35)  # the arena wall, nearly as dark as a mouse
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def draw_mouse(frame, cx, cy, value, *, angle=20, tail=True):
    """Draw a 60x28 body (and a 3 px tail); returns the body's (x, y, w, h)."""
    cv2.ellipse(frame, (cx, cy), (30, 14), angle, 0, 360, (value,) * 3, -1)
    if tail:
        end = (int(cx - 90 * np.cos(np.radians(angle))), int(cy - 90 * np.sin(np.radians(angle))))
        cv2.line(frame, (cx, cy), end, (value,) * 3, 3)
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.ellipse(mask, (cx, cy), (30, 14), angle, 0, 360, 1, -1)
    x, y, w, h = cv2.boundingRect(mask)
    return float(x), float(y), float(w), float(h)


def synthetic_video(floor, mouse, n=12, animals=1):
    frames, truth = [], []
    for i in range(n):
        frame = arena(floor, seed=i)
        boxes = []
        for a in range(animals):
            cx = 120 + (i * 37 + a * 300) % 420
            cy = 140 + (i * 23 + a * 180) % 220
            boxes.append(draw_mouse(frame, cx, cy, mouse, angle=15 * i + 40 * a))
        frames.append(frame)
        truth.append(boxes)
    return frames, truth


def store_video_frames(project: Project, frames: list[np.ndarray], name: str = "arena.mp4"):
    """A Video row and one unlabeled Frame per image (JPEG q95 in default storage)."""
    video = Video.objects.create(
        project=project, original_name=name, width=W, height=H, fps=30.0, frame_count=1000
    )
    rows = []
    for i, image in enumerate(frames):
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        stored = default_storage.save(
            f"frames/{project.pk}/{video.pk}/{i:07d}.jpg", ContentFile(jpeg.tobytes())
        )
        rows.append(
            Frame.objects.create(
                project=project,
                video=video,
                frame_index=i * 10,
                timestamp_s=i / 3,
                image=stored,
                width=W,
                height=H,
            )
        )
    return video, rows
