"""A run a person chose for the experiment table is not deleted from under the table: the
tracking app asks this check (``tracking.services.RUN_DELETE_CHECKS``) before deleting."""

from __future__ import annotations

from tracking.models import TrackingRun

from ..models import ExperimentRunChoice


def chosen_for_the_table(run: TrackingRun) -> str | None:
    """Why ``run`` cannot go while it is the experiment table's chosen run of its video."""
    if not ExperimentRunChoice.objects.filter(run=run).exists():
        return None
    return (
        f"Run #{run.pk} is the run chosen for “{run.video.original_name}” in the experiment "
        "table; choose another run (or the default) for that video first."
    )
