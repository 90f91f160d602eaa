"""The run loop with a real (tiny, barely trained) Ultralytics model behind the runtime.

The model only has to run, not to be good: it is trained for one epoch at 64 px on a few
synthetic frames. What is checked is the contract between the engine and the runtime:
whole frames and crops of any size at the imgsz the engine picks, every frame stored.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.tracking.synthetic_video import make_tiny_video, tiny_frames
from tracking.engine.cropping import CropParams
from tracking.engine.frames import OpenCVSource
from tracking.engine.runner import DetectParams, TrackParams, detect_video

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory, ultralytics_offline):
    from labeling.datasets.formats import yolo
    from labeling.datasets.formats.base import Dataset, DatasetBox, DatasetImage
    from training import trainer
    from training.presets import Hyperparameters

    root = tmp_path_factory.mktemp("tiny-model")
    images, paths = [], {}
    for i, (image, boxes) in enumerate(tiny_frames(n_frames=10, size=(128, 96), n_animals=1)):
        name = f"{i:03d}.jpg"
        cv2.imwrite(str(root / name), image)
        paths[name] = root / name
        x1, y1, x2, y2 = (float(v) for v in boxes[0])
        images.append(
            DatasetImage(
                name,
                128,
                96,
                boxes=[DatasetBox("mouse", x1, y1, x2 - x1, y2 - y1)],
                split="train" if i < 8 else "val",
            )  # fmt: skip
        )
    yolo.write(
        Dataset(classes=["mouse"], images=images), root / "data", lambda i: paths[i.file_name]
    )
    result = trainer.train(
        data_yaml=root / "data" / yolo.YAML_NAME,
        preset_or_model="yolo11n",
        hyperparameters=Hyperparameters(
            epochs=1, imgsz=64, batch=4, workers=0, device="cpu", augment=False
        ),
        project_dir=root / "run",
    )
    return result.best


@pytest.fixture
def detector(tiny_weights):
    from training.runtime import Detector

    return Detector(tiny_weights, device="cpu")


def test_a_real_runtime_detects_every_frame_whole_and_cropped(detector, tmp_path):
    video = make_tiny_video(tmp_path / "v.mp4", n_frames=12, size=(320, 240), n_animals=1)
    params = TrackParams(
        detect=DetectParams(imgsz=160, conf=0.001, max_det=3),
        crop=CropParams(min_score=0.0),
        chunk_frames=5,
    )
    stored, stats = detect_video(
        OpenCVSource(video.path), detector, n_animals=1, params=params, run_dir=tmp_path / "run"
    )
    assert [d.frame for d in stored.detections] == list(range(12))
    for det in stored.detections:
        assert det.boxes_xyxy.dtype == np.float32 and det.boxes_xyxy.shape[1:] == (4,)
        assert (det.boxes_xyxy[:, [0, 2]] <= 320).all() and (det.boxes_xyxy[:, [1, 3]] <= 240).all()
        assert (det.boxes_xyxy >= 0).all() and len(det.scores) == len(det.boxes_xyxy) <= 3
    assert stats.frames_processed == 12


def test_the_runtime_takes_a_crop_at_the_full_frames_scale(detector):
    """A crop handed over with ``imgsz = crop side * S / frame side`` runs, and its boxes are
    in the crop's own pixels."""
    frame = next(tiny_frames(n_frames=1, size=(320, 240), n_animals=1))[0]
    crop = frame[48:176, 64:192]  # 128x128 -> imgsz 64 at the frame's 160
    (whole,) = detector.predict([frame], imgsz=160, conf=0.001, iou=0.7, max_det=5, batch_size=1)
    (part,) = detector.predict([crop], imgsz=64, conf=0.001, iou=0.7, max_det=5, batch_size=1)
    assert whole.boxes_xywh.shape[1:] == part.boxes_xywh.shape[1:] == (4,)
    if len(part.boxes_xywh):
        assert (part.boxes_xywh[:, :2] >= -1).all()
        assert (part.boxes_xywh[:, 0] + part.boxes_xywh[:, 2] <= 129).all()


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_a_static_onnx_model_tracks_whole_frames_only(tiny_weights, tmp_path):
    """Its input is fixed: a window would be letterboxed up to it, so cropping is turned off
    and every frame gives what the same model gives on the full frame."""
    from training.export import export_onnx
    from training.runtime import Detector

    static = Detector(
        export_onnx(tiny_weights, 160, output=tmp_path / "static.onnx", dynamic=False),
        device="cpu",
    )
    assert static.fixed_input_hw == (160, 160)
    video = make_tiny_video(tmp_path / "v.mp4", n_frames=12, size=(320, 240), n_animals=1)
    params = TrackParams(detect=DetectParams(imgsz=160, conf=0.001, max_det=3), chunk_frames=5)
    assert params.crop.enabled
    stored, stats = detect_video(
        OpenCVSource(video.path), static, n_animals=1, params=params, run_dir=tmp_path / "run"
    )
    assert stats.crop_share == 0 and stats.crop_disabled
    full = static.predict(
        [f.image for f in OpenCVSource(video.path).frames()],
        imgsz=160, conf=0.001, iou=params.detect.iou, max_det=3, batch_size=1,
    )  # fmt: skip
    for det, ref in zip(stored.detections, full, strict=True):
        xyxy = np.concatenate(
            [ref.boxes_xywh[:, :2], ref.boxes_xywh[:, :2] + ref.boxes_xywh[:, 2:]], 1
        )
        np.testing.assert_allclose(
            det.boxes_xyxy, np.clip(xyxy, 0, [320, 240, 320, 240]), atol=1e-3
        )
