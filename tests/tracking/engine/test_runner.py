"""The run loop: every frame once, chunks, resume, cancel, decode errors, cropping, memory."""

from __future__ import annotations

import dataclasses
import os
import time

import cv2
import numpy as np
import pytest

from tests.tracking.engine.fakes import BlobDetector, ListSource
from tests.tracking.synthetic_video import make_tiny_video
from tracking.engine import appearance, runner
from tracking.engine.chunks import DetectPath, RunDirMismatch, chunk_dir, chunk_files, read_chunks
from tracking.engine.cropping import CropParams
from tracking.engine.frames import DecoderSource, FrameDecodeError, OpenCVSource
from tracking.engine.runner import DetectParams, TrackParams, detect_video, track_video

SIZE = (320, 240)  # at imgsz 160: scale 1/2, one stride cell = 64 px


@pytest.fixture(scope="module")
def two_mice(tmp_path_factory):
    return make_tiny_video(
        tmp_path_factory.mktemp("video") / "two.mp4", n_frames=48, size=SIZE, n_animals=2
    )


@pytest.fixture(scope="module")
def one_mouse(tmp_path_factory):
    return make_tiny_video(
        tmp_path_factory.mktemp("video") / "one.mp4", n_frames=48, size=SIZE, n_animals=1, seed=3
    )


def _params(crop: bool = False, **changes) -> TrackParams:
    params = TrackParams(
        detect=DetectParams(imgsz=160),
        crop=CropParams(enabled=crop),
        chunk_frames=16,
        progress_interval_s=0.05,
    )
    return dataclasses.replace(params, **changes)


def _boxes(detections) -> list[np.ndarray]:
    return [d.boxes_xyxy[np.lexsort(d.boxes_xyxy.T[::-1])] for d in detections]


class Cancelled(Exception):
    pass


def test_every_frame_is_detected_once_and_stored_in_chunks(two_mice, tmp_path):
    detector = BlobDetector()
    stored, stats = detect_video(
        OpenCVSource(two_mice.path), detector, n_animals=2, params=_params(), run_dir=tmp_path
    )
    assert [d.frame for d in stored.detections] == list(range(48))
    assert np.allclose([d.time_s for d in stored.detections], two_mice.time_s, atol=1e-3)
    assert detector.images_seen == 48
    assert [(a, b) for a, b, _ in chunk_files(tmp_path)] == [(0, 15), (16, 31), (32, 47)]
    for det, truth in zip(stored.detections, two_mice.boxes, strict=True):
        assert len(det.boxes_xyxy) == 2
        found = det.boxes_xyxy[np.argsort(det.boxes_xyxy[:, 1])]
        assert np.abs(found - truth[np.argsort(truth[:, 1])]).max() < 3.0
    assert stats.frames == stats.frames_processed == 48 and stats.frames_resumed == 0
    assert stats.crop_share == 0 and stats.fps > 0 and stats.decode_fps > 0
    assert (stored.paths == DetectPath.FULL).all()
    # Two animals: each box carries what it looks like, taken from the frame.
    assert all(d.appearance.shape == (2, appearance.DESCRIPTOR_SIZE) for d in stored.detections)
    assert np.isfinite(stored.detections[0].appearance).all()


def test_one_animal_gets_no_appearance_descriptors(one_mouse, tmp_path):
    stored, _ = detect_video(
        OpenCVSource(one_mouse.path), BlobDetector(), n_animals=1, params=_params(),
        run_dir=tmp_path,
    )  # fmt: skip
    assert all(d.appearance is None for d in stored.detections)


def test_track_video_ends_with_the_identity_pipelines_trajectory(
    two_mice, tmp_path, ultralytics_offline
):
    pytest.importorskip("tracking.engine.pipeline", reason="the identity pipeline is not merged")
    result = track_video(
        OpenCVSource(two_mice.path), BlobDetector(), n_animals=2, params=_params(), run_dir=tmp_path
    )
    trajectory = result.tracking.trajectory
    assert trajectory.n_frames == 48 and trajectory.n_animals == 2
    assert trajectory.frames.tolist() == list(range(48))
    # Every box of the trajectory is one of the ellipses (the identities are the pipeline's
    # business, tested with it).
    known = ~np.isnan(trajectory.boxes).any(axis=2)
    assert known.any(axis=1).all()
    for row, animal in zip(*np.nonzero(known), strict=True):
        error = np.abs(two_mice.boxes[row] - trajectory.boxes[row, animal]).max(axis=1)
        assert error.min() < 3.0


