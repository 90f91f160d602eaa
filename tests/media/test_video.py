"""media.probe and .sampling: probing and sampling, on tiny synthetic videos and
the lab recording.

Each synthetic frame carries its own index as an 8-bit code (8 black/white blocks), so a
test can tell from the pixels which frame the sampler really decoded.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from media import probe, sandbox
from media.probe import VideoInfo, VideoProbeError, VideoSampleError, probe_video
from media.sampling import (
    SampledFrame,
    SampleProgress,
    indices_every_seconds,
    indices_uniform,
    pick_kmeans_indices,
    sample_every_seconds,
    sample_indices,
    sample_kmeans,
    sample_uniform,
)
from media.worker import decode, entry_points, packets
from tests.labeling.video_helpers import H, W, coded_frame, read_code

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "openfield-m3v1.mp4"
needs_real = pytest.mark.skipif(
    not REAL.exists(), reason=f"the lab recording {REAL} is not on this machine"
)


# --------------------------------------------------------------------------------------
# Helpers: writers (frames that say who they are: tests.labeling.video_helpers)


def write_cv(path: Path, images: list[np.ndarray], fourcc: str = "mp4v", fps: int = 30) -> Path:
    height, width = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc}"
    for image in images:
        writer.write(image)
    writer.release()
    return path


def write_av(
    path: Path,
    images: list[np.ndarray],
    *,
    codec: str = "libx264",
    fps: int = 30,
    pts_ms: list[int] | None = None,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
    pix_fmt: str = "yuv420p",
) -> Path:
    with av.open(str(path), "w", options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=fps, options=options or {})
        stream.height, stream.width = images[0].shape[:2]
        stream.pix_fmt = pix_fmt
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for i, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            if pts_ms is not None:
                frame.pts = pts_ms[i]
                frame.time_base = Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


# Short GOPs with B-frames (some of them references): exercises GOP skipping, skip_frame
# and frame reordering together.
X264_SHORT_GOP = {
    "x264-params": "keyint=10:min-keyint=10:scenecut=0:bframes=3:b-pyramid=normal",
    "preset": "veryfast",
}


@pytest.fixture
def mp4v_40(tmp_path: Path) -> Path:
    return write_cv(tmp_path / "clip.mp4", [coded_frame(i) for i in range(40)])


@pytest.fixture
def h264_90(tmp_path: Path) -> Path:
    frames = [coded_frame(i) for i in range(90)]
    return write_av(tmp_path / "bframes.mp4", frames, options=X264_SHORT_GOP)


def assert_frames_are(frames: list[SampledFrame], indices: list[int]) -> None:
    assert [f.index for f in frames] == indices
    assert [read_code(f.image) for f in frames] == indices


# --------------------------------------------------------------------------------------
# Pure selection


def test_every_seconds_on_a_29_9997_fps_clock_takes_every_45th_frame():
    timestamps = [i * 33333 / 1_000_000 for i in range(2330)]
    assert indices_every_seconds(timestamps, 1.5) == list(range(0, 2296, 45))


def test_every_seconds_picks_the_frame_nearest_each_target_on_variable_rate():
    timestamps = [0.0, 0.1, 0.2, 1.45, 1.7, 3.2, 3.3]
    assert indices_every_seconds(timestamps, 1.5) == [0, 3, 5]


def test_every_seconds_takes_a_frame_once_when_a_gap_spans_several_targets():
    assert indices_every_seconds([0.0, 0.04, 0.08, 7.0, 7.04], 1.5) == [0, 2, 3]


def test_every_seconds_rejects_non_positive_intervals():
    with pytest.raises(ValueError):
        indices_every_seconds([0.0, 1.0], 0)
    with pytest.raises(ValueError):
        indices_every_seconds([0.0, 1.0], float("nan"))


def test_uniform_spreads_first_to_last():
    assert indices_uniform(41, 5) == [0, 10, 20, 30, 40]
    assert indices_uniform(3, 10) == [0, 1, 2]
    assert indices_uniform(100, 1) == [0]
    assert indices_uniform(0, 3) == []


def test_kmeans_picks_one_member_of_each_cluster():
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    features = np.concatenate([c + rng.normal(0, 0.3, (20, 2)) for c in centres])
    indices = list(range(100, 160))
    chosen = pick_kmeans_indices(indices, features, 3, seed=0)
    assert len(chosen) == 3
    assert sorted((i - 100) // 20 for i in chosen) == [0, 1, 2]
    assert pick_kmeans_indices(indices, features, 3, seed=0) == chosen  # deterministic


def test_kmeans_with_fewer_distinct_frames_than_asked_returns_fewer():
    features = np.zeros((10, 4))
    assert pick_kmeans_indices(list(range(10)), features, 5) == [0]


# --------------------------------------------------------------------------------------
# The lab recording


@needs_real
def test_probe_reads_the_lab_recording():
    info = probe_video(REAL)
    assert isinstance(info, VideoInfo)
    assert (info.frame_count, info.width, info.height) == (2330, 640, 480)
    assert info.fps == pytest.approx(30.0, abs=0.01)
    assert info.duration_s == pytest.approx(2330 / 30.0, abs=0.05)
    assert info.codec == "h264"
    assert "mp4" in info.container
    assert info.declared_frame_count == 2330
    assert not info.variable_frame_rate
    assert info.warnings == ()


@needs_real
def test_every_1_5_s_of_the_lab_recording_gives_52_frames_at_45_frame_steps():
    progress: list[SampleProgress] = []
    frames = list(sample_every_seconds(REAL, 1.5, progress=progress.append))
    assert len(frames) == 52
    assert [f.index for f in frames] == list(range(0, 2296, 45))
    for k, frame in enumerate(frames):
        assert frame.timestamp_s == pytest.approx(1.5 * k, abs=1 / 60)
        assert frame.image.shape == (480, 640, 3) and frame.image.dtype == np.uint8
    assert frames[0].timestamp_s == 0.0
    assert progress[-1].frames_done == progress[-1].frame_count == 2330
    assert progress[-1].frames_kept == 52

    # The same frames as OpenCV decodes at those positions (so the indices are right).
    wanted = {45: frames[1].image, 2295: frames[-1].image}
    cap = cv2.VideoCapture(str(REAL))
    for i in range(2296):
        assert cap.grab()
        if i in wanted:
            ok, image = cap.retrieve()
            assert ok
            assert np.abs(image.astype(int) - wanted[i]).mean() < 3
    cap.release()


@needs_real
def test_rejects_the_lab_recording_cut_in_half(tmp_path: Path):
    data = REAL.read_bytes()
    cut = tmp_path / "half.mp4"
    cut.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: lost
    with pytest.raises(VideoProbeError, match=r"incomplete file \(the upload or copy was cut"):
        probe_video(cut)


def plain_decode(path: Path, indices: set[int]) -> dict[int, np.ndarray]:
    """The frames at ``indices`` from one decode of every frame from the start (PyAV, no
    skipping, no seeking): what players and OpenCV show."""
    frames = {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in indices:
                frames[i] = frame.to_ndarray(format="bgr24")
            if len(frames) == len(indices):
                break
    return frames


@needs_real
def test_frames_taken_alone_past_the_first_gop_of_the_lab_recording_are_its_pixels():
    # The recording's x264 (core 148) wrote its version in the first picture only, and the
    # decoder needs it for every GOP: decoding from a later keyframe without having seen
    # it gave green garbage. 233 is the video thumbnail (10%), 1500 a "take this frame".
    alone = {i: list(sample_indices(REAL, [i])) for i in (233, 1500, 2329)}
    picks = list(sample_kmeans(REAL, 4, scan_frames=40))
    assert len(picks) == 4 and max(f.index for f in picks) > 182  # past the first GOP
    reference = plain_decode(REAL, {*alone, *(f.index for f in picks)})
    for i, frames in alone.items():
        assert [f.index for f in frames] == [i]
        assert np.array_equal(frames[0].image, reference[i]), f"frame {i}"
    for frame in picks:
        assert np.array_equal(frame.image, reference[frame.index]), f"frame {frame.index}"


# --------------------------------------------------------------------------------------
# Synthetic videos: what gets decoded is what was asked for


def test_probe_synthetic_mp4v(mp4v_40: Path):
    info = probe_video(mp4v_40)
    assert (info.frame_count, info.width, info.height) == (40, W, H)
    assert info.fps == pytest.approx(30.0)
    assert info.codec == "mpeg4"


def test_sample_indices_decodes_exactly_those_frames(mp4v_40: Path):
    frames = list(sample_indices(mp4v_40, [39, 0, 7, 7]))
    assert_frames_are(frames, [0, 7, 39])
    assert [f.timestamp_s for f in frames] == pytest.approx([0.0, 7 / 30, 39 / 30])
    frames[0].image[0, 0] = 0  # the caller owns a writable copy


def test_h264_with_b_frames_and_short_gops_decodes_the_right_frames(h264_90: Path):
    assert_frames_are(list(sample_every_seconds(h264_90, 1.0)), [0, 30, 60])
    picks = [3, 4, 9, 10, 11, 47, 88, 89]
    assert_frames_are(list(sample_indices(h264_90, picks)), picks)
    assert_frames_are(list(sample_uniform(h264_90, 4)), [0, 30, 59, 89])


# Open GOPs: keyframes every 18 frames are I-pictures, not IDR, and the B-picture shown just
# before each (17, 35, 53, 71) is decoded after it and refers to the GOP before.
X264_OPEN_GOP = {
    "x264-params": "keyint=18:min-keyint=18:scenecut=0:bframes=3:b-adapt=0:open-gop=1",
    "preset": "veryfast",
}


@pytest.mark.parametrize("suffix", ["mp4", "mkv", "ts"])
def test_open_gop_h264_frames_taken_alone_are_those_of_a_full_pass(tmp_path: Path, suffix: str):
    path = write_av(
        tmp_path / f"open.{suffix}", [coded_frame(i) for i in range(90)], options=X264_OPEN_GOP
    )
    # Their recovery-point SEI makes the I-pictures entry points: GOPs are still skipped.
    assert len(packets.build_index(str(path), 1, strict=False).entry_pos) == 5
    full = {f.index: f.image for f in sample_uniform(path, 90)}
    for picks in ([17], [40], [35, 36, 60, 89]):
        frames = list(sample_indices(path, picks))
        assert_frames_are(frames, picks)
        for frame in frames:
            assert np.array_equal(frame.image, full[frame.index]), f"frame {frame.index}"


def decode_in_process(
    path: Path, index: packets.PacketIndex, i: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[np.ndarray, list[bool]]:
    """Frame ``i`` decoded alone by the worker's code, run here (no child), and whether
    each pass over the file jumped."""
    passes: list[bool] = []
    one_pass = decode._decode_pass

    def counted(*args, jump: bool, **kwargs):
        passes.append(jump)
        return one_pass(*args, jump=jump, **kwargs)

    monkeypatch.setattr(decode, "_decode_pass", counted)
    got: dict[int, np.ndarray] = {}
    pts = int(index.pts[i])
    decode.decode_frames(
        str(path), 1, index, {pts}, lambda f, p: got.setdefault(p, f.to_ndarray(format="bgr24"))
    )
    return got[pts], passes


def test_a_jump_to_a_picture_that_is_no_clean_start_decodes_again_from_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = write_av(
        tmp_path / "open.mp4", [coded_frame(i) for i in range(90)], options=X264_OPEN_GOP
    )
    index = packets.build_index(str(path), 1, strict=False)
    full = {f.index: f.image for f in sample_uniform(path, 90)}
    target = int(np.searchsorted(index.pts, index.dec_pts[49]))  # in the GOP at 35

    image, passes = decode_in_process(path, index, target, monkeypatch)
    assert passes == [True] and np.array_equal(image, full[target])  # trusted: one pass

    # An index that takes a P-picture (decoded 45th) for an entry point, as a file with
    # wrong keyframe flags would: the jump is noticed and the frame still comes out right.
    lying = dataclasses.replace(index, entry_pos=np.array([0, 17, 35, 45, 53, 71]))
    image, passes = decode_in_process(path, lying, target, monkeypatch)
    assert passes == [True, False] and np.array_equal(image, full[target])


def sei(*messages: tuple[int, bytes]) -> bytes:
    """An H.264 SEI NAL unit; payloads as written (a size counts no emulation bytes)."""
    body = b"".join(
        bytes([kind, len(payload.replace(b"\x00\x00\x03", b"\x00\x00"))]) + payload
        for kind, payload in messages
    )
    return b"\x06" + body + b"\x80"


def test_h264_entry_points_are_idr_or_exact_recovery_points():
    idr, slice_ = b"\x65\x88\x84", b"\x41\x9a\x02"
    # recovery_frame_cnt ue(v) first: "1" is 0, "011" is 2 (then the message's flags)
    at_once, after_two = (6, b"\xc4"), (6, b"\x71")
    user_data = (5, b"x264 - core 148\x00\x00\x03\x01")  # with an emulation byte
    assert entry_points._h264_entry([sei(user_data), idr])
    assert entry_points._h264_entry([sei(user_data, at_once), slice_])
    assert not entry_points._h264_entry([sei(user_data), slice_])  # an I-slice alone
    assert not entry_points._h264_entry([sei(after_two), slice_])  # gradual refresh
    assert not entry_points._h264_entry([slice_, sei(at_once)])  # SEI after: not this one
    # What the index calls, on a packet in Annex B form: broken headers are not trusted.
    h264 = SimpleNamespace(codec=SimpleNamespace(canonical_name="h264"), extradata=None)
    is_entry = entry_points.entry_point_test(h264)
    assert is_entry(b"\x00\x00\x00\x01" + sei(user_data, at_once) + b"\x00\x00\x01" + slice_)
    assert not is_entry(b"\x00\x00\x01\x06\xff\xff")
    assert not is_entry(b"\x00\x00\x01\x06\x06\x01\x00\x80\x00\x00\x01" + slice_)


def test_hevc_entry_points_are_irap_pictures():
    prefix_sei, cra, idr, trail = b"\x4e\x01\x05", b"\x2a\x01", b"\x26\x01", b"\x02\x01"
    assert entry_points._hevc_entry([prefix_sei, cra])
    assert entry_points._hevc_entry([idr])
    assert not entry_points._hevc_entry([prefix_sei, trail])


def test_nal_units_are_split_by_length_prefix_or_start_code():
    units = [b"\x67\x01", b"\x68", b"\x65\x00\x00\x03\x01"]
    prefixed = b"".join(len(u).to_bytes(4, "big") + u for u in units)
    assert list(entry_points._nal_units(prefixed, 4)) == units
    annex_b = b"".join(b"\x00\x00\x00\x01" + u for u in units)
    assert [u.rstrip(b"\x00") for u in entry_points._nal_units(annex_b, None)] == units
    assert list(entry_points._nal_units(b"\x00\x00\x00\x09\x65", 4)) == []  # cut short


def test_mjpeg_avi_uniform(tmp_path: Path):
    path = write_cv(tmp_path / "clip.avi", [coded_frame(i) for i in range(40)], "MJPG")
    assert probe_video(path).codec == "mjpeg"
    assert_frames_are(list(sample_uniform(path, 5)), [0, 10, 20, 29, 39])


def test_variable_frame_rate_uses_container_timestamps(tmp_path: Path):
    pts_ms = [0, 33, 66, 100, 400, 433, 466, 1500, 1533, 1566, 3000, 3033, 3200]
    frames_in = [coded_frame(i) for i in range(len(pts_ms))]
    path = write_av(tmp_path / "vfr.mp4", frames_in, pts_ms=pts_ms)
    info = probe_video(path)
    assert info.variable_frame_rate
    assert info.frame_count == len(pts_ms)
    frames = list(sample_every_seconds(path, 1.5))
    expected = indices_every_seconds([p / 1000 for p in pts_ms], 1.5)
    assert expected == [0, 7, 10]
    assert_frames_are(frames, expected)
    assert [f.timestamp_s for f in frames] == pytest.approx([0.0, 1.5, 3.0], abs=1e-3)


def test_a_file_cut_without_re_encoding_counts_only_the_frames_it_shows(
    tmp_path: Path, h264_90: Path
):
    # ffmpeg -ss with -c copy keeps the GOP before the cut point for reference and marks
    # its frames as discarded by an edit list: they are decoded but never shown.
    cut = tmp_path / "cut.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-ss", "0.5"]
        + ["-i", str(h264_90), "-c", "copy", str(cut)],
        check=True,
    )
    info = probe_video(cut, strict=True)
    assert info.frame_count == 75 and info.warnings == ()
    frames = list(sample_indices(cut, [0, 1, 74]))
    assert [read_code(f.image) for f in frames] == [15, 16, 89]
    assert frames[0].timestamp_s == 0.0


def test_type_is_decided_by_decoding_not_by_name(mp4v_40: Path, tmp_path: Path):
    renamed = tmp_path / "notes.txt"
    renamed.write_bytes(mp4v_40.read_bytes())
    assert probe_video(renamed).frame_count == 40


def test_skip_indices_are_not_yielded(mp4v_40: Path):
    frames = list(sample_every_seconds(mp4v_40, 0.5, skip_indices={0, 30}))
    assert_frames_are(frames, [15])


def test_skip_similar_drops_near_duplicates_of_the_last_kept_frame(tmp_path: Path):
    images = [coded_frame(1)] * 20 + [coded_frame(200)] * 20
    path = write_cv(tmp_path / "still.mp4", images)
    progress: list[SampleProgress] = []
    frames = list(sample_uniform(path, 40, skip_similar=0.02, progress=progress.append))
    assert [read_code(f.image) for f in frames] == [1, 200]
    assert [f.index for f in frames] == [0, 20]
    assert progress[-1].frames_similar == 38
    assert len(list(sample_uniform(path, 40))) == 40


def test_kmeans_takes_one_frame_from_each_scene(tmp_path: Path):
    rng = np.random.default_rng(0)
    scenes = [
        np.full((H, W, 3), 30, np.uint8),
        np.full((H, W, 3), 220, np.uint8),
        np.kron(np.indices((6, 8)).sum(axis=0) % 2 * 255, np.ones((8, 8)))
        .astype(np.uint8)[..., None]
        .repeat(3, axis=2),
    ]
    images = [
        np.clip(scene.astype(int) + rng.integers(-4, 5, scene.shape), 0, 255).astype(np.uint8)
        for scene in scenes
        for _ in range(20)
    ]
    path = write_cv(tmp_path / "scenes.avi", images, "MJPG")
    phases: set[str] = set()
    frames = list(sample_kmeans(path, 3, scan_frames=60, progress=lambda p: phases.add(p.phase)))
    assert sorted(f.index // 20 for f in frames) == [0, 1, 2]
    assert phases == {"scan", "sample"}


def test_index_past_the_end_is_a_sample_error(mp4v_40: Path):
    with pytest.raises(VideoSampleError, match="40 frames"):
        list(sample_indices(mp4v_40, [5, 40]))


def test_bad_arguments_fail_at_the_call(mp4v_40: Path):
    with pytest.raises(ValueError):
        sample_every_seconds(mp4v_40, 0)
    with pytest.raises(ValueError):
        sample_uniform(mp4v_40, 0)
    with pytest.raises(ValueError):
        sample_indices(mp4v_40, [-1])
    with pytest.raises(ValueError):
        sample_uniform(mp4v_40, 3, skip_similar=2.0)


# --------------------------------------------------------------------------------------
# Bad and hostile inputs: a clear VideoProbeError, never a crash


def test_rejects_a_zero_length_file(tmp_path: Path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(VideoProbeError, match="empty"):
        probe_video(path)


def test_rejects_a_missing_file(tmp_path: Path):
    with pytest.raises(VideoProbeError, match="missing"):
        probe_video(tmp_path / "nowhere.mp4")


def test_rejects_random_bytes_named_mp4(tmp_path: Path):
    path = tmp_path / "random.mp4"
    path.write_bytes(np.random.default_rng(0).bytes(50_000))
    with pytest.raises(VideoProbeError, match="not a video"):
        probe_video(path)
    with pytest.raises(VideoProbeError):
        list(sample_every_seconds(path))


def test_rejects_an_image_html_polyglot_named_mp4_php(tmp_path: Path):
    ok, png = cv2.imencode(".png", coded_frame(5))
    assert ok
    path = tmp_path / "x.mp4.php"
    path.write_bytes(png.tobytes() + b"<html><script>alert(1)</script></html>")
    with pytest.raises(VideoProbeError, match="container"):
        probe_video(path)


def test_rejects_playlists_that_would_read_other_files(tmp_path: Path, mp4v_40: Path):
    hls = tmp_path / "list.mp4"
    hls.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n{mp4v_40}\n#EXT-X-ENDLIST\n")
    concat = tmp_path / "concat.mp4"
    concat.write_text(f"ffconcat version 1.0\nfile {mp4v_40}\n")
    for path in (hls, concat):
        with pytest.raises(VideoProbeError):
            probe_video(path)


def test_rejects_a_one_frame_video(tmp_path: Path):
    path = write_cv(tmp_path / "one.mp4", [coded_frame(1)])
    with pytest.raises(VideoProbeError, match="only one frame"):
        probe_video(path)


def test_rejects_absurd_dimensions(tmp_path: Path):
    wide = [np.zeros((16, 8200, 3), np.uint8)] * 2
    path = write_av(tmp_path / "wide.avi", wide, codec="mjpeg", pix_fmt="yuvj420p")
    with pytest.raises(VideoProbeError, match="8192"):
        probe_video(path)


def test_rejects_an_unsupported_codec(tmp_path: Path):
    images = [coded_frame(i) for i in range(3)]
    path = write_av(tmp_path / "old.avi", images, codec="msvideo1", pix_fmt="rgb555le")
    with pytest.raises(VideoProbeError, match="msvideo1"):
        probe_video(path)


def test_truncated_file_reports_the_real_frame_count(tmp_path: Path):
    images = [coded_frame(i) for i in range(60)]
    full = write_av(
        tmp_path / "full.mp4",
        images,
        options=X264_SHORT_GOP,
        container_options={"movflags": "faststart"},  # index first: survives the cut
    )
    data = full.read_bytes()
    media = data.index(b"mdat")  # the frames follow the index; cut them in half
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: media + (len(data) - media) // 2])
    info = probe_video(cut)
    assert info.declared_frame_count == 60
    assert 10 < info.frame_count < 60
    assert any("claims 60 frames" in w for w in info.warnings)
    with pytest.raises(VideoProbeError, match="truncated"):
        probe_video(cut, strict=True)
    frames = list(sample_uniform(cut, 3))
    assert [read_code(f.image) for f in frames] == [f.index for f in frames]


# --------------------------------------------------------------------------------------
# The sandbox: time limits, crashes, memory, early stop


def test_time_limit_ends_the_child(mp4v_40: Path):
    with pytest.raises(VideoProbeError, match="took longer"):
        probe_video(mp4v_40, timeout_s=0.01)


def test_a_hanging_child_is_killed(monkeypatch: pytest.MonkeyPatch, mp4v_40: Path):
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(sandbox.subprocess, "Popen", popen)
    monkeypatch.setattr(
        sandbox,
        "_worker_command",
        lambda: [sys.executable, "-c", "import time; time.sleep(60)"],
    )
    with pytest.raises(VideoProbeError, match="took longer"):
        probe_video(mp4v_40, timeout_s=0.5)
    assert started[0].poll() is not None


def test_a_crashing_decoder_is_a_probe_error(monkeypatch: pytest.MonkeyPatch, mp4v_40: Path):
    crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    monkeypatch.setattr(sandbox, "_worker_command", lambda: [sys.executable, "-c", crash])
    with pytest.raises(VideoProbeError, match="crashed"):
        probe_video(mp4v_40)


def test_a_memory_limit_too_small_for_the_decoder_is_reported(
    monkeypatch: pytest.MonkeyPatch, mp4v_40: Path
):
    with pytest.raises(ValueError):
        probe_video(mp4v_40, memory_limit_bytes=1024)
    monkeypatch.setattr(probe, "MIN_MEMORY_LIMIT_BYTES", 0)
    with pytest.raises(VideoProbeError, match="memory limit"):
        probe_video(mp4v_40, memory_limit_bytes=100 * 1024**2)


def test_closing_the_generator_stops_the_decoder(monkeypatch: pytest.MonkeyPatch, mp4v_40: Path):
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(sandbox.subprocess, "Popen", popen)
    frames = sample_uniform(mp4v_40, 40)
    first = next(frames)
    assert first.index == 0
    frames.close()
    assert started[0].poll() is not None
