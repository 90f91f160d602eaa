"""CPU threads as a worker setting: MOUSETRACK_CPU_THREADS reaches torch, after Ultralytics'
own resets, in a child process (the count is process-wide). No time is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from training.ultralytics_setup import configure_offline, default_cpu_threads, set_cpu_threads


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    var_dir = os.environ.get("MOUSETRACK_VAR_DIR") or tmp_path_factory.mktemp("var")
    return configure_offline(Path(var_dir))


def test_cpu_threads_must_be_a_positive_integer(offline):
    for bad in (0, -2, 1.5, True, "4"):
        with pytest.raises(ValueError, match="threads"):
            set_cpu_threads(bad)
    assert default_cpu_threads() == len(os.sched_getaffinity(0))


CHILD = """
import json, os
from pathlib import Path

import django

os.environ["DJANGO_SETTINGS_MODULE"] = "webapp.settings"
django.setup()
from django.conf import settings

from training.ultralytics_setup import configure_offline, set_cpu_threads

configure_offline(Path(os.environ["VAR"]))
import torch
from ultralytics.utils import torch_utils

torch_utils.select_device("cpu", verbose=False)  # what Ultralytics' trainer and predictor do
ultralytics_default = torch.get_num_threads()
set_cpu_threads(settings.CPU_THREADS)  # what the worker does before training or inference
torch_utils.select_device("cpu", verbose=False)
print(json.dumps({
    "setting": settings.CPU_THREADS,
    "ultralytics_default": ultralytics_default,
    "torch": torch.get_num_threads(),
    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
}))
"""


def _child(tmp_path: Path, **env: str) -> dict:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MOUSETRACK_CPU_THREADS", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")
    }
    result = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=REPO_ROOT,
        env={**clean, "VAR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_setting_reaches_torch_after_ultralytics_reset_its_threads(tmp_path):
    """MOUSETRACK_CPU_THREADS -> settings.CPU_THREADS -> torch, and it stays after
    Ultralytics' select_device (called by its trainer, validator and predictor) ran."""
    child = _child(tmp_path, MOUSETRACK_CPU_THREADS="3")
    assert child["setting"] == child["torch"] == 3
    # Ultralytics' own choice, the cap the setting lifts: cpu_count - 1 (1 on 2 cores).
    assert child["ultralytics_default"] == max(1, min(8, (os.cpu_count() or 1) - 1))
    assert child["omp_wait_policy"] == "PASSIVE"


def test_the_default_is_every_core_the_process_may_use(tmp_path):
    child = _child(tmp_path)
    assert child["setting"] == child["torch"] == len(os.sched_getaffinity(0))