def test_progress_reports_frames_done_and_ends_with_the_real_total(two_mice, tmp_path):
    calls = []
    detect_video(
        OpenCVSource(two_mice.path),
        BlobDetector(delay_s=0.01),
        n_animals=2,
        params=_params(),
        run_dir=tmp_path,
        on_progress=lambda *a: calls.append(a),
    )
    done = [c[0] for c in calls]
    assert len(calls) >= 3 and done == sorted(done)
    assert calls[-1][:2] == (48, 48) and calls[-1][3] == 0.0
    assert all(c[1] == 48 for c in calls) and all(c[2] >= 0 for c in calls)


def test_progress_is_reported_while_the_decoder_stalls(tmp_path):
    """The heartbeat must go on when no frame arrives (a slow network disk, a stuck demuxer)."""
    calls = []
    source = ListSource(
        lambda i: np.full((240, 320, 3), 200, np.uint8), 10, stall_at=5, stall_s=0.5
    )
    detect_video(
        source,
        BlobDetector(),
        n_animals=1,
        params=_params(),
        run_dir=tmp_path,
        on_progress=lambda *a: calls.append(a),
    )
    assert sum(1 for c in calls if c[0] == 5) >= 3


@pytest.mark.parametrize("stop", ["cancel", "detector"])
def test_a_run_stopped_midway_keeps_whole_chunks_and_resumes_to_the_same_result(
    two_mice, tmp_path, stop
):
    reference = detect_video(
        OpenCVSource(two_mice.path),
        BlobDetector(),
        n_animals=2,
        params=_params(),
        run_dir=tmp_path / "reference",
    )[0]

    def cancel_after_20(done, total, fps, eta):
        if done >= 20:
            raise Cancelled

    first = BlobDetector(delay_s=0.01, fail_on_call=25 if stop == "detector" else None)
    with pytest.raises(Cancelled if stop == "cancel" else RuntimeError):
        detect_video(
            OpenCVSource(two_mice.path),
            first,
            n_animals=2,
            params=_params(),
            run_dir=tmp_path / "run",
            on_progress=cancel_after_20 if stop == "cancel" else None,
        )
    names = [p.name for p in chunk_dir(tmp_path / "run").iterdir()]
    assert not [n for n in names if not n.startswith("chunk-")]  # no half-written file
    kept = read_chunks(tmp_path / "run").n_frames
    assert kept == first.images_seen  # everything detected was stored
    assert 20 <= kept < 48 if stop == "cancel" else kept == 25

    second = BlobDetector()
    stored, stats = detect_video(
        OpenCVSource(two_mice.path),
        second,
        n_animals=2,
        params=_params(),
        run_dir=tmp_path / "run",
    )
    assert second.images_seen == 48 - kept  # only the missing frames
    assert stats.frames_resumed == kept and stats.frames_processed == 48 - kept
    assert [d.frame for d in stored.detections] == list(range(48))
    assert all(
        np.array_equal(a, b)
        for a, b in zip(_boxes(stored.detections), _boxes(reference.detections), strict=True)
    )


def test_a_decode_error_midway_keeps_the_frames_before_it_and_names_the_frame(two_mice, tmp_path):
    decoded = OpenCVSource(two_mice.path)

    def iter_video_frames(path, *, start=0, stop=None):  # as media.streaming's
        for frame in decoded.frames(start, stop):
            if frame.index == 23:
                raise OSError("Invalid NAL unit size")
            yield frame

    source = DecoderSource(
        two_mice.path,
        decode=iter_video_frames,
        frame_count=48,
        fps=decoded.fps,
        size=decoded.size,
    )
    with pytest.raises(FrameDecodeError) as info:
        track_video(source, BlobDetector(), n_animals=2, params=_params(), run_dir=tmp_path)
    assert info.value.frame == 23 and "frame 23" in str(info.value)
    assert [(a, b) for a, b, _ in chunk_files(tmp_path)] == [(0, 15), (16, 22)]


