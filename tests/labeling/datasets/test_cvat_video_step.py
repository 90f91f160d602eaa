"""CVAT for video 1.1 from a task with a start frame above 0 and a frame step (issue #21, item
16): frames are CVAT's absolute frame numbers ``start_frame + i * step``, the image of frame
``f`` is ``images/frame_{f:06d}.*``, and tracks of points (or any shape but boxes) are reported
and left out. The XML is Datumaro's own test asset, a real CVAT export (see fixtures/README.md);
the images are generated here."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from django.core.files.storage import default_storage

from labeling.datasets.formats import FormatError, cvat
from labeling.datasets.formats.cvat import video_frames_needed
from labeling.datasets.importing import dataset_import
from labeling.models import Box, Frame
from tests.labeling.dataset_helpers import write_zip
from tests.labeling.video_helpers import H as VH
from tests.labeling.video_helpers import W as VW
from tests.labeling.video_helpers import coded_frame, read_code

FIXTURE = Path(__file__).parent / "fixtures" / "cvat_video_step" / "annotations.xml"
# The task: start_frame 10, stop_frame 19, frame_filter step=3, frames 25x20.
TASK_FRAMES = (10, 13, 16, 19)


def xml_text(**replace: str) -> str:
    text = FIXTURE.read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def png(value: int, size=(25, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (value, value, value)).save(buffer, "PNG")
    return buffer.getvalue()


def export_folder(root: Path, xml: str, frames=TASK_FRAMES) -> Path:
    """The export as CVAT writes it with images: frame_NNNNNN.png by absolute number."""
    (root / "images").mkdir(parents=True)
    (root / "annotations.xml").write_text(xml, encoding="utf-8")
    for f in frames:
        (root / f"images/frame_{f:06d}.png").write_bytes(png(f * 10))
    return root


def boxes_by_file(dataset) -> dict[str, list[tuple]]:
    return {
        im.file_name: sorted((b.class_name, b.x, b.y, b.w, b.h) for b in im.boxes)
        for im in dataset.images
    }


def test_the_real_export_reads_its_box_track_and_reports_the_other_tracks(tmp_path):
    root = export_folder(tmp_path / "task", xml_text())
    dataset, resolve = cvat.read(root)
    assert dataset.layout == cvat.LAYOUT_VIDEO
    # Track 0 (a box) is visible at 10 and outside from 13 on: frame 10 only, as Datumaro
    # reads it (Bbox(3, 4, 7, 1) on frame_000010).
    assert boxes_by_file(dataset) == {"frame_000010.png": [("II", 3.0, 4.0, 7.0, 1.0)]}
    assert resolve(dataset.images[0]) == root / "images/frame_000010.png"
    assert dataset.warnings == [
        "7 track shapes other than boxes (2 points, 2 polyline, 3 skeleton) were not imported",
        "3 frame images in images/ that no track covers were not imported",
    ]


def test_a_track_interpolates_only_over_the_tasks_frames(tmp_path):
    # Make the box track visible at 13 and 16: CVAT interpolates 10 -> 16 over the task's
    # frames 10, 13, 16 (frames 11, 12, 14, 15 are not in the task and have no image), and
    # the last shape lasts to the stop frame, 19, the next frame of the step.
    xml = xml_text(
        **{
            '<box frame="13" outside="1"': '<box frame="13" outside="0"',
            '<box frame="16" outside="1" occluded="0" keyframe="1" xtl="8.00" ytl="7.00" '
            'xbr="14.0" ybr="17.00"': '<box frame="16" outside="0" occluded="0" keyframe="1" '
            'xtl="9.00" ytl="4.00" xbr="16.00" ybr="5.00"',
        }
    )
    dataset, _ = cvat.read(export_folder(tmp_path / "task", xml))
    assert boxes_by_file(dataset) == {
        "frame_000010.png": [("II", 3.0, 4.0, 7.0, 1.0)],
        "frame_000013.png": [("II", 7.0, 6.0, 7.0, 2.0)],
        "frame_000016.png": [("II", 9.0, 4.0, 7.0, 1.0)],
        "frame_000019.png": [("II", 9.0, 4.0, 7.0, 1.0)],
    }


def test_interpolation_between_keyframes_steps_by_the_frame_step(tmp_path):
    # Keyframes at 10 and 16 only (the 13 one removed): frame 13 is halfway.
    xml = xml_text(
        **{
            '<box frame="13" outside="1" occluded="0" keyframe="1" xtl="7.00" ytl="6.00" '
            'xbr="14.00" ybr="8.00" z_order="0">\n    </box>\n': "",
            '<box frame="16" outside="1" occluded="0" keyframe="1" xtl="8.00" ytl="7.00" '
            'xbr="14.0" ybr="17.00"': '<box frame="16" outside="1" occluded="0" keyframe="1" '
            'xtl="9.00" ytl="8.00" xbr="16.00" ybr="9.00"',
        }
    )
    dataset, _ = cvat.read(export_folder(tmp_path / "task", xml))
    assert boxes_by_file(dataset) == {
        "frame_000010.png": [("II", 3.0, 4.0, 7.0, 1.0)],
        "frame_000013.png": [("II", 6.0, 6.0, 7.0, 1.0)],
    }


def test_a_shape_off_the_tasks_frames_is_a_problem_naming_it(tmp_path):
    xml = xml_text(**{'<box frame="13" outside="1"': '<box frame="14" outside="1"'})
    with pytest.raises(FormatError, match=r"frame 14 is not a frame of the task \(start_frame"):
        cvat.read(export_folder(tmp_path / "task", xml))


def test_frames_needed_from_the_video_are_the_absolute_numbers(tmp_path):
    root = tmp_path / "task"
    root.mkdir()
    (root / "annotations.xml").write_text(xml_text(), encoding="utf-8")
    (root / "t.mp4").write_bytes(b"not read here")
    video, needed = video_frames_needed(root)
    assert (video, needed) == (root / "t.mp4", [10])


def coded_mp4(path: Path, count: int) -> Path:
    """An H.264 MP4 whose frame ``i`` shows ``i`` in its pixels (``read_code``)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"preset": "veryfast"})
        stream.height, stream.width, stream.pix_fmt = VH, VW, "yuv420p"
        for i in range(count):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(coded_frame(i), format="bgr24")))
        out.mux(stream.encode(None))
    return path


