"""Which background jobs still work on a row: what deleting it would break."""

from __future__ import annotations

from typing import Any

from .models import TERMINAL_STATUSES, Job


def jobs_active_referring_to(obj: Any) -> list[Job]:
    """Queued or running jobs of any kind whose foreign key points at ``obj``: work that
    would break if ``obj`` went (a render of a run, an evaluation of a model...)."""
    active: list[Job] = []
    for rel in obj._meta.related_objects:
        model = rel.related_model
        if not (rel.one_to_many or rel.one_to_one) or not issubclass(model, Job):
            continue
        rows = model.objects.filter(**{rel.field.name: obj}).exclude(status__in=TERMINAL_STATUSES)
        active.extend(rows.order_by("pk")[:10])
    return active


def job_label(job: Job) -> str:
    """``"render #3 (running)"``: a job named in a refusal."""
    name = job._meta.verbose_name
    return f"{name} #{job.pk} ({job.get_status_display().lower()})"
