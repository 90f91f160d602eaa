"""What the management commands that queue jobs share: following jobs to their end and
turning a service's ``ValidationError`` into one line for a ``CommandError``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from webapp.models import TERMINAL_STATUSES, Job, JobStatus

if TYPE_CHECKING:
    from labeling.models import Project

J = TypeVar("J", bound=Job)


def follow_jobs(
    jobs: Sequence[J],
    *,
    report: Callable[[Sequence[J]], None],
    poll_s: float = 2.0,
    stopped: str = "Stopped following; the job goes on.",
) -> Sequence[J]:
    """Refresh ``jobs`` from the database every ``poll_s`` seconds, calling ``report`` after
    each refresh, until every one has ended. Ctrl-C stops following (the jobs go on) with a
    ``CommandError`` saying ``stopped``. Returns the refreshed jobs."""
    try:
        while True:
            for job in jobs:
                job.refresh_from_db()
            report(jobs)
            if all(job.status in TERMINAL_STATUSES for job in jobs):
                return jobs
            time.sleep(max(0.1, poll_s))
    except KeyboardInterrupt:
        raise CommandError(stopped) from None


def validation_text(exc: ValidationError) -> str:
    """One line naming each field and its problems (``field: reason; other: reason``)."""
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


def project_named(name: str) -> Project:
    """The project a command's ``--project`` names (case does not matter, nor spaces around
    it); a ``CommandError`` when there is none."""
    from labeling.models import Project

    project = Project.objects.filter(name__iexact=name.strip()).first()
    if project is None:
        raise CommandError(f"No project named “{name.strip()}”.")
    return project


@contextmanager
def service_errors() -> Iterator[None]:
    """A service's refusal (``ValidationError``, one line naming each field) or a broker
    outage (``BrokerUnavailable``) as the command's error."""
    from webapp.jobs import BrokerUnavailable

    try:
        yield
    except ValidationError as exc:
        raise CommandError(validation_text(exc)) from None
    except BrokerUnavailable as exc:
        raise CommandError(str(exc)) from None


def job_summary(stdout, job: Job, summary: dict[str, Any], *, what: str) -> None:
    """Write how a followed job ended as one JSON line (``summary`` and the first line of
    its error); a ``CommandError`` (non-zero exit) unless it succeeded."""
    if job.error:
        summary["error"] = job.error.splitlines()[0]
    stdout.write(json.dumps(summary))
    if job.status != JobStatus.SUCCEEDED:
        raise CommandError(f"{what} {job.pk} ended {job.get_status_display().lower()}.")
