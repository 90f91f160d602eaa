"""Check untrusted ``.pt`` files in a child process with a time and memory limit.

A ``.pt`` file is a pickle. ``training.checkpoints.load_checkpoint_check`` loads it with
Ultralytics' restricted unpickler, which removes the known code-execution route but not every
risk (unpickler bugs, a huge or deeply nested file). So the web process never loads an
uploaded checkpoint itself: it runs the check here, in a child with an address-space and CPU
limit, and gets a JSON answer back. The child also keeps torch and Ultralytics (about a
gigabyte of memory) out of the web server.

Pure module: no Django import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMEOUT_S = 180.0
DEFAULT_MEMORY_LIMIT_BYTES = 6 * 1024**3


class CheckpointRejected(ValueError):
    """The file is not a usable Ultralytics detection checkpoint (message says why)."""


class WeightsUnavailable(FileNotFoundError):
    """Named official weights are not installed on this machine (nothing is downloaded)."""


@dataclass(frozen=True)
class CheckpointSummary:
    """What a checkpoint says about itself (see ``checkpoints.CheckpointInfo``)."""

    class_names: list[str]
    architecture: str  # model YAML it was built from, e.g. "yolo11n.yaml"
    parameters: int
    imgsz: int | None  # as trained, when recorded
    ultralytics_version: str
    path: str  # the file checked (for official names: where it was found)


def probe_checkpoint(
    path: Path,
    *,
    var_dir: Path,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
) -> CheckpointSummary:
    """Check the local file ``path``; raise :class:`CheckpointRejected` if unusable."""
    return _run(["file", str(path), str(var_dir)], timeout_s, memory_limit_bytes)


def probe_onnx(
    path: Path,
    *,
    var_dir: Path,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
) -> CheckpointSummary:
    """Check an ``.onnx`` detector (opened by ONNX Runtime in the limited child): one image
    input of 3 channels and an output of shape (batch, 4 + classes, anchors)."""
    return _run(["onnx", str(path), str(var_dir)], timeout_s, memory_limit_bytes)


def _onnx_summary(path: Path) -> dict[str, Any]:
    import ast

    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... errors
        return {"ok": False, "kind": "invalid", "error": f"not a readable ONNX model ({exc})"[:500]}
    inputs, outputs = session.get_inputs(), session.get_outputs()
    shape = inputs[0].shape if len(inputs) == 1 else []
    if len(shape) != 4 or shape[1] != 3 or not outputs or len(outputs[0].shape) != 3:
        return {
            "ok": False,
            "kind": "invalid",
            "error": "not a YOLO detector export: expected one (batch, 3, height, width) input "
            "and a (batch, 4 + classes, anchors) output",
        }
    meta = session.get_modelmeta().custom_metadata_map
    try:
        names = ast.literal_eval(meta.get("names", "{}"))
    except (ValueError, SyntaxError):
        names = {}
    channels = outputs[0].shape[1]
    classes = int(channels) - 4 if isinstance(channels, int) else len(names)
    class_names = [str(names.get(i, f"class{i}")) for i in range(max(classes, 0))]
    if not class_names:
        return {"ok": False, "kind": "invalid", "error": "the model has no classes"}
    imgsz = shape[2] if isinstance(shape[2], int) else None
    return {
        "ok": True,
        "summary": {
            "class_names": class_names,
            "architecture": "onnx",
            "parameters": 0,
            "imgsz": imgsz,
            "ultralytics_version": meta.get("version", ""),
            "path": str(path),
        },
    }


def probe_official_weights(
    name: str,
    *,
    var_dir: Path,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
) -> CheckpointSummary:
    """Find official weights such as ``yolo11n.pt`` in the offline weights folder and check
    them; :class:`WeightsUnavailable` when they are not there (never downloaded)."""
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".pt"):
        raise CheckpointRejected("Official weights are named by a file name ending in .pt")
    return _run(["official", name, str(var_dir)], timeout_s, memory_limit_bytes)


def _limits(memory_limit_bytes: int, cpu_limit_s: int):
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit_s, cpu_limit_s + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _run(args: list[str], timeout_s: float, memory_limit_bytes: int) -> CheckpointSummary:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": os.environ.get("HOME", "/tmp"),
        # Thread pools and malloc arenas reserve address space per thread: keep them few so
        # the RLIMIT_AS budget goes to the checkpoint.
        "MALLOC_ARENA_MAX": "2",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",  # loading a checkpoint never needs a GPU
    }
    cmd = [sys.executable, "-I", str(Path(__file__).resolve()), *args]
    try:
        proc = subprocess.run(
            cmd,
            env=env,
            capture_output=True,
            timeout=timeout_s,
            preexec_fn=_limits(memory_limit_bytes, int(timeout_s) + 1),
            cwd=str(REPO_ROOT),
        )
    except subprocess.TimeoutExpired:
        raise CheckpointRejected(
            f"Checking the checkpoint took longer than {timeout_s:.0f} s; it was refused."
        ) from None
    lines = [ln for ln in proc.stdout.decode("utf-8", "replace").splitlines() if ln.strip()]
    try:
        answer = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise CheckpointRejected(
            "The checkpoint could not be checked (the checking process ended with code "
            f"{proc.returncode}; too large or malformed?) {tail[0][:200]}".rstrip()
        ) from None
    if answer.get("ok"):
        return CheckpointSummary(**answer["summary"])
    if answer.get("kind") == "unavailable":
        raise WeightsUnavailable(answer["error"])
    raise CheckpointRejected(answer.get("error") or "not a usable checkpoint")


def _child(mode: str, target: str, var_dir: str) -> dict[str, Any]:
    sys.path.insert(0, str(REPO_ROOT))
    from training import checkpoints
    from training.ultralytics_setup import configure_offline

    configure_offline(Path(var_dir))
    if mode == "onnx":
        return _onnx_summary(Path(target))
    try:
        if mode == "official":
            try:
                path = checkpoints.resolve_start_weights(target)
            except checkpoints.OfflineWeightsError:
                return {
                    "ok": False,
                    "kind": "unavailable",
                    "error": f"{target} is not installed on this server and nothing is "
                    "downloaded here (no internet): upload the .pt file, train from scratch, "
                    "or ask an administrator to place it in the Ultralytics weights folder.",
                }
        else:
            path = Path(target)
        info = checkpoints.load_checkpoint_check(path)
    except checkpoints.CheckpointError as exc:
        return {"ok": False, "kind": "invalid", "error": str(exc)}
    imgsz = info.train_args.get("imgsz")
    return {
        "ok": True,
        "summary": {
            "class_names": info.class_names,
            "architecture": info.architecture,
            "parameters": info.parameters,
            "imgsz": imgsz if isinstance(imgsz, int) else None,
            "ultralytics_version": info.ultralytics_version,
            "path": str(path),
        },
    }


if __name__ == "__main__":
    # The answer is the last line of stdout; anything a library prints goes before it.
    result = _child(*sys.argv[1:4])
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()
