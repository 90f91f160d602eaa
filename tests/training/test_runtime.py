"""training.runtime: the Detector's backends give Ultralytics' own boxes, fast, on set threads.

Pure tests compare the letterbox, box rescaling and NMS with Ultralytics' functions on random
data. The rest trains YOLO11n for two epochs on frames of the real open-field video (skipped
without it) and compares each backend with ``YOLO(pt).predict(frame, imgsz=320)``, one frame
at a time, the loop a user would write. Thread settings are checked in child processes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from evaluation.matching import iou_matrix
from tests.conftest import OPENFIELD_VIDEO
from training import runtime, yolo_ops
from training.checkpoints import CheckpointError
from training.export import export_onnx
from training.presets import Hyperparameters
from training.ultralytics_setup import configure_offline

IMGSZ = 320
MATCH_IOU = 0.99


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    var_dir = os.environ.get("MOUSETRACK_VAR_DIR") or tmp_path_factory.mktemp("var")
    return configure_offline(Path(var_dir))


# --- pure: Ultralytics' arithmetic, reproduced ------------------------------------------------
SHAPES = [(480, 640), (256, 320), (200, 300), (97, 131), (640, 480), (31, 700), (1, 50)]


@pytest.mark.parametrize("hw", SHAPES)
@pytest.mark.parametrize("auto", [True, False])
def test_letterbox_is_pixel_for_pixel_ultralytics(offline, hw, auto):
    from ultralytics.data.augment import LetterBox

    rng = np.random.default_rng(sum(hw))
    image = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
    plan = yolo_ops.letterbox_plan(hw, (IMGSZ, IMGSZ), stride=32, auto=auto)
    ours = yolo_ops.letterbox(image, plan)
    theirs = LetterBox((IMGSZ, IMGSZ), auto=auto, stride=32)(image=image)
    assert ours.shape == theirs.shape == (*plan.input_hw, 3)
    np.testing.assert_array_equal(ours, theirs)


def test_a_640x480_frame_is_letterboxed_to_320x256_at_320():
    plan = yolo_ops.letterbox_plan((480, 640), (320, 320), stride=32, auto=True)
    assert plan.input_hw == (256, 320) and plan.resized_wh == (320, 240)
    assert (plan.top, plan.bottom, plan.left, plan.right) == (8, 8, 0, 0)
    assert yolo_ops.network_size(300, 32) == 320 and yolo_ops.network_size(320, 32) == 320


@pytest.mark.parametrize("hw", SHAPES)
def test_boxes_go_back_to_image_pixels_as_ultralytics_scale_boxes(offline, hw):
    import torch
    from ultralytics.utils.ops import scale_boxes

    plan = yolo_ops.letterbox_plan(hw, (IMGSZ, IMGSZ), stride=32, auto=True)
    rng = np.random.default_rng(1)
    h1, w1 = plan.input_hw
    xy = rng.uniform(-20, [w1, h1], (50, 2))
    xyxy = np.concatenate([xy, xy + rng.uniform(0, 200, (50, 2))], 1).astype(np.float32)
    theirs = scale_boxes(plan.input_hw, torch.from_numpy(xyxy.copy()), hw).numpy()
    ours = yolo_ops.boxes_to_image(xyxy.copy(), plan)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)


@pytest.mark.parametrize("nc", [1, 3])
@pytest.mark.parametrize(("conf", "iou"), [(0.001, 0.7), (0.25, 0.45), (0.6, 0.2)])
def test_nms_keeps_what_ultralytics_keeps(offline, nc, conf, iou):
    import torch
    import torchvision  # noqa: F401  (Ultralytics uses torchvision's NMS once it is imported)
    from ultralytics.utils.nms import non_max_suppression

    g = torch.Generator().manual_seed(nc)
    batch, anchors = 3, 1680
    centers = torch.rand(batch, 2, anchors, generator=g) * 320
    sizes = torch.rand(batch, 2, anchors, generator=g) * 60 + 2
    scores = torch.rand(batch, nc, anchors, generator=g) ** 3
    prediction = torch.cat([centers, sizes, scores], 1)
    theirs = non_max_suppression(prediction.clone(), conf, iou, max_det=300, nc=nc)
    ours = yolo_ops.non_max_suppression(prediction.clone(), conf=conf, iou=iou, max_det=300, nc=nc)
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_devices_resolve_to_torch_names_and_missing_gpus_are_refused(offline):
    import torch

    assert runtime.resolve_device("cpu") == "cpu"
    assert runtime.resolve_device("auto") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    for bad in ("tpu", "cuda:x", "-1"):
        with pytest.raises(ValueError, match="device"):
            runtime.resolve_device(bad)
    if not torch.cuda.is_available():
        for missing in ("0", "cuda", "cuda:1"):
            with pytest.raises(ValueError, match="GPUs"):
                runtime.resolve_device(missing)
    assert runtime.device_name("cpu").startswith("CPU")


# --- on the real video ------------------------------------------------------------------------
def _frames(indices: list[int]) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(OPENFIELD_VIDEO))
    frames = []
    for index in indices:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        assert ok
        frames.append(frame)
    cap.release()
    return frames


def _train_on_video(root: Path) -> tuple[Path, tuple[int, ...]]:
    """YOLO11n, 2 epochs at 128 px on 12 frames of the video labeled by their darkest blob,
    trained with 2 CPU threads; returns the weights and torch's thread count in each epoch."""
    import cv2
    import torch

    from training import trainer

    frames = _frames(list(range(0, 2300, 190)))
    background = np.median(np.stack([f[..., 1] for f in frames]), axis=0).astype(np.uint8)
    for i, frame in enumerate(frames):
        split = "val" if i % 4 == 0 else "train"
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        dark = (cv2.subtract(background, frame[..., 1]) >= 50).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(dark)
        x, y, w, h = (300, 220, 40, 40)  # nothing dark enough: any box will do
        if count > 1:
            x, y, w, h = stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])), :4]
        cv2.imwrite(str(root / "images" / split / f"{i}.jpg"), frame)
        (root / "labels" / split / f"{i}.txt").write_text(
            f"0 {(x + w / 2) / 640:.6f} {(y + h / 2) / 480:.6f} {w / 640:.6f} {h / 480:.6f}\n"
        )
    (root / "data.yaml").write_text(
        f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n  0: mouse\n"
    )
    threads: list[int] = []
    result = trainer.train(
        data_yaml=root / "data.yaml",
        preset_or_model="yolo11n",
        hyperparameters=Hyperparameters(
            epochs=2, imgsz=128, batch=4, workers=0, device="cpu", augment=False
        ),
        project_dir=root / "run",
        on_epoch_end=lambda report: threads.append(torch.get_num_threads()),
        threads=2,
    )
    return result.best, tuple(threads)


