"""Tiny frames, image sets and snapshots for the dataset import/export tests.

Frames are made directly (Frame rows with small images saved through default_storage), so
these tests do not depend on the upload feature.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeling.models import Box, Frame, LabelClass, Project, Video

W, H = 64, 48


def image_bytes(seed: int, size: tuple[int, int] = (W, H), fmt: str = "JPEG") -> bytes:
    """A small image whose pixels depend on ``seed`` (distinct content, distinct sha256)."""
    img = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    draw = ImageDraw.Draw(img)
    draw.rectangle(
        [seed % size[0], seed % size[1], size[0] - 1, size[1] - 1], outline=(255, 255, 255)
    )
    buffer = io.BytesIO()
    img.save(buffer, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def make_source(project: Project, name: str = "cage A", kind: str = Video.Kind.IMAGE_SET) -> Video:
    return Video.objects.create(project=project, kind=kind, original_name=name, width=W, height=H)


def make_frame(
    video: Video,
    index: int,
    *,
    boxes: list[tuple[str, float, float, float, float]] = (),
    status: str = Frame.Status.LABELED,
    split: str = "",
    negative: bool | None = None,
    size: tuple[int, int] = (W, H),
    ext: str = "jpg",
) -> Frame:
    """A frame of ``video`` with a stored image and ``boxes`` as (class name, x, y, w, h)."""
    seed = video.pk * 1000 + index
    data = image_bytes(seed, size, "PNG" if ext == "png" else "JPEG")
    name = default_storage.save(
        f"frames/{video.project_id}/{video.pk}/{index:07d}.{ext}", ContentFile(data)
    )
    if negative is None:
        negative = status != Frame.Status.UNLABELED and not boxes
    frame = Frame.objects.create(
        project_id=video.project_id,
        video=video,
        frame_index=index,
        image=name,
        width=size[0],
        height=size[1],
        status=status,
        split=split,
        is_negative=negative,
    )
    classes = {c.name: c for c in LabelClass.objects.filter(project_id=video.project_id)}
    for class_name, x, y, w, h in boxes:
        Box.objects.create(frame=frame, label_class=classes[class_name], x=x, y=y, w=w, h=h)
    return frame


def populate(project: Project) -> list[Frame]:
    """Two sources, two classes, float boxes, negatives, splits, one reviewed frame and one
    unlabeled frame (which exports leave out)."""
    if not project.classes.filter(name="rat").exists():
        from labeling.services import label_class_add

        label_class_add(project=project, name="rat")
    cage_a = make_source(project, "cage A")
    cage_b = make_source(project, "cage B", kind=Video.Kind.VIDEO)
    return [
        make_frame(cage_a, 0, boxes=[("mouse", 10, 5, 20, 12)], split="train"),
        make_frame(
            cage_a,
            1,
            boxes=[("mouse", 3.25, 4.5, 17.75, 9.5), ("rat", 30, 20, 33.5, 27.25)],
            split="train",
        ),
        make_frame(cage_a, 2, split="val"),  # negative
        make_frame(
            cage_a, 3, boxes=[("rat", 0, 0, 64, 48)], split="test", status=Frame.Status.REVIEWED
        ),
        make_frame(cage_b, 10, boxes=[("mouse", 40.5, 30.5, 12, 10)], split="val"),
        make_frame(cage_b, 11, split="train"),  # negative
        make_frame(cage_b, 12, status=Frame.Status.UNLABELED),
    ]


def annotation_of(frame: Frame) -> tuple:
    """What a round trip must keep: size, split, negative flag and boxes by class name."""
    boxes = sorted(
        (b.label_class.name, b.x, b.y, b.w, b.h) for b in frame.boxes.select_related("label_class")
    )
    return (frame.width, frame.height, frame.split, frame.is_negative, boxes)


def media_files() -> set[str]:
    """Every file in media storage (the tests use the filesystem backend)."""
    root = Path(settings.MEDIA_ROOT)
    found = set()
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            found.add(str(Path(dirpath, name).relative_to(root)))
    return found


def scratch_files() -> set[str]:
    """Files and folders in scratch space, below its top-level folders (``imports/``...)."""
    root = Path(settings.SCRATCH_DIR)
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + (dirnames if Path(dirpath) != root else []):
            found.add(str(Path(dirpath, name).relative_to(root)))
    return found


def upload_temp_files() -> set[str]:
    """Streamed uploads still on disk (each is removed once its request is done)."""
    return {p.name for p in Path(settings.FILE_UPLOAD_TEMP_DIR).iterdir()}


def table_counts() -> dict[str, int]:
    return {
        "projects": Project.objects.count(),
        "classes": LabelClass.objects.count(),
        "videos": Video.objects.count(),
        "frames": Frame.objects.count(),
        "boxes": Box.objects.count(),
        "box_rows": sorted(
            Box.objects.values_list("frame_id", "label_class_id", "x", "y", "w", "h")
        ),
        "frame_rows": sorted(
            Frame.objects.values_list("id", "status", "split", "is_negative", "annotation_version")
        ),
    }


def snapshot() -> tuple:
    return table_counts(), media_files()


def write_zip(path: Path, files: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path
