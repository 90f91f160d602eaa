"""Ultralytics' set-up for this project: offline, fonts, no downloads, Pillow, threads, memory.

``configure_offline(var_dir)`` must run once per process before anything imports Ultralytics
(it sets the environment Ultralytics reads at import time). The modules that use Ultralytics
(:mod:`training.trainer`, :mod:`training.checkpoints`, :mod:`training.export`,
:mod:`training.runtime`) import it lazily, inside functions, and call
:func:`require_offline` first. No Django import.

Offline: the deployment has no internet. Ultralytics otherwise downloads fonts (Arial.ttf for
plots and dataset checks), weights (hub names such as ``yolo11n.pt``, the ``yolo26n.pt`` its AMP
check loads on CUDA), pip packages (``check_requirements`` auto-install) and pings PyPI, GitHub,
Google Analytics and its Platform. ``configure_offline`` switches all of these off; whatever
still tries to download fails at once with ``OfflineDownloadError`` instead of waiting on a
network timeout.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class OfflineDownloadError(ConnectionError):
    """Ultralytics tried to download something; this installation never does.

    A ``ConnectionError`` on purpose: Ultralytics' own fallbacks (e.g. the AMP check on CUDA,
    which then keeps AMP on) catch exactly that.
    """


@dataclass(frozen=True)
class OfflineConfig:
    """Where Ultralytics keeps its files once ``configure_offline`` ran.

    ``config_dir`` holds settings.json and the fonts; ``weights_dir`` is where an administrator
    may put official ``.pt`` files (``yolo11n.pt``...) so that they can be named as starting
    weights without a download.
    """

    config_dir: Path
    weights_dir: Path
    datasets_dir: Path
    runs_dir: Path


_config: OfflineConfig | None = None
_config_lock = threading.Lock()


def configure_offline(var_dir: Path) -> OfflineConfig:
    """Make Ultralytics work without network access; call once per process before anything else.

    Sets, before the first Ultralytics import (it reads them at import time):
    ``YOLO_CONFIG_DIR=<var_dir>/ultralytics`` (settings.json, fonts), ``YOLO_OFFLINE=1`` (no DNS
    probe at import, no pip "AutoUpdate", no PyPI version check), ``YOLO_AUTOINSTALL=0`` (never
    ``pip install``), ``YOLO_VERBOSE=0`` (no progress bars), ``ULTRALYTICS_SAFE_LOAD=1``
    (checkpoints are unpickled with ``weights_only=True`` against an allow-list), and removes
    ``ULTRALYTICS_API_KEY`` (no Platform streaming); ``OMP_WAIT_POLICY=PASSIVE`` unless set
    (only if torch is not loaded yet). Then it turns off the settings that phone
    home (``sync`` = usage events, experiment loggers, Platform key), points the datasets,
    weights and runs directories under ``var_dir``, copies matplotlib's DejaVu Sans as
    ``Arial.ttf``/``Arial.Unicode.ttf`` into the config directory (Ultralytics' dataset check and
    plots want these fonts and would download them), and makes Ultralytics' download functions
    raise ``OfflineDownloadError`` immediately.

    Idempotent. If Ultralytics was imported before this call, its config directory can no longer
    move (a warning is logged) but every other switch still takes effect.
    """
    global _config
    with _config_lock:
        root = Path(var_dir).resolve() / "ultralytics"
        config = OfflineConfig(
            config_dir=root / "Ultralytics",  # Ultralytics appends this name to YOLO_CONFIG_DIR
            weights_dir=root / "weights",
            datasets_dir=root / "datasets",
            runs_dir=root / "runs",
        )
        if _config == config:
            return config
        for path in (config.config_dir, config.weights_dir, config.datasets_dir, config.runs_dir):
            path.mkdir(parents=True, exist_ok=True)

        imported_before = "ultralytics" in sys.modules
        os.environ["YOLO_CONFIG_DIR"] = str(root)
        os.environ["YOLO_OFFLINE"] = "1"
        os.environ["YOLO_AUTOINSTALL"] = "0"
        os.environ["YOLO_VERBOSE"] = "0"
        os.environ["ULTRALYTICS_SAFE_LOAD"] = "1"
        os.environ.pop("ULTRALYTICS_API_KEY", None)
        # torch's OpenMP threads sleep when idle instead of spinning. A worker shares its
        # cores (video decoding, other workers); with spinning, 2 training threads on a busy
        # 2-core machine ran 8-10x slower than 1, with sleeping about as fast. Read when
        # torch loads, so it must be set before that; an explicit value is kept.
        if "torch" not in sys.modules:
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

        import ultralytics.data.utils as ul_data_utils
        import ultralytics.utils as ul_utils
        import ultralytics.utils.checks as ul_checks
        import ultralytics.utils.downloads as ul_downloads
        import ultralytics.utils.events as ul_events

        if imported_before and Path(ul_utils.USER_CONFIG_DIR) != config.config_dir:
            log.warning(
                "Ultralytics was imported before configure_offline(); its settings stay in %s",
                ul_utils.USER_CONFIG_DIR,
            )
        # Constants Ultralytics computed at import; set them too in case it was imported first.
        ul_utils.ONLINE = ul_checks.ONLINE = ul_events.ONLINE = False
        ul_utils.AUTOINSTALL = ul_checks.AUTOINSTALL = False
        ul_utils.SAFE_LOAD = True
        with contextlib.suppress(ImportError, AttributeError):
            import ultralytics.nn.tasks as ul_tasks

            ul_tasks.SAFE_LOAD = True
        ul_events.events.enabled = False
        ul_utils.SETTINGS.update(
            sync=False,
            api_key="",
            clearml=False,
            comet=False,
            dvc=False,
            mlflow=False,
            raytune=False,
            tensorboard=False,
            wandb=False,
            vscode_msg=False,
            openvino_msg=False,
            datasets_dir=str(config.datasets_dir),
            weights_dir=str(config.weights_dir),
            runs_dir=str(config.runs_dir),
        )
        # Copies of those settings taken at import (from the defaults, on a first run).
        ul_utils.DATASETS_DIR = ul_data_utils.DATASETS_DIR = config.datasets_dir
        ul_utils.WEIGHTS_DIR = config.weights_dir  # where the CUDA AMP check looks for yolo26n.pt
        ul_utils.RUNS_DIR = config.runs_dir
        # Warnings stay visible (and are collected into TrainResult.warnings); INFO chatter and
        # progress bars (shown only at INFO) do not.
        ul_utils.LOGGER.setLevel(logging.WARNING)
        _install_fonts(Path(ul_checks.USER_CONFIG_DIR))
        _block_downloads(ul_downloads, ul_data_utils)
        _restore_pillow_open()
        _config = config
        return config


def _install_fonts(font_dir: Path) -> None:
    """Provide the fonts ``ultralytics.utils.checks.check_font`` would download."""
    import matplotlib

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):  # DejaVu covers far more than Latin-1
        target = font_dir / name
        if not target.exists():
            tmp = target.with_suffix(".tmp")
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)  # never a half-written font for a concurrent process


def _block_downloads(ul_downloads: Any, ul_data_utils: Any) -> None:
    """Replace Ultralytics' download entry points with ones that fail at once.

    ``YOLO_OFFLINE`` alone is not enough: ``safe_download`` always makes one network attempt
    first (30 s connect timeout) and looks at the offline flag only after it failed.
    ``attempt_download_asset``, ``download`` and ``check_font`` all go through these names.
    """
    if getattr(ul_downloads.safe_download, "_offline_blocked", False):
        return
    original_is_url = ul_downloads.is_url

    def refuse_download(url: Any = "", *args: Any, **kwargs: Any) -> Path:
        url = kwargs.get("url", url)
        raise OfflineDownloadError(
            f"Ultralytics tried to download {url}; this installation works offline. Put the file "
            "on this machine (weights: upload the .pt file) instead."
        )

    def refuse_assets(repo: str = "", *args: Any, **kwargs: Any) -> tuple[str, list[str]]:
        raise OfflineDownloadError(
            f"Ultralytics tried to list the GitHub releases of {repo}; offline."
        )

    def is_url_offline(url: Any, check: bool = False) -> bool:
        return False if check else original_is_url(url)  # check=True would send a HEAD request

    for fn in (refuse_download, refuse_assets, is_url_offline):
        fn._offline_blocked = True  # type: ignore[attr-defined]
    ul_downloads.safe_download = refuse_download
    ul_downloads.get_github_assets = refuse_assets
    ul_downloads.is_url = is_url_offline
    ul_data_utils.safe_download = refuse_download  # imported by name there


def _restore_pillow_open() -> None:
    """Undo Ultralytics' wrapper around ``PIL.Image.open``.

    On the first file Pillow cannot identify, the wrapper runs ``check_requirements("pi-heif")``
    (a pip install, or a ModuleNotFoundError offline) and retries. Every process that trains
    or evaluates also opens uploaded images, and an unreadable upload must stay a plain
    ``UnidentifiedImageError``; HEIC input is not supported anyway.
    """
    import ultralytics.utils.patches as ul_patches
    from PIL import Image

    original = getattr(ul_patches, "_image_open", None)
    if callable(original):
        Image.open = original


def release_memory() -> None:
    """Free what a finished or interrupted run left on the GPU before the worker's next job."""
    import gc

    gc.collect()
    torch = sys.modules.get("torch")
    with contextlib.suppress(Exception):
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()