@pytest.fixture(scope="module")
def video_training(offline, tmp_path_factory) -> tuple[Path, tuple[int, ...]]:
    if not OPENFIELD_VIDEO.exists():
        pytest.skip(f"the shared open-field video is absent ({OPENFIELD_VIDEO})")
    return _train_on_video(tmp_path_factory.mktemp("openfield"))


@pytest.fixture(scope="module")
def video_model(video_training) -> Path:
    return video_training[0]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory) -> Path:
    """One export of the video model for the module's tests (the cache test has its own)."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def images(video_model) -> list[np.ndarray]:
    """Whole 640x480 frames and crops of them (the tracking engine's two kinds of input)."""
    frames = _frames([40, 400, 900, 1500, 2200])
    return [
        *frames,
        np.ascontiguousarray(frames[1][100:300, 150:450]),
        np.ascontiguousarray(frames[2][7:104, 33:164]),
        np.ascontiguousarray(frames[3][::2, ::2]),
    ]


@pytest.fixture(scope="module")
def reference(video_model, images):
    """``YOLO(pt).predict(image, imgsz=320, conf=0.001)`` image by image: (xyxy, scores)."""
    from ultralytics import YOLO

    model = YOLO(str(video_model))
    out = []
    for image in images:
        (r,) = model.predict(image, imgsz=IMGSZ, conf=0.001, verbose=False)
        out.append((r.boxes.xyxy.numpy(), r.boxes.conf.numpy()))
    return out


def _xywh(xyxy: np.ndarray) -> np.ndarray:
    return np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], 1)


