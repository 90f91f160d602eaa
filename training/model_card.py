"""Model cards: how a registered model was made, as JSON, as Markdown (the download) and as
plain-text sections (``card_outline``, shown as HTML on the model page).

Pure module (no Django import): plain dicts in, a dict or text out. The card is written once,
when the model is registered, and stored with it (``TrainedModel.card``); the Markdown is
rendered from that JSON on request, so both always agree.

Card layout (``CARD_VERSION`` 1)::

    {"card_version": 1,
     "model": {"name", "preset", "preset_label", "preset_description", "seed_paper_model",
               "architecture", "class_names", "imgsz", "parameters", "gflops", "partial",
               "stopped", "metrics": {"precision", "recall", "map50", "map50_95"},
               "files": {"pt": {"sha256", "bytes"}, "onnx": {"sha256", "bytes"} | null},
               "start_weights", "device", "training_time_s", "epochs_trained"},
     "training": {"id", "status", "epochs_planned", "epochs_done", "hyperparameters", ...},
     "dataset": {"id", "name", "content_hash", "classes", "frame_counts", "box_count",
                 "project"},
     "software": {"ultralytics"}, "onnx_error": str}

Metrics are those of the registered weights on the dataset version's validation split.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CARD_VERSION = 1
SEED_PAPER = "Peixoto et al., detection of mice in open-field videos with YOLOv3 (Full and Tiny)"
_METRIC_LABELS = (
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("map50", "mAP@0.5"),
    ("map50_95", "mAP@0.5:0.95"),
)
_HP_LABELS = (
    ("epochs", "Epochs"),
    ("imgsz", "Image size (px)"),
    ("batch", "Batch size"),
    ("lr0", "Initial learning rate (SGD)"),
    ("momentum", "Momentum"),
    ("weight_decay", "Weight decay"),
    ("patience", "Early-stopping patience (epochs)"),
    ("seed", "Random seed"),
    ("augment", "Augmentation"),
    ("cache_images", "Images kept in memory"),
    ("device", "Device requested"),
    ("workers", "Data-loader workers"),
)


def card_build(
    *,
    model: dict[str, Any],
    job: dict[str, Any],
    dataset: dict[str, Any],
    architecture: str,
    ultralytics_version: str,
    onnx_error: str = "",
) -> dict[str, Any]:
    """The card dict (layout in the module docstring) from its three parts."""
    return {
        "card_version": CARD_VERSION,
        "model": {**model, "architecture": architecture},
        "training": dict(job),
        "dataset": dict(dataset),
        "software": {"ultralytics": ultralytics_version},
        "onnx_error": onnx_error,
    }


def _md(text: Any) -> str:
    """Card values are user text (names): keep them from being read as Markdown or HTML."""
    out = str(text)
    for char in "\\`*_{}[]<>()#+-!|":
        out = out.replace(char, "\\" + char)
    return out.replace("\n", " ")


def _code(text: Any) -> str:
    """``text`` as one Markdown code span. Backslash escapes are literal inside backticks
    (CommonMark), so the text goes in as is: the fence is one backtick longer than the
    longest run in it, padded with a space where the text starts or ends with one."""
    out = str(text).replace("\r", " ").replace("\n", " ")
    runs = re.findall(r"`+", out)
    fence = "`" * (max((len(r) for r in runs), default=0) + 1)
    if out.startswith("`") or out.endswith("`"):
        out = f" {out} "
    return f"{fence}{out}{fence}"


def _num(value: Any, digits: int = 3) -> str:
    """``value`` in Markdown (what :func:`_plain` writes, other values escaped)."""
    return _plain(value, digits, other=_md)


def _size(n: Any) -> str:
    if not isinstance(n, int | float) or n <= 0:
        return "–"
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover


def card_markdown(card: dict[str, Any], *, model_id: int | None = None) -> str:
    """A human-readable Markdown rendering of ``card``."""
    model = card.get("model", {})
    job = card.get("training", {})
    data = card.get("dataset", {})
    title = _md(model.get("name", "Model"))
    lines = [f"# Model card: {title}", ""]
    if model_id is not None:
        lines += [f"Registry id: {model_id}", ""]
    if model.get("partial"):
        lines += [
            f"> **Partial model**: training stopped early ({_md(model.get('stopped', ''))}); "
            "these are the best weights before it stopped.",
            "",
        ]
    lines += [
        "## Model",
        "",
        f"- Preset: {_md(model.get('preset_label', ''))} ({_code(model.get('preset', ''))})",
        f"- Architecture: {_md(model.get('architecture', ''))}",
    ]
    if model.get("preset_description"):
        lines.append(f"- About: {_md(model['preset_description'])}")
    if model.get("seed_paper_model"):
        lines.append(f"- Reproduces a model of the seed paper: {SEED_PAPER}")
    lines += [
        f"- Classes: {', '.join(_md(c) for c in model.get('class_names', []))}",
        f"- Input size: {_num(model.get('imgsz'))} px",
        f"- Parameters: {_num(model.get('parameters'))}",
        f"- GFLOPs: {_num(model.get('gflops'), 1)}",
        "",
        "## Validation metrics",
        "",
        "| Metric | Value |",
        "|---|---|",
    ]
    metrics = model.get("metrics") or {}
    for key, label in _METRIC_LABELS:
        lines.append(f"| {label} | {_num(metrics.get(key))} |")
    lines += [
        "",
        "## How it was trained",
        "",
        f"- Starting weights: {_md(model.get('start_weights', ''))}",
        f"- Training job: {_num(job.get('id'))}, {_md(job.get('status', ''))}, "
        f"{_num(job.get('epochs_done'))} of {_num(job.get('epochs_planned'))} epochs",
        f"- Training time: {_num(model.get('training_time_s'), 1)} s on {_md(model.get('device'))}",
        f"- Started by: {_md(job.get('created_by') or '–')}",
        f"- Ultralytics: {_md(card.get('software', {}).get('ultralytics', ''))}",
        "",
        "| Hyperparameter | Value |",
        "|---|---|",
    ]
    hp = job.get("hyperparameters") or {}
    for key, label in _HP_LABELS:
        if key in hp:
            lines.append(f"| {label} | {_num(hp[key], 6)} |")
    counts = data.get("frame_counts") or {}
    lines += [
        "",
        "## Dataset",
        "",
        f"- Project: {_md(data.get('project', ''))}",
        f"- Version: {_md(data.get('name', ''))} (id {_num(data.get('id'))})",
        f"- Content sha256: {_code(data.get('content_hash', ''))}",
        f"- Frames: {_num(counts.get('train', 0))} train, {_num(counts.get('val', 0))} val, "
        f"{_num(counts.get('test', 0))} test; {_num(data.get('box_count'))} boxes",
        "",
        "## Files",
        "",
    ]
    files = model.get("files") or {}
    for key, label in (("pt", "PyTorch (.pt)"), ("onnx", "ONNX (.onnx)")):
        info = files.get(key)
        if info:
            lines.append(
                f"- {label}: {_size(info.get('bytes'))}, sha256 {_code(info.get('sha256'))}"
            )
        elif key == "onnx":
            reason = card.get("onnx_error") or "not exported"
            lines.append(f"- {label}: not available ({_md(reason.splitlines()[0])})")
    lines.append("")
    return "\n".join(lines)


# --- the card as plain text sections, for the model page (HTML, escaped by the template) ---
@dataclass(frozen=True)
class CardSection:
    """One part of the card: ``items`` are (label, text) lines, ``table`` (label, value)
    rows under ``table_head``; every string is plain text (never Markdown or HTML)."""

    title: str
    items: list[tuple[str, str]] = field(default_factory=list)
    table_head: tuple[str, str] | None = None
    table: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""


def _plain(value: Any, digits: int = 3, *, other: Callable[[Any], str] = str) -> str:
    """A card value as text: – for none, on/off, a float to ``digits`` places without
    trailing zeros; anything else through ``other``."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") if value else "0"
    return other(value)


