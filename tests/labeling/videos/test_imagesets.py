"""labeling.videos.imagesets: zips and lists of frames, including hostile ones."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from labeling.videos.imagesets import (
    ImageSetError,
    ImageSetLimits,
    natural_key,
    open_zip_images,
    polyglot_problem,
    read_image_files,
)


def image_bytes(ext: str = ".png", width: int = 32, height: int = 24, value: int = 90) -> bytes:
    image = np.full((height, width, 3), value, np.uint8)
    cv2.circle(image, (width // 2, height // 2), min(width, height) // 4, (10, 10, 10), -1)
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def make_zip(path: Path, entries: dict[str, bytes], *, deflate: bool = True) -> Path:
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    folder = tmp_path / "scratch"
    folder.mkdir()
    return folder


def assert_refused(archive: Path, scratch: Path, match: str, **kwargs) -> ImageSetError:
    with pytest.raises(ImageSetError, match=match) as caught:
        with open_zip_images(archive, scratch_dir=scratch, **kwargs):
            pytest.fail("should not get here")
    assert list(scratch.iterdir()) == [], "the scratch folder must be cleaned"
    return caught.value


def test_natural_key_survives_odd_digits():
    names = ["²/a.png", "1" * 5000 + "/b.png", "img10.png", "img2.png"]
    ordered = sorted(names, key=natural_key)
    assert ordered.index("img2.png") < ordered.index("img10.png")


def test_natural_key_orders_numbers_as_numbers():
    names = ["img10.png", "img2.png", "IMG1.png", "b/img1.png", "a/img11.png", "a/img9.png"]
    assert sorted(names, key=natural_key) == [
        "a/img9.png",
        "a/img11.png",
        "b/img1.png",
        "IMG1.png",
        "img2.png",
        "img10.png",
    ]


def test_reads_a_zip_of_frames_in_natural_order(tmp_path: Path, scratch: Path):
    archive = make_zip(
        tmp_path / "frames.zip",
        {
            "labeled-data/m3v1/img10.png": image_bytes(),
            "labeled-data/m3v1/img2.jpg": image_bytes(".jpg", 40, 30),
            "labeled-data/m3v1/img1.bmp": image_bytes(".bmp"),
            "labeled-data/m3v1/": b"",
            "__MACOSX/labeled-data/._img1.bmp": b"\x00\x05\x16\x07junk",
            "labeled-data/.DS_Store": b"junk",
        },
    )
    with open_zip_images(archive, scratch_dir=scratch) as image_set:
        names = [e.name for e in image_set.entries]
        assert names == [
            "labeled-data/m3v1/img1.bmp",
            "labeled-data/m3v1/img2.jpg",
            "labeled-data/m3v1/img10.png",
        ]
        assert [e.format for e in image_set.entries] == ["BMP", "JPEG", "PNG"]
        assert (image_set.entries[1].width, image_set.entries[1].height) == (40, 30)
        for entry in image_set.entries:
            assert entry.path.parent == image_set.directory
            assert entry.path.name.endswith(".img")  # generated, not the archive's name
            assert cv2.imread(str(entry.path)) is not None
        assert len(image_set.skipped) == 2
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    "name",
    [
        "../evil.png",
        "frames/../../evil.png",
        "/etc/evil.png",
        "C:/evil.png",
        "frames\\..\\evil.png",
        "evil\u202egnp.png",  # right-to-left override
        "evil\x07.png",
    ],
)
def test_refuses_names_that_escape_or_deceive(tmp_path: Path, scratch: Path, name: str):
    archive = make_zip(tmp_path / "slip.zip", {"ok.png": image_bytes(), name: image_bytes()})
    error = assert_refused(archive, scratch, "evil")
    assert len(error.problems) == 1


def test_refuses_a_nul_in_a_name_that_zipfile_would_hide(tmp_path: Path, scratch: Path):
    archive = make_zip(tmp_path / "nul.zip", {"evil.pngXsh": image_bytes()})
    archive.write_bytes(archive.read_bytes().replace(b"evil.pngXsh", b"evil.png\x00sh"))
    assert_refused(archive, scratch, "NUL")


def test_refuses_symlinks(tmp_path: Path, scratch: Path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        link = zipfile.ZipInfo("frame.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    assert_refused(archive, scratch, "symbolic link")


def test_refuses_too_many_entries_before_extracting(tmp_path: Path, scratch: Path):
    entries = {f"img{i}.png": image_bytes() for i in range(5)}
    archive = make_zip(tmp_path / "many.zip", entries)
    assert_refused(
        archive, scratch, "more than the 3 allowed", limits=ImageSetLimits(max_entries=3)
    )


def test_refuses_a_zip_bomb_before_extracting(tmp_path: Path, scratch: Path):
    archive = make_zip(tmp_path / "bomb.zip", {"a.png": image_bytes(), "b.bmp": bytes(4_000_000)})
    assert_refused(archive, scratch, "zip bomb")


def test_refuses_entries_and_totals_over_the_size_limits(tmp_path: Path, scratch: Path):
    noise = np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8)
    big = cv2.imencode(".png", noise)[1].tobytes()
    archive = make_zip(tmp_path / "big.zip", {"a.png": big, "b.png": big})
    assert_refused(archive, scratch, "more than 1,000", limits=ImageSetLimits(max_entry_bytes=1000))
    assert_refused(archive, scratch, "in all", limits=ImageSetLimits(max_total_bytes=len(big) + 10))


def test_refuses_an_entry_larger_than_the_directory_says(tmp_path: Path, scratch: Path):
    data = image_bytes() + bytes(200_000)  # trailing zeros: still a decodable PNG
    archive = make_zip(tmp_path / "liar.zip", {"a.png": data})
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("a.png")
    # Shrink the declared size in both headers: inflating yields more than declared.
    raw = bytearray(archive.read_bytes())
    true_size = len(data).to_bytes(4, "little")
    lie = (1000).to_bytes(4, "little")
    assert raw.count(true_size) == 2 and info.file_size == len(data)
    archive.write_bytes(bytes(raw).replace(true_size, lie))
    assert_refused(archive, scratch, "a.png")


def test_refuses_files_that_are_not_images(tmp_path: Path, scratch: Path):
    png = image_bytes()
    archive = make_zip(
        tmp_path / "mixed.zip",
        {
            "a.png": png,
            "notes.png": b"<html><script>alert(1)</script></html>",
            "b.png": png[: len(png) // 2],  # truncated
            "c.gif": cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes()[:20],
        },
    )
    error = assert_refused(archive, scratch, "notes.png")
    assert len(error.problems) == 3
    assert any("b.png" in p for p in error.problems)


def test_refuses_images_beyond_the_dimension_limit(tmp_path: Path, scratch: Path):
    wide = cv2.imencode(".png", np.zeros((10, 9000), np.uint8))[1].tobytes()
    archive = make_zip(tmp_path / "wide.zip", {"wide.png": wide})
    assert_refused(archive, scratch, "9000×10")


def test_refuses_an_empty_archive_and_a_non_zip(tmp_path: Path, scratch: Path):
    empty = make_zip(tmp_path / "empty.zip", {})
    assert_refused(empty, scratch, "no images")
    fake = tmp_path / "fake.zip"
    fake.write_bytes(np.random.default_rng(0).bytes(5000))
    assert_refused(fake, scratch, "not a zip")


def test_refuses_duplicate_names(tmp_path: Path, scratch: Path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("img1.png", image_bytes())
        zf.writestr("IMG1.png", image_bytes())
    archive = tmp_path / "dup.zip"
    archive.write_bytes(buffer.getvalue())
    assert_refused(archive, scratch, "twice")


def test_reads_a_list_of_uploaded_images(tmp_path: Path):
    paths = []
    for i, name in enumerate(["u3", "u1", "u2"]):
        path = tmp_path / name
        path.write_bytes(image_bytes(".jpg", value=40 * i))
        paths.append(path)
    image_set = read_image_files(paths, names=["frame10.jpg", "frame1.jpg", "frame2.jpg"])
    assert [e.name for e in image_set.entries] == ["frame1.jpg", "frame2.jpg", "frame10.jpg"]
    assert [e.path.name for e in image_set.entries] == ["u1", "u2", "u3"]
    assert image_set.directory is None


def test_refuses_a_list_with_bad_names_or_non_images(tmp_path: Path):
    good = tmp_path / "good"
    good.write_bytes(image_bytes())
    bad = tmp_path / "bad"
    bad.write_bytes(b"GIF89a<html></html>")
    with pytest.raises(ImageSetError, match="climbs out"):
        read_image_files([good], names=["../x.png"])
    with pytest.raises(ImageSetError, match="not an image"):
        read_image_files([good, bad], names=["a.png", "b.png"])
    with pytest.raises(ImageSetError, match="no images"):
        read_image_files([])


@pytest.mark.parametrize(
    "data,refused",
    [
        (b"\xff\xd8 pixels <SvG\x0b\x14 more pixels", False),  # found in noisy JPEGs by chance
        (b"\xff\xd8 pixels <SVGR7", False),
        (b"<svg onload=alert(1)>", True),
        (b"<svg/onload=alert(1)>", True),
        (b"x<HTML>", True),
        (b"<?php system($_GET[0]); ?>", True),
        (b"javascript:alert(1)", True),
        (b"<script\n>", True),
    ],
)
def test_polyglot_markers_count_only_as_tags(data, refused):
    """Random compressed bytes spelling "<svg" are no tag; "<svg " or "<svg/" are."""
    assert (polyglot_problem(data, image_format="JPEG") is not None) is refused
