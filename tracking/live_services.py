"""Starting, stopping and checking live sessions (the Django side of :mod:`tracking.live`).

Django and Celery only start, stop and report: the session itself runs in the process
that owns the camera (``tracking.live_work`` on the ``live`` queue, or ``manage.py live``).

One session per camera: :class:`~tracking.models.LiveSession` has a unique constraint on
the ``source_key`` of its queued and running rows, so a second start on a camera in use is
refused by the database (a 400 naming the session that holds it), whichever web node or
command asks; the key is freed when the session ends, however it ends (the stale check
fails a session whose process died).

Sources a user may name through the API: a local camera (``/dev/videoN``), a network
stream (``rtsp://``, ``rtsps://``, ``http(s)://``), or ``video:<id>``, a video of the
project played at its own frame rate (a rehearsal; the web never opens an arbitrary path
on the camera machine). The command may also name a file (``--paced``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from labeling.models import Project, Video
from training.models import TrainedModel
from webapp.jobs import job_dispatch, job_request_cancel
from webapp.models import JobStatus

from .live.config import SetupError, parse_setup
from .live.sources import source_key
from .models import LiveSession

MAX_ANIMALS = 20
MAX_DURATION_S = 24 * 3600
_CAMERA = re.compile(r"^/dev/video[0-9]{1,3}$")
_STREAM = re.compile(r"^(rtsp|rtsps|http|https)://[^\s]{1,480}$")
_VIDEO = re.compile(r"^video:([0-9]{1,18})$")


def live_params_clean(*, params: Mapping[str, Any] | None, model: TrainedModel) -> dict:
    """The session's parameters with defaults; ``ValidationError`` naming the field."""
    params = dict(params or {})
    known = {"imgsz", "conf", "duration_s", "start_on_detection", "crop", "device", "backend"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValidationError({f"params.{unknown[0]}": "Unknown parameter."})
    clean: dict[str, Any] = {}
    imgsz = params.get("imgsz", int(model.imgsz or 640))
    if isinstance(imgsz, bool) or not isinstance(imgsz, int) or not 32 <= imgsz <= 4096:
        raise ValidationError({"params.imgsz": "Must be a whole number from 32 to 4096."})
    if imgsz % 32:
        raise ValidationError({"params.imgsz": "Must be a multiple of 32 (the model's stride)."})
    clean["imgsz"] = imgsz
    conf = params.get("conf", 0.25)
    if isinstance(conf, bool) or not isinstance(conf, int | float) or not 0.01 <= conf <= 1:
        raise ValidationError({"params.conf": "Must be a number from 0.01 to 1."})
    clean["conf"] = float(conf)
    duration = params.get("duration_s")
    if duration is not None and (
        isinstance(duration, bool)
        or not isinstance(duration, int | float)
        or not math.isfinite(duration)
        or not 0 < duration <= MAX_DURATION_S
    ):
        raise ValidationError(
            {"params.duration_s": f"Must be a number of seconds from 0 to {MAX_DURATION_S}."}
        )
    clean["duration_s"] = None if duration is None else float(duration)
    for flag, default in (("start_on_detection", False), ("crop", True)):
        value = params.get(flag, default)
        if not isinstance(value, bool):
            raise ValidationError({f"params.{flag}": "Must be true or false."})
        clean[flag] = value
    device = str(params.get("device", "auto"))
    if device not in ("auto", "cpu") and not device.isdigit():
        raise ValidationError({"params.device": "Use auto, cpu or a GPU index."})
    clean["device"] = device
    backend = str(params.get("backend", "auto"))
    if backend not in ("auto", "torch", "onnx"):
        raise ValidationError({"params.backend": "Use auto, torch or onnx."})
    clean["backend"] = backend
    return clean


def live_source_clean(*, project: Project, source: str, allow_files: bool) -> tuple[str, str]:
    """``(source, key)`` for ``source``; ``ValidationError`` on ``source`` for what may not
    be opened (a path through the API, another project's video)."""
    source = str(source or "").strip()
    if _CAMERA.match(source) or _STREAM.match(source):
        return source, source_key(source)
    match = _VIDEO.match(source)
    if match:
        video = Video.objects.filter(project=project, pk=int(match.group(1))).first()
        if video is None or video.kind != Video.Kind.VIDEO:
            raise ValidationError({"source": "No such video in this project."})
        return source, source
    if allow_files and source and "\0" not in source and len(source) <= 500:
        return source, source_key(source)
    raise ValidationError(
        {
            "source": "Use /dev/videoN, an rtsp:// or http(s):// stream, or video:<id> of this "
            "project."
        }  # fmt: skip
    )


def live_setup_clean(
    *, setup: Any, n_animals: int, frame_size: tuple[int, int] | None = None
) -> dict:
    """The set-up (zones, rules, outputs) as JSON, checked; against the frame when its size
    is known (the command opens the camera first; the web cannot, so the worker checks the
    zones against the frame again before it starts)."""
    try:
        parsed = parse_setup(setup, frame_size=frame_size or (1e6, 1e6), n_animals=n_animals)
    except SetupError as e:
        raise ValidationError({f"setup.{e.field}": e.reason}) from None
    data = setup if isinstance(setup, Mapping) else {"zones": setup or []}
    clean: dict[str, Any] = {
        "zones": [z.to_json() for z in parsed.zones],
        "outputs": parsed.outputs,
    }
    if "rules" in data:  # without rules, every zone's entries and exits are events
        clean["rules"] = data["rules"]
    if parsed.px_per_cm is not None:
        clean["px_per_cm"] = parsed.px_per_cm
    return clean


def live_session_create(
    *,
    project: Project,
    created_by,
    model: TrainedModel,
    source: str,
    n_animals: int = 1,
    setup: Any = None,
    params: Mapping[str, Any] | None = None,
    allow_files: bool = False,
    paced: bool = False,
    frame_size: tuple[int, int] | None = None,
) -> LiveSession:
    """Check a request and record the session (QUEUED), holding its camera. Raises
    ``ValidationError`` naming the field (a camera in use: on ``source``)."""
    if model.project_id != project.pk:
        raise ValidationError({"model": "That model is not in this project."})
    if not model.weights:
        raise ValidationError({"model": "That model has no weights file."})
    if isinstance(n_animals, bool) or not isinstance(n_animals, int):
        raise ValidationError({"n_animals": f"Must be a whole number from 1 to {MAX_ANIMALS}."})
    if not 1 <= n_animals <= MAX_ANIMALS:
        raise ValidationError({"n_animals": f"Must be a whole number from 1 to {MAX_ANIMALS}."})
    source, key = live_source_clean(project=project, source=source, allow_files=allow_files)
    clean_params = live_params_clean(params=params, model=model)
    clean_setup = live_setup_clean(setup=setup, n_animals=n_animals, frame_size=frame_size)
    try:
        with transaction.atomic():
            return LiveSession.objects.create(
                project=project,
                model=model,
                source=source,
                source_key=key,
                paced=paced or source.startswith("video:"),
                n_animals=n_animals,
                setup=clean_setup,
                params=clean_params,
                created_by=created_by,
                message="Waiting for the camera machine's worker (live queue)",
            )
    except IntegrityError:
        holder = live_session_holding(key=key)
        raise ValidationError({"source": _in_use(source, holder)}) from None


def live_session_holding(*, key: str) -> LiveSession | None:
    """The queued or running session holding the camera ``key``, if any."""
    return (
        LiveSession.objects.filter(source_key=key, status__in=(JobStatus.QUEUED, JobStatus.RUNNING))
        .order_by("pk")
        .first()
    )


def _in_use(source: str, holder: LiveSession | None) -> str:
    which = (
        f"live session #{holder.pk} ({holder.get_status_display().lower()})"
        if holder
        else ("another live session")
    )
    return f"{source} is in use by {which}: one session per camera; stop that one first."


def live_session_start(**kwargs: Any) -> LiveSession:
    """:func:`live_session_create`, then queue it on the ``live`` queue (after commit);
    ``BrokerUnavailable`` leaves no row (and frees the camera)."""
    from .tasks import live_session_execute_task

    session = live_session_create(**kwargs)
    job_dispatch(job=session, task=live_session_execute_task)
    return session


def live_session_stop(*, session: LiveSession) -> LiveSession:
    """Stop a session: a queued one at once; a running one within about a second, keeping
    what it recorded (it becomes a tracking run). Stopping an ended one changes nothing."""
    if session.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        job_request_cancel(job=session)
    return session
