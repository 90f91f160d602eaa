"""The annotated video: boxes, identities and short trails drawn over the original frames.

Pure Python, no Django import. The video is read again through a frame source (the same
sandboxed decoder the run used), drawn on with OpenCV and piped as raw BGR frames into the
ffmpeg binary that ``imageio-ffmpeg`` ships, which encodes H.264 in yuv420p with the index
at the front (``+faststart``): what every browser plays. The file is written under a
temporary name beside the target and renamed into place when ffmpeg has finished, so the
target is either the whole video or absent.

Boxes come from a :class:`~tracking.engine.trajectory.Trajectory`: ``x1, y1, x2, y2`` in
original-video pixels, NaN where missing. The output keeps the source's frame size (ffmpeg
pads an odd width or height by one pixel, as yuv420p needs) and frame rate.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np

from .frames import FrameSource
from .trajectory import Status, Trajectory

# Distinct on both a white arena and a black animal (BGR).
PALETTE = [
    (40, 40, 230),
    (230, 120, 30),
    (40, 180, 40),
    (200, 40, 200),
    (20, 180, 230),
    (160, 160, 20),
    (120, 60, 160),
    (60, 120, 200),
]


class RenderError(RuntimeError):
    """ffmpeg failed; the message ends with its last lines of output."""


class Mp4Writer:
    """Encode BGR frames (H, W, 3 uint8, all one size) to an H.264/yuv420p MP4.

    ``with Mp4Writer(path, size=(w, h), fps=30) as out: out.write(image)``; the file appears
    at ``path`` only when the block ends without an exception. ``crf`` 0 is lossless in YUV.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        size: tuple[int, int],
        fps: float,
        crf: int = 23,
        preset: str = "veryfast",
    ):
        import imageio_ffmpeg

        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))
        self.frames = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.stem}-", suffix=".mp4", dir=self.path.parent
        )
        os.close(fd)
        self._tmp = Path(tmp)
        self._log: IO[bytes] = tempfile.TemporaryFile()
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgr24",
            "-s",
            f"{self.size[0]}x{self.size[1]}",
            "-r",
            f"{float(fps):.6f}",
            "-i",
            "-",
            "-an",
            "-vf",
            "pad=ceil(iw/2)*2:ceil(ih/2)*2",
            "-c:v",
            "libx264",
            "-preset",
            preset,
            "-crf",
            str(int(crf)),
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            str(self._tmp),
        ]
        self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log
        )

    def write(self, image: np.ndarray) -> None:
        if image.shape != (self.size[1], self.size[0], 3) or image.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 {self.size[1]}x{self.size[0]}x3 BGR")
        try:
            self._proc.stdin.write(np.ascontiguousarray(image).tobytes())  # type: ignore[union-attr]
        except BrokenPipeError as e:
            self._proc.wait()
            raise RenderError(f"ffmpeg stopped: {self._stderr()}") from e
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and move it into place."""
        try:
            self._proc.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass
        code = self._proc.wait()
        if code != 0:
            self._discard()
            raise RenderError(f"ffmpeg exited with {code}: {self._stderr()}")
        os.replace(self._tmp, self.path)
        self._log.close()
        return self.path

    def abort(self) -> None:
        self._proc.kill()
        self._proc.wait()
        self._discard()

    def _discard(self) -> None:
        self._tmp.unlink(missing_ok=True)
        self._log.close()

    def _stderr(self) -> str:
        self._log.seek(0)
        return self._log.read()[-2000:].decode(errors="replace").strip()

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def render_video(
    source: FrameSource,
    trajectory: Trajectory,
    output: str | Path,
    *,
    trail_s: float = 1.0,
    names: list[str] | None = None,
    crf: int = 23,
    on_progress: Callable[[int], None] | None = None,
) -> Path:
    """Write ``output`` (MP4): every frame of ``source`` with the trajectory drawn on it.

    Per animal: its box (solid where detected, thin where interpolated), its name (``names``,
    default ``1..N``) and the path of its centre over the last ``trail_s`` seconds. Frames
    the trajectory lacks are copied unannotated. ``on_progress(frames_written)`` may raise
    to stop; nothing is left at ``output`` then.
    """
    import cv2

    names = names or [str(i + 1) for i in range(trajectory.n_animals)]
    rows = {int(f): r for r, f in enumerate(trajectory.frames)}
    centres = trajectory.centres()
    trail_rows = max(1, int(round(trail_s * (source.fps or 30.0))))
    with Mp4Writer(output, size=source.size, fps=source.fps, crf=crf) as writer:
        for frame in source.frames():
            image = frame.image.copy()
            row = rows.get(frame.index)
            if row is not None:
                _draw(cv2, image, trajectory, centres, row, trail_rows, names)
            writer.write(image)
            if on_progress is not None:
                on_progress(writer.frames)
    return Path(output)


def _draw(cv2, image, trajectory, centres, row, trail_rows, names) -> None:
    thickness = max(1, round(max(image.shape[:2]) / 320))
    for animal in range(trajectory.n_animals):
        color = PALETTE[animal % len(PALETTE)]
        trail = centres[max(0, row - trail_rows) : row + 1, animal]
        trail = trail[~np.isnan(trail).any(axis=1)]
        if len(trail) >= 2:
            cv2.polylines(
                image, [np.round(trail).astype(np.int32)], False, color, thickness, cv2.LINE_AA
            )
        box = trajectory.boxes[row, animal]
        if np.isnan(box).any():
            continue
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        detected = trajectory.status[row, animal] == Status.DETECTED
        cv2.rectangle(
            image, (x1, y1), (x2, y2), color, thickness + (1 if detected else 0), cv2.LINE_AA
        )
        cv2.putText(
            image,
            names[animal],
            (x1, max(12, y1 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thickness + 0.1,
            color,
            thickness,
            cv2.LINE_AA,
        )