def require_offline() -> OfflineConfig:
    """The configuration ``configure_offline`` made; raise ``RuntimeError`` if it never ran."""
    if _config is None:
        raise RuntimeError(
            "Call training.ultralytics_setup.configure_offline(var_dir) before using "
            "Ultralytics (it must never reach the network)."
        )
    return _config


def default_cpu_threads() -> int:
    """The CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no sched_getaffinity (macOS)
        return max(1, os.cpu_count() or 1)


def set_cpu_threads(threads: int) -> int:
    """Let torch (and so Ultralytics' training and inference) use ``threads`` CPU threads.

    Ultralytics caps torch at ``cpu_count - 1`` threads: ``select_device`` (called by its
    trainer, validator, predictor and exporter) runs ``torch.set_num_threads(NUM_THREADS)``
    with ``ultralytics.utils.NUM_THREADS = min(8, cpu_count - 1)``, and importing
    ``ultralytics`` sets ``OMP_NUM_THREADS=1`` when unset. On a 2-core worker that is one
    core. This sets torch's intra-op threads now and the copy of ``NUM_THREADS`` that
    ``select_device`` reads, so the value survives Ultralytics' later resets. Process-wide;
    call after ``configure_offline``. Returns ``threads``.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    require_offline()
    import torch
    import ultralytics.utils.torch_utils as ul_torch_utils

    ul_torch_utils.NUM_THREADS = threads
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def strip_ansi(text: str) -> str:
    """Ultralytics' message without its terminal colour codes."""
    return _ANSI.sub("", text)