def test_any_source_failure_ends_as_a_decode_error_naming_the_frame(tmp_path):
    source = ListSource(lambda i: np.full((240, 320, 3), 200, np.uint8), 30, fail_at=17)
    with pytest.raises(FrameDecodeError) as info:
        detect_video(source, BlobDetector(), n_animals=1, params=_params(), run_dir=tmp_path)
    assert info.value.frame == 17 and isinstance(info.value.__cause__, OSError)
    assert read_chunks(tmp_path).n_frames == 17


def test_cropping_gives_the_full_frames_boxes_at_the_full_frames_scale(one_mouse, tmp_path):
    full = detect_video(
        OpenCVSource(one_mouse.path),
        BlobDetector(),
        n_animals=1,
        params=_params(crop=False),
        run_dir=tmp_path / "full",
    )[0]
    detector = BlobDetector()
    cropped, stats = detect_video(
        OpenCVSource(one_mouse.path),
        detector,
        n_animals=1,
        params=_params(crop=True),
        run_dir=tmp_path / "crop",
    )
    assert stats.crop_share > 0.8
    assert (cropped.paths == DetectPath.CROP).sum() == round(stats.crop_share * 48)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(_boxes(cropped.detections), _boxes(full.detections), strict=True)
    )
    crops = [c for c in detector.calls if c.imgsz != 160]
    assert crops
    for call in crops:  # the contract: imgsz / crop size == 160 / 320
        for h, w, _ in call.shapes:
            assert call.imgsz / max(h, w) == 160 / 320 and h < 240


def test_cropping_refreshes_on_the_full_frame_every_period(one_mouse, tmp_path):
    params = _params(crop=True)
    params = dataclasses.replace(params, crop=dataclasses.replace(params.crop, refresh_s=0.2))
    stored, _ = detect_video(
        OpenCVSource(one_mouse.path), BlobDetector(), n_animals=1, params=params, run_dir=tmp_path
    )
    full_rows = np.flatnonzero(stored.paths != DetectPath.CROP)
    assert full_rows[0] == 0 and np.diff(full_rows).max() <= 6  # 0.2 s at 30 fps


def test_cropping_never_starts_while_fewer_animals_than_expected_are_found(one_mouse, tmp_path):
    stored, stats = detect_video(
        OpenCVSource(one_mouse.path),
        BlobDetector(),
        n_animals=2,
        params=_params(crop=True),
        run_dir=tmp_path,
    )
    assert stats.crop_share == 0 and (stored.paths == DetectPath.FULL).all()


def test_a_window_that_loses_the_animal_is_run_again_on_the_full_frame(tmp_path):
    """The animal jumps across the frame: the window misses it, the full frame finds it."""

    def frame(i):
        image = np.full((240, 320, 3), 210, np.uint8)
        x = 60 if i < 10 else 250
        cv2.rectangle(image, (x, 100), (x + 30, 120), (20, 20, 20), -1)
        return image

    stored, stats = detect_video(
        ListSource(frame, 20),
        BlobDetector(),
        n_animals=1,
        params=_params(crop=True),
        run_dir=tmp_path,
    )
    assert stored.paths[10] == DetectPath.CROP_THEN_FULL and stats.full_reruns == 1
    assert stats.fallbacks == {"fewer_animals": 1}
    assert stored.detections[10].boxes_xyxy[0, 0] == 250
    assert (stored.paths[11:] == DetectPath.CROP).all()


def test_a_cropped_run_resumes_to_the_same_result(one_mouse, tmp_path):
    reference, _ = detect_video(
        OpenCVSource(one_mouse.path),
        BlobDetector(),
        n_animals=1,
        params=_params(crop=True),
        run_dir=tmp_path / "reference",
    )

    def cancel(done, total, fps, eta):
        if done >= 21:
            raise Cancelled

    with pytest.raises(Cancelled):
        detect_video(
            OpenCVSource(one_mouse.path),
            BlobDetector(delay_s=0.01),
            n_animals=1,
            params=_params(crop=True),
            run_dir=tmp_path / "run",
            on_progress=cancel,
        )
    resumed, _ = detect_video(
        OpenCVSource(one_mouse.path),
        BlobDetector(),
        n_animals=1,
        params=_params(crop=True),
        run_dir=tmp_path / "run",
    )
    assert resumed.paths.tolist() == reference.paths.tolist()
    assert all(
        np.array_equal(a, b)
        for a, b in zip(_boxes(resumed.detections), _boxes(reference.detections), strict=True)
    )


