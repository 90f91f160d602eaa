"""When a training reached its final validation figure: what a lab needs to choose epochs
and patience for the next run. Pure (plain dicts in, a dataclass out)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Convergence:
    best_epoch: int  # 1-based: the first epoch that reached the best validation mAP50-95
    best_map50_95: float
    seconds_to_best: float  # training time (summed epoch times) up to the end of best_epoch
    seconds_total: float
    epochs_after_best: int  # epochs that did not improve on it (early stopping's patience)


def convergence(epochs: Iterable[dict]) -> Convergence | None:
    """From per-epoch rows (``epoch``, ``map50_95``, ``epoch_time_s``; as ``epoch_series``
    gives them), the first epoch reaching the best validation mAP50-95 and the training time
    it took; None before any epoch was validated."""
    rows = sorted(epochs, key=lambda row: row["epoch"])
    validated = [row for row in rows if row.get("map50_95") is not None]
    if not validated:
        return None
    best = max(row["map50_95"] for row in validated)
    first = next(row for row in validated if row["map50_95"] >= best)
    elapsed = [float(row.get("epoch_time_s") or 0.0) for row in rows]
    upto = sum(t for row, t in zip(rows, elapsed, strict=True) if row["epoch"] <= first["epoch"])
    return Convergence(
        best_epoch=int(first["epoch"]),
        best_map50_95=float(best),
        seconds_to_best=upto,
        seconds_total=sum(elapsed),
        epochs_after_best=int(rows[-1]["epoch"]) - int(first["epoch"]),
    )


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def convergence_text(found: Convergence | None, *, patience: int) -> str:
    """One sentence for the job page: where the best validation mAP50-95 was reached and how
    early stopping is set (``patience`` epochs without improvement; 0 = off)."""
    stopping = (
        f"early stopping after {patience} epochs without a better validation mAP"
        if patience
        else "early stopping off"
    )
    if found is None:
        return f"No validated epoch yet; {stopping}."
    return (
        f"Best validation mAP50-95 {found.best_map50_95:.3f} reached at epoch "
        f"{found.best_epoch}, after {_minutes(found.seconds_to_best)} of "
        f"{_minutes(found.seconds_total)} of training ({found.epochs_after_best} epochs since "
        f"did not improve it); {stopping}."
    )
