"""Images are checked in the sandboxed decoder: a limited child process per batch, one result
per image in order, and a child that dies, stalls or runs out of memory names the image."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import threading
from pathlib import Path

import pytest
from PIL import Image

from media import image_check
from media.image_check import ImageCheckError, ImageLimits, check_images
from tests.conftest import wait_for
from tests.labeling.dataset_helpers import image_bytes

MIB = 1024**2


def checker_children() -> dict[int, str]:
    """``{pid: command line}`` of this process's children that run the sandboxed worker."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"--video-worker" in cmdline:
            found[int(entry)] = " ".join(part.decode() for part in cmdline if part)
    return found


def address_space_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max address space"):
            return int(line.split()[3])
    raise AssertionError("no address space line")


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """A named pipe: a child reading it waits until someone writes, so the test can look at
    (and kill) a child that is in the middle of a batch, deterministically."""
    path = tmp_path / "waits.jpg"
    os.mkfifo(path)
    return path


def big_png(path: Path, side: int = 8000) -> Path:
    """An 8000x8000 RGBA PNG of zeros: about 250 KB on disk, 256 MB once decoded."""
    if not path.exists():
        Image.new("RGBA", (side, side)).save(path, optimize=False)
    return path


def test_each_image_is_described_in_order_with_its_problem(tmp_path: Path):
    good = tmp_path / "good.jpg"
    good.write_bytes(image_bytes(1))
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (40, 30), (1, 2, 3)).save(rotated, "JPEG", exif=exif)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(image_bytes(2)[:300])
    html = tmp_path / "page.png"
    html.write_bytes(b"<html><body>hello</body></html>")
    poly = tmp_path / "poly.png"
    buffer = io.BytesIO()
    Image.new("L", (16, 16)).save(buffer, "PNG")
    poly.write_bytes(buffer.getvalue() + b"<script>alert(1)</script>")
    wide = tmp_path / "wide.png"
    Image.new("L", (500, 10)).save(wide)
    paths = [good, rotated, cut, html, poly, wide, tmp_path / "missing.jpg"]

    results = list(
        check_images(paths, limits=ImageLimits(formats=("JPEG", "PNG"), max_pixels=4000))
    )

    assert [r.path for r in results] == [str(p) for p in paths]
    first = results[0]
    assert (first.format, first.width, first.height, first.mode) == ("JPEG", 64, 48, "RGB")
    assert first.problem is None and first.orientation is None
    assert first.sha256 == hashlib.sha256(good.read_bytes()).hexdigest()
    assert first.size_bytes == good.stat().st_size
    assert (results[1].orientation, results[1].width, results[1].problem) == (6, 40, None)
    assert [r.problem for r in results[2:]] == [
        "undecodable",
        "unidentified",
        "polyglot",
        "too_many_pixels",
        "unreadable",
    ]
    assert "truncated" in results[2].detail.lower()
    assert "HTML or script" in results[4].detail


def test_checks_run_in_a_limited_child_that_dies_naming_the_image(tmp_path: Path, fifo: Path):
    """Nothing patched: while the batch waits on the second image, a child of this process
    runs the worker script isolated (-I) under the memory limit asked for; killed there
    (as the OOM killer would), the check fails naming that image."""
    good = tmp_path / "good.jpg"
    good.write_bytes(image_bytes(3))
    checks = check_images([good, fifo, good], memory_limit_bytes=300 * MIB, threads=1)
    assert next(checks).problem is None
    children = wait_for(checker_children, timeout=30, what="the checker child")
    (pid, command), *others = children.items()
    assert not others
    assert " -I " in command and command.endswith("worker/__main__.py --video-worker")
    assert address_space_limit(pid) == 300 * MIB
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ImageCheckError) as caught:
        next(checks)
    error = caught.value
    assert (error.index, error.path) == (1, str(fifo))
    assert "more time or memory than allowed (300 MiB)" in str(error)
    assert not checker_children()


def test_after_a_death_beside_others_the_images_in_flight_are_checked_alone(
    tmp_path: Path, fifo: Path
):
    """A child with two threads dies while the second image is in flight: the images then in
    flight are checked again, one at a time, in a fresh child, and checking goes on."""
    good = tmp_path / "good.jpg"
    data = image_bytes(4)
    good.write_bytes(data)
    paths = [good, fifo, *[good] * 12]
    checks = check_images(paths, threads=2)
    assert next(checks).problem is None
    (first,) = wait_for(checker_children, timeout=30, what="the first child")
    os.kill(first, signal.SIGKILL)

    def feed_the_second_child():
        wait_for(lambda: set(checker_children()) - {first}, timeout=30, what="a fresh child")
        with open(fifo, "wb") as fh:  # opens once the fresh child reads the pipe
            fh.write(data)

    feeder = threading.Thread(target=feed_the_second_child)
    feeder.start()
    rest = list(checks)
    feeder.join()
    assert len(rest) == len(paths) - 1
    assert all(r.problem is None for r in rest)
    assert rest[0].sha256 == hashlib.sha256(data).hexdigest()


def test_a_stalled_child_is_killed_and_names_the_image(tmp_path: Path, fifo: Path, monkeypatch):
    monkeypatch.setattr(image_check, "_BATCH_TIMEOUT_S", 1.0)
    monkeypatch.setattr(image_check, "_TIMEOUT_PER_IMAGE_S", 0.0)
    good = tmp_path / "good.jpg"
    good.write_bytes(image_bytes(5))
    with pytest.raises(ImageCheckError, match="longer than the 1 s allowed") as caught:
        list(check_images([good, fifo, good]))
    assert caught.value.index == 1
    assert not checker_children()


def test_an_image_too_big_for_the_memory_limit_is_a_problem_not_a_crash(tmp_path: Path):
    small = tmp_path / "small.png"
    Image.new("RGB", (20, 20)).save(small)
    big = big_png(tmp_path / "big.png")
    results = list(check_images([small, big, small], memory_limit_bytes=256 * MIB))
    assert [r.problem for r in results] == [None, "memory", None]
    assert (results[1].width, results[1].height) == (8000, 8000)
    # Within a larger limit the same image decodes.
    (fine,) = check_images([big], memory_limit_bytes=1024 * MIB)
    assert fine.problem is None and fine.mode == "RGBA"