def test_batches_share_one_window_and_fall_back_frame_by_frame(one_mouse, tmp_path):
    params = _params(crop=True)
    params = dataclasses.replace(params, detect=dataclasses.replace(params.detect, batch_size=8))
    detector = BlobDetector()
    stored, stats = detect_video(
        OpenCVSource(one_mouse.path), detector, n_animals=1, params=params, run_dir=tmp_path
    )
    assert [d.frame for d in stored.detections] == list(range(48))
    assert stats.crop_share > 0
    for call in detector.calls:
        assert len(set(call.shapes)) == 1 and call.batch_size == len(call.shapes)
    assert max(len(c.shapes) for c in detector.calls) == 8


def test_a_source_that_cannot_start_midway_is_decoded_from_the_start_and_trimmed(tmp_path):
    class FromTheStart(ListSource):
        def frames(self, start=0, stop=None):
            return super().frames(0, stop)  # ignores start=, as a plain decoder may

    def frame(i):
        image = np.full((240, 320, 3), 210, np.uint8)
        image[100:120, 50 + 2 * i : 80 + 2 * i] = 20  # 2 px a frame: the fake's resolution
        return image

    def cancel(done, total, fps, eta):
        if done >= 10:
            raise Cancelled

    params = _params(chunk_frames=8)
    with pytest.raises(Cancelled):
        detect_video(
            FromTheStart(frame, 30),
            BlobDetector(delay_s=0.01),
            n_animals=1,
            params=params,
            run_dir=tmp_path,
            on_progress=cancel,
        )
    kept = read_chunks(tmp_path).n_frames
    detector = BlobDetector()
    stored, _ = detect_video(
        FromTheStart(frame, 30), detector, n_animals=1, params=params, run_dir=tmp_path
    )
    assert detector.images_seen == 30 - kept and stored.n_frames == 30
    assert [d.boxes_xyxy[0, 0] for d in stored.detections] == [50 + 2 * i for i in range(30)]


def test_a_run_directory_made_with_other_settings_is_refused(two_mice, tmp_path):
    detect_video(
        OpenCVSource(two_mice.path), BlobDetector(), n_animals=2, params=_params(), run_dir=tmp_path
    )
    with pytest.raises(RunDirMismatch):
        detect_video(
            OpenCVSource(two_mice.path),
            BlobDetector(),
            n_animals=2,
            params=_params(detect=DetectParams(imgsz=320)),
            run_dir=tmp_path,
        )


def test_a_finished_run_directory_is_read_back_without_detecting_again(two_mice, tmp_path):
    first = detect_video(
        OpenCVSource(two_mice.path), BlobDetector(), n_animals=2, params=_params(), run_dir=tmp_path
    )[0]
    detector = BlobDetector()
    again, stats = detect_video(
        OpenCVSource(two_mice.path), detector, n_animals=2, params=_params(), run_dir=tmp_path
    )
    assert detector.images_seen == 0 and stats.frames_resumed == 48
    assert _boxes(again.detections)[7].tolist() == _boxes(first.detections)[7].tolist()


def test_the_trajectory_is_built_from_every_frames_detections(two_mice, tmp_path, monkeypatch):
    seen = {}

    def build(detections, *, n_animals, params):
        seen.update(frames=[d.frame for d in detections], n=n_animals, params=params)
        return "trajectory"

    monkeypatch.setattr(runner, "build_trajectory", build)
    params = _params(identity={"max_gap_s": 0.5})
    result = track_video(
        OpenCVSource(two_mice.path), BlobDetector(), n_animals=2, params=params, run_dir=tmp_path
    )
    assert result.tracking == "trajectory"
    assert seen == {"frames": list(range(48)), "n": 2, "params": {"max_gap_s": 0.5}}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from /proc")
def test_memory_stays_flat_however_long_the_video(tmp_path):
    """1,500 frames of 1280x720 are 4 GB: only the queue's worth may be alive at once."""

    def frame(i):
        image = np.full((720, 1280, 3), 200, np.uint8)
        image[300:340, 100 + i % 800 : 160 + i % 800] = 20
        return image

    before = _rss_bytes()
    stored, _ = detect_video(
        ListSource(frame, 1500, size=(1280, 720)),
        BlobDetector(),
        n_animals=1,
        params=_params(crop=True, chunk_frames=500, queue_frames=8),
        run_dir=tmp_path,
    )
    assert stored.n_frames == 1500
    assert _rss_bytes() - before < 300 * 2**20