def _assert_top_boxes_match(reference, detections, top: int = 5) -> None:
    for (xyxy, scores), det in zip(reference, detections, strict=True):
        assert len(scores) >= top, "a weak model still gives boxes at conf 0.001"
        ious = iou_matrix(_xywh(xyxy[:top]), det.boxes_xywh)
        best = ious.argmax(1)
        assert (ious.max(1) >= MATCH_IOU).all(), ious.max(1)
        np.testing.assert_allclose(det.scores[best], scores[:top], atol=2e-3)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_backends_find_ultralytics_own_boxes_on_video_frames_and_crops(
    video_model, images, reference, backend, batch_size, onnx_cache
):
    detector = runtime.Detector(
        video_model, device="cpu", backend=backend, threads=1, onnx_cache_dir=onnx_cache
    )
    detections = detector.predict(images, imgsz=IMGSZ, conf=0.001, batch_size=batch_size)
    _assert_top_boxes_match(reference, detections)
    if backend == "torch":  # the same network on the same input: the very same boxes
        for (xyxy, scores), det in zip(reference, detections, strict=True):
            assert len(det.scores) == len(scores)
            np.testing.assert_allclose(det.boxes_xywh, _xywh(xyxy), atol=1e-3)
            np.testing.assert_allclose(det.scores, scores, atol=1e-6)


@pytest.mark.slow
def test_conf_iou_and_max_det_filter_as_ultralytics_does(video_model, images, onnx_cache):
    from ultralytics import YOLO

    model = YOLO(str(video_model))
    detector = runtime.Detector(
        video_model, device="cpu", backend="onnx", onnx_cache_dir=onnx_cache
    )
    frame = images[1]
    (best,) = model.predict(frame, imgsz=IMGSZ, conf=0.001, verbose=False)
    top = float(best.boxes.conf.max())  # thresholds relative to what this weak model scores
    for conf, iou, max_det in ((top / 10, 0.3, 3), (top / 2, 0.9, 300)):
        (r,) = model.predict(frame, imgsz=IMGSZ, conf=conf, iou=iou, max_det=max_det, verbose=False)
        (det,) = detector.predict([frame], imgsz=IMGSZ, conf=conf, iou=iou, max_det=max_det)
        assert len(det.scores) <= max_det and (det.scores > conf).all()
        assert abs(len(det.scores) - len(r.boxes)) <= 1  # a box at the threshold may flip
        _assert_top_boxes_match([(r.boxes.xyxy.numpy(), r.boxes.conf.numpy())], [det], top=1)


@pytest.mark.slow
def test_detections_carry_pixel_boxes_and_per_image_times(video_model, images, onnx_cache):
    for backend in ("torch", "onnx"):
        detector = runtime.Detector(
            video_model, device="cpu", backend=backend, onnx_cache_dir=onnx_cache
        )
        detections = detector.predict(images, conf=0.001, batch_size=3)
        for image, det in zip(images, detections, strict=True):
            n = len(det.scores)
            assert det.boxes_xywh.shape == (n, 4) and det.boxes_xywh.dtype == np.float32
            assert det.scores.dtype == np.float32 and det.classes.dtype == np.int64
            assert det.inference_ms > 0.0 and det.total_ms >= det.inference_ms
            x, y, w, h = det.boxes_xywh.T
            assert (w >= 0).all() and (h >= 0).all() and (x >= 0).all() and (y >= 0).all()
            assert (x + w <= image.shape[1] + 1e-3).all() and (y + h <= image.shape[0] + 1e-3).all()


