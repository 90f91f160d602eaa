"""Every write of the evaluation app on the web side: create, dispatch, delete runs.

``evaluation_run_create`` checks the input and records a QUEUED run;
``evaluation_run_dispatch`` hands it to the ``gpu`` queue after commit, where
:func:`evaluation.evaluation_work.evaluation_run_execute` runs it.
``evaluation_run_after_training`` is what a finished training job calls.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.models import DatasetVersion
from training.models import TrainedModel
from webapp.jobs import BrokerUnavailable, job_dispatch

from .inference import class_mapping
from .models import EvaluationRun

log = logging.getLogger(__name__)

SPLITS = ("test", "val", "train", "all")
_DEVICE_RE = re.compile(r"^(auto|cpu|mps|\d{1,2})$")
FALLBACK_NOTE = "The test split is empty; evaluated on the validation split instead."


# --- create and dispatch ---------------------------------------------------------------
def _split_size(dataset_version: DatasetVersion, split: str) -> int:
    counts = dataset_version.frame_counts or {}
    if split == "all":
        return sum(int(v or 0) for v in counts.values())
    return int(counts.get(split) or 0)


def _number(value: Any, field: str, low: float, high: float, *, low_open: bool) -> float:
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (low < value if low_open else low <= value)
        and value <= high
    )
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}]"
        raise ValidationError({field: f"Must be a number in {interval}."})
    return float(value)


def evaluation_run_create(
    *,
    model: TrainedModel,
    user=None,
    dataset_version: DatasetVersion | None = None,
    split: str = "test",
    iou_threshold: float = 0.5,
    conf_threshold: float = 0.25,
    imgsz: int | None = None,
    device: str = "auto",
    origin: str = EvaluationRun.Origin.USER,
    fallback_to_val: bool = False,
) -> EvaluationRun:
    """Record a QUEUED evaluation of ``model``; :func:`evaluation_run_dispatch` sends it.

    ``dataset_version`` defaults to the one the model was trained on; the caller checks that
    the user may see it. ``fallback_to_val``: an empty test split is replaced by the
    validation split (the run's message says so) instead of being refused.
    Raises ``ValidationError`` naming the field.
    """
    if split not in SPLITS:
        raise ValidationError({"split": f"Must be one of {', '.join(SPLITS)}."})
    dataset_version = dataset_version or model.dataset_version
    if dataset_version is None:
        raise ValidationError(
            {"dataset_version": "The model has no dataset version; choose one to evaluate on."}
        )
    iou = _number(iou_threshold, "iou_threshold", 0.0, 1.0, low_open=True)
    conf = _number(conf_threshold, "conf_threshold", 0.0, 1.0, low_open=False)
    imgsz = model.imgsz if imgsz is None else imgsz
    if (
        isinstance(imgsz, bool)
        or not isinstance(imgsz, int)
        or not 32 <= imgsz <= 4096
        or (imgsz % 32)
    ):
        raise ValidationError({"imgsz": "Must be a multiple of 32 from 32 to 4096."})
    if not isinstance(device, str) or not _DEVICE_RE.match(device):
        raise ValidationError({"device": "Must be 'auto', 'cpu', 'mps' or a GPU index."})
    class_map = class_mapping(model.class_names or [], dataset_version.classes or [])
    if not class_map:
        raise ValidationError(
            {
                "dataset_version": "None of the model's classes "
                f"({', '.join(model.class_names) or 'none'}) is a class of this dataset version "
                f"({', '.join(dataset_version.classes) or 'none'})."
            }
        )
    requested, message = split, ""
    if _split_size(dataset_version, split) == 0:
        if split == "test" and fallback_to_val and _split_size(dataset_version, "val"):
            split = "val"
            message = FALLBACK_NOTE
        else:
            raise ValidationError(
                {"split": f"The {split} split of “{dataset_version.name}” has no frames."}
            )
    return EvaluationRun.objects.create(
        project=model.project,
        model=model,
        dataset_version=dataset_version,
        split=split,
        requested_split=requested,
        origin=origin,
        iou_threshold=iou,
        conf_threshold=conf,
        imgsz=imgsz,
        device=device,
        class_map={str(k): v for k, v in class_map.items()},
        message=message,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


def evaluation_run_dispatch(*, run: EvaluationRun) -> None:
    """Hand the run to the ``gpu`` queue (call after commit); on a broker outage the row is
    deleted and :class:`webapp.jobs.BrokerUnavailable` raised (the API answers 503)."""
    from .tasks import evaluation_run_task  # the task module imports this one

    job_dispatch(job=run, task=evaluation_run_task)


def evaluation_run_start(**kwargs: Any) -> EvaluationRun:
    """Create and dispatch (the API and the pages); arguments as :func:`evaluation_run_create`."""
    run = evaluation_run_create(**kwargs)
    evaluation_run_dispatch(run=run)
    return run


def evaluation_run_after_training(*, model: TrainedModel, user=None) -> EvaluationRun | None:
    """Queue the test-split evaluation every successful training job ends with.

    Called by ``training.services`` once the model is registered and the job finished. An
    empty test split falls back to val. Returns None when nothing was queued (no test or
    val frames, no shared class, broker down, anything unexpected): that is logged and never
    raised, since training itself has succeeded.
    """
    try:
        run = evaluation_run_create(
            model=model,
            user=user,
            split="test",
            origin=EvaluationRun.Origin.TRAINING,
            fallback_to_val=True,
        )
    except ValidationError as exc:
        log.warning("model %s: no evaluation after training: %s", model.pk, exc.messages)
        return None
    except Exception:
        log.exception("model %s: the evaluation after training could not be created", model.pk)
        return None

    def send() -> None:
        try:
            evaluation_run_dispatch(run=run)
        except BrokerUnavailable as exc:  # the row is gone; evaluate later by hand
            log.warning("model %s: evaluation not queued: %s", model.pk, exc)
        except Exception:
            log.exception("model %s: the evaluation after training was not queued", model.pk)
            EvaluationRun.objects.filter(pk=run.pk).delete()  # never a run queued forever

    transaction.on_commit(send)  # runs at once when no transaction is open
    return run if run.pk is not None else None


def evaluation_run_delete(*, run: EvaluationRun) -> None:
    """Remove a run and its predictions; a worker still running it stops at its next beat
    (its heartbeat finds no running row and raises JobCancelled)."""
    run.delete()
