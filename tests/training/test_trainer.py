"""training.trainer against real Ultralytics on CPU, with a tiny synthetic dataset, offline.

Every test here runs with outgoing network connections and DNS lookups replaced by failures
that are recorded: whatever Ultralytics does, it must not try to reach the network.
The module trains YOLO11n at 96 px on 8 images a few times (about a second an epoch).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from training import checkpoints, export, runtime, trainer, ultralytics_setup
from training.presets import PRESETS, HyperparameterError, Hyperparameters

pytestmark = pytest.mark.slow

IMGSZ = 96
HP = Hyperparameters(epochs=2, imgsz=IMGSZ, batch=4, workers=0, device="cpu", augment=False)


# --- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def network_attempts() -> Iterator[list[str]]:
    """Fail and record every internet connection or DNS lookup made while the module runs."""
    attempts: list[str] = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(f"connect {address}")
            raise OSError("network disabled in tests")
        return real_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        attempts.append(f"getaddrinfo {host}")
        raise socket.gaierror("network disabled in tests")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket, "getaddrinfo", getaddrinfo)
        yield attempts
    assert attempts == [], f"Ultralytics tried to reach the network: {attempts}"


@pytest.fixture(scope="module")
def offline(tmp_path_factory, network_attempts) -> ultralytics_setup.OfflineConfig:
    # Ultralytics fixes its config directory at first import, so share the test run's var/
    # with every other test that trains (a fresh temp dir only without Django).
    var_dir = os.environ.get("MOUSETRACK_VAR_DIR") or tmp_path_factory.mktemp("var")
    return ultralytics_setup.configure_offline(Path(var_dir))


def make_dataset(root: Path, names: list[str], seed: int = 0) -> Path:
    """8 train + 4 val images, 128x96: dark ellipses ("mice") on a noisy light floor."""
    import cv2

    rng = np.random.default_rng(seed)
    w, h = 128, 96
    for split, count in (("train", 8), ("val", 4)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(count):
            img = np.full((h, w, 3), 215, np.uint8) + rng.integers(0, 20, (h, w, 1), np.uint8)
            lines = []
            for cls in range(len(names)):
                ax, ay = int(rng.integers(14, 22)), int(rng.integers(8, 12))
                cx, cy = (
                    int(rng.integers(ax + 2, w - ax - 2)),
                    int(rng.integers(ay + 2, h - ay - 2)),
                )
                cv2.ellipse(img, (cx, cy), (ax, ay), 0, 0, 360, (35 + 40 * cls,) * 3, -1)
                lines.append(f"{cls} {cx / w:.6f} {cy / h:.6f} {2 * ax / w:.6f} {2 * ay / h:.6f}")
            cv2.imwrite(str(root / "images" / split / f"{i}.png"), img)
            (root / "labels" / split / f"{i}.txt").write_text("\n".join(lines) + "\n")
    names_yaml = "".join(f"  {i}: {n}\n" for i, n in enumerate(names))
    data = root / "data.yaml"
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names_yaml}")
    return data


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("mice"), ["mouse"])


@pytest.fixture(scope="module")
def trained(offline, dataset, tmp_path_factory):
    """Two epochs of YOLO11n from scratch, with plots on (they need fonts Ultralytics downloads)."""
    return _train(dataset, tmp_path_factory.mktemp("run"), should_stop=lambda: False, plots=True)


def _train(dataset: Path, project_dir: Path, **kwargs):
    reports: list[trainer.EpochReport] = []
    kwargs.setdefault("preset_or_model", "yolo11n")
    kwargs.setdefault("hyperparameters", HP)
    result = trainer.train(
        data_yaml=dataset, project_dir=project_dir, on_epoch_end=reports.append, **kwargs
    )
    return result, reports


# --- offline setup ----------------------------------------------------------------------------
def test_configure_offline_turns_off_everything_that_phones_home(offline):
    assert os.environ["YOLO_OFFLINE"] == "1"
    assert os.environ["YOLO_AUTOINSTALL"] == "0"
    assert "ULTRALYTICS_API_KEY" not in os.environ
    settings = json.loads((offline.config_dir / "settings.json").read_text())
    assert settings["sync"] is False
    assert not any(settings[k] for k in ("clearml", "comet", "dvc", "mlflow", "wandb"))
    assert settings["weights_dir"] == str(offline.weights_dir)
    assert (offline.config_dir / "Arial.ttf").stat().st_size > 100_000
    again = ultralytics_setup.configure_offline(offline.config_dir.parent.parent)
    assert again == offline  # idempotent

    import ultralytics.utils
    from ultralytics.utils import checks

    assert ultralytics.utils.WEIGHTS_DIR == offline.weights_dir  # not ./weights from the defaults
    assert checks.check_font("Arial.ttf") == offline.config_dir / "Arial.ttf"
    # A requirement that isn't installed is reported, never pip-installed.
    assert checks.check_requirements("surely-not-installed-package-xyz") is False


def test_offline_hub_name_fails_at_once_without_touching_the_network(
    offline, dataset, tmp_path, network_attempts
):
    with pytest.raises(checkpoints.OfflineWeightsError, match="is not on this machine; upload"):
        checkpoints.resolve_start_weights("yolo11n.pt")
    with pytest.raises(checkpoints.OfflineWeightsError):
        _train(dataset, tmp_path / "run", preset_or_model="yolo11n.pt")
    assert not (tmp_path / "run" / "weights").exists()

    # Ultralytics' own download paths (hub weights, the AMP check's yolo26n.pt, fonts) refuse too.
    from ultralytics.utils import checks, downloads

    with pytest.raises(ultralytics_setup.OfflineDownloadError):
        downloads.attempt_download_asset("yolo26n.pt")
    with pytest.raises(ultralytics_setup.OfflineDownloadError):
        downloads.attempt_download_asset("some-user/some-release-file.pt")
    assert checks.check_font("NotInstalled.ttf") is None
    assert network_attempts == []


def test_official_weights_placed_in_the_weights_dir_are_found(offline, trained):
    result, _ = trained
    placed = offline.weights_dir / "mouse-base.pt"
    placed.write_bytes(result.best.read_bytes())
    try:
        assert checkpoints.resolve_start_weights("mouse-base.pt") == placed
    finally:
        placed.unlink()


def test_training_needs_configure_offline_first(monkeypatch, dataset, tmp_path):
    monkeypatch.setattr(ultralytics_setup, "_config", None)
    with pytest.raises(RuntimeError, match="configure_offline"):
        _train(dataset, tmp_path)


# --- training ---------------------------------------------------------------------------------
def test_training_reports_every_epoch_and_keeps_best_and_last(trained):
    result, reports = trained
    assert [r.epoch for r in reports] == [1, 2]
    for report in reports:
        assert report.epochs == 2 and not report.partial
        for loss in (report.box_loss, report.cls_loss, report.dfl_loss):
            assert loss is not None and 0.0 <= loss < 100.0
        for metric in (report.precision, report.recall, report.map50, report.map50_95):
            assert metric is not None and 0.0 <= metric <= 1.0
        assert report.epoch_time_s > 0.0
        assert "val/cls_loss" in report.extra
    assert reports[0].eta_s > 0.0 and reports[-1].eta_s == 0.0

    assert result.stopped == "completed"
    assert (result.epochs_done, result.epochs_total) == (2, 2)
    assert result.device == "cpu"
    assert result.class_names == ["mouse"]
    assert result.training_time_s > 0.0
    assert result.resume_checkpoint is None
    assert result.metrics is not None and 0.0 <= result.metrics.map50_95 <= 1.0
    assert result.best.is_file() and result.last.is_file()
    assert (result.save_dir / "results.csv").is_file()
    assert (result.save_dir / "labels.jpg").is_file()  # plotted with the offline font

    info = checkpoints.load_checkpoint_check(result.best)
    assert info.class_names == ["mouse"]
    assert info.architecture == "yolo11n.yaml"
    assert info.train_args["imgsz"] == IMGSZ and info.train_args["optimizer"] == "SGD"
    assert info.train_args["mosaic"] == 0.0  # augment=False reached Ultralytics
    assert not info.resumable  # finished: optimizer stripped


def test_bad_input_is_refused_before_anything_is_written(offline, dataset, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(HyperparameterError, match="epochs"):
        _train(dataset, run, hyperparameters=replace(HP, epochs=0))
    with pytest.raises(ValueError, match="neither a preset"):
        _train(dataset, run, preset_or_model="yolov9-not-a-preset")
    with pytest.raises(ValueError, match="neither a file nor shipped"):
        _train(dataset, run, preset_or_model="yolo99z.yaml")
    with pytest.raises(FileNotFoundError):
        _train(tmp_path / "missing.yaml", run)
    assert not run.exists()


def test_cancel_after_the_first_epoch_keeps_weights_and_resume_finishes(offline, dataset, tmp_path):
    stop = {"now": False}
    hp = replace(HP, epochs=3)

    def on_epoch(report):
        stop["now"] = True  # the user pressed "cancel" while epoch 1 was being reported

    reports: list[trainer.EpochReport] = []
    result = trainer.train(
        data_yaml=dataset,
        preset_or_model="yolo11n",
        hyperparameters=hp,
        project_dir=tmp_path / "run",
        on_epoch_end=lambda r: (reports.append(r), on_epoch(r)),
        should_stop=lambda: stop["now"],
    )
    assert [r.epoch for r in reports] == [1]
    assert result.stopped == "cancelled"
    assert (result.epochs_done, result.epochs_total) == (1, 3)
    assert result.best.is_file() and result.last.is_file()
    checkpoints.load_checkpoint_check(result.best)
    assert result.resume_checkpoint is not None
    info = checkpoints.load_checkpoint_check(result.resume_checkpoint)
    assert info.resumable and info.epoch == 0

    resumed, more = _train(
        dataset, tmp_path / "run", hyperparameters=hp, resume_from=result.resume_checkpoint
    )
    assert [r.epoch for r in more] == [2, 3]
    assert resumed.stopped == "completed"
    assert (resumed.epochs_done, resumed.epochs_total) == (3, 3)
    assert resumed.best.is_file()


def test_cancel_during_an_epoch_stops_after_the_current_batch(offline, dataset, tmp_path):
    result, reports = _train(
        dataset, tmp_path / "run", hyperparameters=replace(HP, epochs=3), should_stop=lambda: True
    )
    assert [(r.epoch, r.partial) for r in reports] == [(1, True)]
    assert result.stopped == "cancelled"
    assert result.best.is_file() and result.last.is_file()
    assert result.resume_checkpoint is not None


def test_resume_refuses_a_finished_checkpoint(offline, dataset, trained, tmp_path):
    result, _ = trained
    with pytest.raises(checkpoints.CheckpointError, match="can't be resumed"):
        _train(dataset, tmp_path / "run", resume_from=result.best)


def test_starting_weights_with_another_class_count_transfer_the_backbone(
    offline, trained, tmp_path
):
    import torch

    result, _ = trained
    two_classes = make_dataset(tmp_path / "data", ["mouse", "pellet"], seed=1)
    # A learning rate of ~0 keeps the transferred weights as they were loaded.
    tuned, reports = _train(
        two_classes,
        tmp_path / "run",
        preset_or_model=result.best,
        hyperparameters=replace(HP, epochs=1, lr0=1e-12),
    )
    assert len(reports) == 1
    assert checkpoints.load_checkpoint_check(tuned.best).class_names == ["mouse", "pellet"]

    def first_conv(path: Path) -> torch.Tensor:
        from ultralytics import YOLO

        return YOLO(str(path)).model.state_dict()["model.0.conv.weight"].float()

    assert torch.allclose(first_conv(result.best), first_conv(tuned.best), atol=1e-3)


# --- checkpoints ------------------------------------------------------------------------------
class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def test_load_checkpoint_check_refuses_what_is_not_a_detection_checkpoint(offline, tmp_path):
    import torch

    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(checkpoints.CheckpointError, match="not a loadable"):
        checkpoints.load_checkpoint_check(junk)

    marker = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.pt"
    torch.save({"model": _Exploit(marker)}, evil)
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.load_checkpoint_check(evil)
    assert not marker.exists()  # the pickle's code never ran

    weights_only = tmp_path / "state_dict.pt"
    torch.save({"conv.weight": torch.zeros(2, 2)}, weights_only)
    with pytest.raises(checkpoints.CheckpointError, match="no Ultralytics model"):
        checkpoints.load_checkpoint_check(weights_only)

    from ultralytics import YOLO

    classifier = tmp_path / "classifier.pt"
    YOLO("yolo11n-cls.yaml").save(classifier)
    with pytest.raises(checkpoints.CheckpointError, match="detection model is needed"):
        checkpoints.load_checkpoint_check(classifier)

    with pytest.raises(checkpoints.CheckpointError, match=".pt"):
        checkpoints.load_checkpoint_check(tmp_path / "model.onnx")
    with pytest.raises(checkpoints.CheckpointError, match="no such file"):
        checkpoints.load_checkpoint_check(tmp_path / "missing.pt")


# --- export, information, inference -----------------------------------------------------------
# torch's legacy ONNX exporter, which Ultralytics uses, warns about itself while tracing.
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_onnx_export_runs_in_onnxruntime_and_matches_the_pt_model(offline, trained, dataset):
    import onnxruntime as ort
    import torch
    from ultralytics import YOLO

    result, _ = trained
    onnx_path = export.export_onnx(result.best, IMGSZ)
    assert onnx_path.suffix == ".onnx" and onnx_path.is_file()

    x = torch.rand(1, 3, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(0))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    model = YOLO(str(result.best)).model.float().eval()
    with torch.no_grad():
        torch_out = model(x)
    torch_out = (torch_out[0] if isinstance(torch_out, list | tuple) else torch_out).numpy()
    assert onnx_out.shape == torch_out.shape == (1, 4 + 1, onnx_out.shape[2])
    np.testing.assert_allclose(onnx_out, torch_out, rtol=1e-3, atol=1e-2)

    images = sorted((dataset.parent / "images" / "val").glob("*.png"))
    from_pt = runtime.Detector(result.best, device="cpu").predict(images, imgsz=IMGSZ, conf=0.001)
    from_onnx = runtime.Detector(onnx_path, device="cpu").predict(images, imgsz=IMGSZ, conf=0.001)
    for a, b in zip(from_pt, from_onnx, strict=True):
        # Compare the best detection: which near-threshold ones survive may differ by rounding.
        assert len(a.scores) and len(b.scores)
        i, j = int(np.argmax(a.scores)), int(np.argmax(b.scores))
        assert a.scores[i] == pytest.approx(b.scores[j], abs=1e-3)
        np.testing.assert_allclose(a.boxes_xywh[i], b.boxes_xywh[j], atol=0.5)


def test_predict_returns_top_left_pixel_boxes_per_image(offline, trained, dataset):
    import cv2

    result, _ = trained
    paths = sorted((dataset.parent / "images" / "val").glob("*.png"))
    images = [cv2.imread(str(paths[0])), paths[1]]
    detections = runtime.predict(result.best, images, imgsz=IMGSZ, conf=0.0, device="cpu")
    assert len(detections) == 2
    for det in detections:
        n = len(det.scores)
        assert det.boxes_xywh.shape == (n, 4) and det.boxes_xywh.dtype == np.float32
        assert det.classes.shape == (n,) and det.classes.dtype == np.int64
        assert det.inference_ms > 0.0 and det.total_ms >= det.inference_ms
        if n:
            x, y, w, h = det.boxes_xywh.T
            assert (w >= 0).all() and (h >= 0).all()
            assert (x >= -0.5).all() and (x + w <= 128.5).all()  # clipped to the 128x96 image
            assert (y >= -0.5).all() and (y + h <= 96.5).all()
            assert ((det.scores >= 0) & (det.scores <= 1)).all()
    with pytest.raises(ValueError, match="Cannot read"):
        runtime.predict(result.best, [dataset.parent / "missing.png"], device="cpu")


def test_model_info_counts_parameters_and_gflops(offline, trained):
    result, _ = trained
    params, gflops = export.model_info(result.best)
    assert 2_000_000 < params < 3_000_000 and gflops > 1.0
    for key in ("yolov3-tiny", "yolo11n", "yolo26n"):
        info = export.model_info(PRESETS[key].model_yaml)
        assert info.parameters > 1_000_000 and info.gflops > 1.0
    with pytest.raises(ValueError, match="neither a file nor shipped"):
        export.model_info("yolo99z.yaml")


def test_configure_offline_gives_pillow_its_own_open_back(offline, tmp_path):
    """An unreadable upload stays UnidentifiedImageError in a process that imported Ultralytics
    (its wrapper would try to pip-install pi-heif)."""
    from PIL import Image, UnidentifiedImageError

    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image at all" * 10)
    assert Image.open.__module__ == "PIL.Image"
    with pytest.raises(UnidentifiedImageError):
        Image.open(junk)


def test_reported_losses_are_the_figures_of_results_csv(trained):
    """The job page's losses are Ultralytics' own epoch figures (the running mean of the
    batches' loss items, as results.csv writes them): no unit or averaging difference
    between the progress callback and the CSV explains a jump between epochs (issue 21)."""
    import csv

    result, reports = trained
    with (result.save_dir / "results.csv").open() as f:
        rows = [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(f)]
    assert [int(r["epoch"]) for r in rows] == [r.epoch for r in reports]
    for row, report in zip(rows, reports, strict=True):
        for name in ("box_loss", "cls_loss", "dfl_loss"):
            assert getattr(report, name) == pytest.approx(float(row[f"train/{name}"]), abs=1e-5)


def test_training_images_are_kept_in_memory_and_runs_repeat(offline, dataset, trained, tmp_path):
    """The RAM image cache is on by default; with it, the same seed gives the same training."""
    result, _ = trained
    assert result.images_in_memory is True
    assert checkpoints.load_checkpoint_check(result.best).train_args["cache"] == "ram"
    assert not any("non-deterministic" in w for w in result.warnings)

    augmented = replace(HP, epochs=1, augment=True)
    runs = [
        _train(dataset, tmp_path / name, hyperparameters=augmented, should_stop=lambda: False)
        for name in ("one", "two")
    ]
    assert all(run.images_in_memory is True for run, _ in runs)
    (_, first), (_, second) = runs
    assert [(r.box_loss, r.cls_loss, r.dfl_loss, r.map50_95) for r in first] == [
        (r.box_loss, r.cls_loss, r.dfl_loss, r.map50_95) for r in second
    ]

    from_disk, _ = _train(
        dataset, tmp_path / "disk", hyperparameters=replace(HP, epochs=1, cache_images=False)
    )
    assert from_disk.images_in_memory is False
    assert checkpoints.load_checkpoint_check(from_disk.best).train_args["cache"] is False