@pytest.mark.slow
def test_auto_picks_onnx_runtime_on_the_cpu_and_reports_the_device(video_model, onnx_cache):
    import torch

    detector = runtime.Detector(video_model, onnx_cache_dir=onnx_cache)
    if torch.cuda.is_available():
        assert (detector.backend, detector.device) == ("torch", "cuda:0")
    else:
        assert (detector.backend, detector.device) == ("onnx", "cpu")
        assert detector.device_name.startswith("CPU")
    assert detector.class_names == ["mouse"]
    assert detector.threads == len(os.sched_getaffinity(0))
    torch_detector = runtime.Detector(video_model, device="cpu", backend="torch", threads=1)
    assert (torch_detector.backend, torch_detector.device) == ("torch", "cpu")
    assert torch_detector.weights == video_model


@pytest.mark.slow
def test_onnx_runtime_gets_the_thread_count_it_is_given(video_model, onnx_cache):
    for threads in (1, 2):
        detector = runtime.Detector(
            video_model, device="cpu", backend="onnx", threads=threads, onnx_cache_dir=onnx_cache
        )
        options = detector._engine.session.get_session_options()
        assert options.intra_op_num_threads == threads and detector.threads == threads


@pytest.mark.slow
def test_training_runs_on_the_threads_it_is_given(video_training):
    _, threads_per_epoch = video_training
    assert threads_per_epoch == (2, 2)  # Ultralytics alone: cpu_count - 1


@pytest.mark.slow
def test_a_pt_is_exported_once_into_the_cache_by_sha256(video_model, tmp_path):
    import hashlib

    import onnx

    sha = hashlib.sha256(video_model.read_bytes()).hexdigest()
    first = runtime.Detector(video_model, device="cpu", backend="onnx", onnx_cache_dir=tmp_path)
    assert first.weights == tmp_path / f"{sha}-{runtime.ONNX_CACHE_FORMAT}.onnx"
    assert first.source == video_model
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.weights.name]  # no temp left
    mtime = first.weights.stat().st_mtime_ns
    again = runtime.Detector(video_model, device="cpu", backend="onnx", onnx_cache_dir=tmp_path)
    assert again.weights == first.weights and first.weights.stat().st_mtime_ns == mtime
    dims = onnx.load(str(first.weights)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_a_static_onnx_is_letterboxed_to_its_own_size(video_model, images, tmp_path):
    from ultralytics import YOLO

    static = export_onnx(video_model, IMGSZ, output=tmp_path / "static.onnx", dynamic=False)
    detector = runtime.Detector(static, device="cpu")
    assert (detector.backend, detector.fixed_input_hw) == ("onnx", (IMGSZ, IMGSZ))
    model = YOLO(str(static), task="detect")
    reference = []
    for image in images[:4]:
        (r,) = model.predict(image, imgsz=IMGSZ, conf=0.001, verbose=False)
        reference.append((r.boxes.xyxy.numpy(), r.boxes.conf.numpy()))
    # imgsz is the model's own; batches of a static batch-1 model run one image at a time
    _assert_top_boxes_match(reference, detector.predict(images[:4], imgsz=640, conf=0.001))


@pytest.mark.slow
def test_bad_arguments_are_refused(video_model, tmp_path):
    onnx_path = runtime.onnx_for_checkpoint(video_model, tmp_path)
    with pytest.raises(ValueError, match="onnx"):
        runtime.Detector(onnx_path, backend="torch")
    with pytest.raises(ValueError, match="backend"):
        runtime.Detector(video_model, backend="tensorrt")
    with pytest.raises(ValueError, match="threads"):
        runtime.Detector(video_model, threads=0)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="not a loadable ONNX"):
        runtime.Detector(junk)
    detector = runtime.Detector(video_model, device="cpu", onnx_cache_dir=tmp_path)
    for bad in (np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32)):
        with pytest.raises(ValueError, match="HxWx3 uint8"):
            detector.predict([bad])
    with pytest.raises(ValueError, match="batch_size"):
        detector.predict([np.zeros((10, 10, 3), np.uint8)], batch_size=0)
    assert detector.predict([]) == []
