"""The JSON sidecar of an export: what produced it, with which settings, how far to trust it.

Everything is taken as arguments (the engine knows no database). NaN/inf become ``null`` so
that the file is strict JSON.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, TextIO

SIDECAR_FORMAT = "mousetrack.sidecar/1"


def sidecar(
    *,
    model_name: str,
    model_sha256: str,
    video_name: str,
    video_sha256: str,
    parameters: dict[str, Any],
    app_version: str,
    trust: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The sidecar as a dict (``extra``: anything more, e.g. edits, the run's id)."""
    data = {
        "format": SIDECAR_FORMAT,
        "app_version": app_version,
        "model": {"name": model_name, "sha256": model_sha256},
        "video": {"name": video_name, "sha256": video_sha256},
        "parameters": parameters,
        "trust": trust,
    }
    if extra:
        data.update(extra)
    return _strict(data)


def write_sidecar(dest: str | Path | TextIO, **fields: Any) -> dict[str, Any]:
    """Write :func:`sidecar` (same keyword arguments) as indented JSON; return the dict."""
    data = sidecar(**fields)
    text = json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n"
    if isinstance(dest, str | Path):
        Path(dest).write_text(text, encoding="utf-8")
    else:
        dest.write(text)
    return data


def _strict(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # NumPy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