@pytest.mark.django_db
def test_import_of_the_real_export_stores_its_frame_and_reimports_it_unchanged(
    project, owner, tmp_path
):
    files: dict[str, bytes | str] = {"annotations.xml": xml_text()}
    for f in TASK_FRAMES:
        files[f"images/frame_{f:06d}.png"] = png(f * 10)
    archive = write_zip(tmp_path / "cvat.zip", files)
    result = dataset_import(
        project=project, fmt="auto", path=archive, created_by=owner, create_missing_classes=True
    )
    assert (result.fmt, result.layout) == ("cvat", cvat.LAYOUT_VIDEO)
    assert result.frames_created == 1
    assert any("2 points" in w for w in result.warnings)
    rows = list(
        Box.objects.filter(frame__video_id=result.imageset_id).values_list(
            "frame__source_name", "label_class__name", "x", "y", "w", "h"
        )
    )
    assert rows == [("frame_000010.png", "II", 3, 4, 7, 1)]
    again = dataset_import(project=project, fmt="cvat", path=archive, created_by=owner)
    assert (again.frames_created, again.frames_unchanged) == (0, 1)


@pytest.mark.django_db
def test_without_images_the_frames_are_decoded_by_absolute_number(project, owner, tmp_path):
    xml = xml_text(
        **{
            "<width>25</width>": f"<width>{VW}</width>",
            "<height>20</height>": f"<height>{VH}</height>",
            '<box frame="13" outside="1"': '<box frame="13" outside="0"',
        }
    )
    video = coded_mp4(tmp_path / "t.mp4", 20)
    archive = write_zip(
        tmp_path / "cvat.zip", {"annotations.xml": xml, "t.mp4": video.read_bytes()}
    )
    result = dataset_import(
        project=project, fmt="cvat", path=archive, created_by=owner, create_missing_classes=True
    )
    frames = list(Frame.objects.filter(video_id=result.imageset_id).order_by("frame_index"))
    assert [f.source_name for f in frames] == ["frame_000010.jpg", "frame_000013.jpg"]
    for frame, number in zip(frames, (10, 13), strict=True):
        with default_storage.open(frame.image.name) as fh:
            pixels = np.asarray(Image.open(fh).convert("RGB"))[:, :, ::-1]
        assert read_code(pixels) == number  # the video's own frame of that number


def test_a_track_whose_only_box_is_off_the_tasks_frames_is_a_problem_not_a_crash(tmp_path):
    # Track 0 keeps a single box, on frame 11 (not 10 + 3i): a listed problem, not ValueError.
    xml = xml_text(
        **{
            '<box frame="10" outside="0"': '<box frame="11" outside="0"',
            '<box frame="13" outside="1" occluded="0" keyframe="1" xtl="7.00" ytl="6.00" '
            'xbr="14.00" ybr="8.00" z_order="0">\n    </box>\n': "",
            '<box frame="16" outside="1" occluded="0" keyframe="1" xtl="8.00" ytl="7.00" '
            'xbr="14.0" ybr="17.00" z_order="0">\n    </box>\n': "",
        }
    )
    with pytest.raises(FormatError, match="frame 11 is not a frame of the task"):
        cvat.read(export_folder(tmp_path / "task", xml))
    assert cvat.track_boxes([], stop_frame=19, step=3) == {}