def test_the_decoder_runs_ahead_by_a_bounded_amount_of_memory(tmp_path):
    source = ListSource(lambda i: np.full((720, 1280, 3), 200, np.uint8), 40, size=(1280, 720))
    ahead = []

    class Slow(BlobDetector):
        def predict(self, images, **kwargs):
            time.sleep(0.01)  # the reader fills the queue meanwhile
            ahead.append(source.yielded - self.images_seen)
            return super().predict(images, **kwargs)

    frame_bytes = 1280 * 720 * 3
    detect_video(
        source,
        Slow(),
        n_animals=1,
        params=_params(queue_frames=32, queue_bytes=3 * frame_bytes),
        run_dir=tmp_path,
    )
    # 3 frames queued, one in the reader's hand, the one being detected
    assert max(ahead) <= 3 + 1 + 1 and max(ahead) >= 3


class FixedInputDetector(BlobDetector):
    """A model with a fixed 160x160 input (a static ONNX export): every image is resized to
    it, whatever ``imgsz`` it is given."""

    fixed_input_hw = (160, 160)

    def predict(self, images, *, imgsz, conf, iou, max_det, batch_size):
        return super().predict(
            images, imgsz=160, conf=conf, iou=iou, max_det=max_det, batch_size=batch_size
        )


def test_a_model_with_a_fixed_input_is_never_given_crops(one_mouse, tmp_path, caplog):
    detector = FixedInputDetector()
    with caplog.at_level("WARNING", logger="tracking.engine.runner"):
        stored, stats = detect_video(
            OpenCVSource(one_mouse.path),
            detector,
            n_animals=1,
            params=_params(crop=True),
            run_dir=tmp_path,
        )
    assert stats.crop_share == 0 and (stored.paths == DetectPath.FULL).all()
    assert all(shape[:2] == (240, 320) for call in detector.calls for shape in call.shapes)
    assert "160x160" in stats.crop_disabled and "static ONNX" in stats.crop_disabled
    assert "dynamic cropping is off" in caplog.text
    # A model that takes any size still crops, and says nothing.
    _, free = detect_video(
        OpenCVSource(one_mouse.path),
        BlobDetector(),
        n_animals=1,
        params=_params(crop=True),
        run_dir=tmp_path / "free",
    )
    assert free.crop_share > 0.8 and free.crop_disabled is None


def test_two_animals_far_apart_are_cropped_one_window_each_with_the_full_frames_boxes(tmp_path):
    """Two mice in opposite corners: one window around both would be most of the frame
    (the full frame then); one window each is cropped, both in one detector call, and the
    boxes are the full frame's."""

    def frame(index: int) -> np.ndarray:
        image = np.full((480, 640, 3), 230, np.uint8)
        cv2.ellipse(image, (90 + index, 80), (34, 20), 0, 0, 360, (20, 20, 20), -1)
        cv2.ellipse(image, (540 - index, 400), (34, 20), 0, 0, 360, (20, 20, 20), -1)
        return image

    params = _params(crop=True, detect=DetectParams(imgsz=320))
    full = detect_video(
        ListSource(frame, 30, size=(640, 480)), BlobDetector(), n_animals=2,
        params=dataclasses.replace(params, crop=CropParams(enabled=False)),
        run_dir=tmp_path / "full",
    )[0]  # fmt: skip
    detector = BlobDetector()
    cropped, stats = detect_video(
        ListSource(frame, 30, size=(640, 480)), detector, n_animals=2, params=params,
        run_dir=tmp_path / "crop",
    )  # fmt: skip
    assert stats.crop_share > 0.8
    pairs = [c for c in detector.calls if c.imgsz != 320]
    assert pairs and all(len(c.shapes) == 2 and len(set(c.shapes)) == 1 for c in pairs)
    assert all(max(h, w) < 320 for c in pairs for h, w, _ in c.shapes)
    for a, b in zip(_boxes(cropped.detections), _boxes(full.detections), strict=True):
        assert a.shape == b.shape == (2, 4)
        assert np.array_equal(a, b)