def card_outline(card: dict[str, Any], *, model_id: int | None = None) -> list[CardSection]:
    """The same content as :func:`card_markdown`, as plain-text sections (no escapes)."""
    model = card.get("model", {})
    job = card.get("training", {})
    data = card.get("dataset", {})
    notes = []
    if model_id is not None:
        notes.append(f"Registry id: {model_id}")
    if model.get("partial"):
        notes.append(
            f"Partial model: training stopped early ({model.get('stopped', '')}); "
            "these are the best weights before it stopped."
        )
    head = CardSection(title=f"Model card: {model.get('name', 'Model')}", note=" · ".join(notes))
    about = [
        ("Preset", f"{model.get('preset_label', '')} ({model.get('preset', '')})"),
        ("Architecture", str(model.get("architecture", ""))),
    ]
    if model.get("preset_description"):
        about.append(("About", str(model["preset_description"])))
    if model.get("seed_paper_model"):
        about.append(("Reproduces a model of the seed paper", SEED_PAPER))
    about += [
        ("Classes", ", ".join(str(c) for c in model.get("class_names", []))),
        ("Input size", f"{_plain(model.get('imgsz'))} px"),
        ("Parameters", _plain(model.get("parameters"))),
        ("GFLOPs", _plain(model.get("gflops"), 1)),
    ]
    metrics = model.get("metrics") or {}
    hp = job.get("hyperparameters") or {}
    counts = data.get("frame_counts") or {}
    files = model.get("files") or {}
    file_items = []
    for key, label in (("pt", "PyTorch (.pt)"), ("onnx", "ONNX (.onnx)")):
        info = files.get(key)
        if info:
            file_items.append((label, f"{_size(info.get('bytes'))}, sha256 {info.get('sha256')}"))
        elif key == "onnx":
            reason = card.get("onnx_error") or "not exported"
            file_items.append((label, f"not available ({reason.splitlines()[0]})"))
    return [
        head,
        CardSection(title="Model", items=about),
        CardSection(
            title="Validation metrics",
            table_head=("Metric", "Value"),
            table=[(label, _plain(metrics.get(key))) for key, label in _METRIC_LABELS],
        ),
        CardSection(
            title="How it was trained",
            items=[
                ("Starting weights", str(model.get("start_weights", ""))),
                (
                    "Training job",
                    f"{_plain(job.get('id'))}, {job.get('status', '')}, "
                    f"{_plain(job.get('epochs_done'))} of {_plain(job.get('epochs_planned'))} "
                    "epochs",
                ),
                (
                    "Training time",
                    f"{_plain(model.get('training_time_s'), 1)} s on {_plain(model.get('device'))}",
                ),
                ("Started by", str(job.get("created_by") or "–")),
                ("Ultralytics", str(card.get("software", {}).get("ultralytics", ""))),
            ],
            table_head=("Hyperparameter", "Value"),
            table=[(label, _plain(hp[key], 6)) for key, label in _HP_LABELS if key in hp],
        ),
        CardSection(
            title="Dataset",
            items=[
                ("Project", str(data.get("project", ""))),
                ("Version", f"{data.get('name', '')} (id {_plain(data.get('id'))})"),
                ("Content sha256", str(data.get("content_hash", ""))),
                (
                    "Frames",
                    f"{_plain(counts.get('train', 0))} train, {_plain(counts.get('val', 0))} val, "
                    f"{_plain(counts.get('test', 0))} test; {_plain(data.get('box_count'))} boxes",
                ),
            ],
        ),
        CardSection(title="Files", items=file_items),
    ]
