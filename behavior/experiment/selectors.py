"""Which run of each video the experiment table uses, and who each animal is.

A video's run for the table is chosen explicitly (``ExperimentRunChoice``, set on the
experiment page) or, without a choice, by the default rule: the newest *finished* run with
the video's animal count. A video's animal count is the count most of its finished runs
were tracked with (a tie goes to the count of the oldest of the tied runs: the first run of
a video is usually the real one, and a later run with another count a test), so a test run
with two animals on a one-mouse video never silently turns one row into two.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from behavior.models import AnimalSubject, ExperimentRunChoice
from labeling.models import Project
from tracking.models import TrackingRun
from tracking.selectors import finished_runs_of_project


@dataclass(frozen=True)
class TableRun:
    """The run the table uses for one video. ``chosen``: a person picked it (else the
    default rule); ``n_animals``: the video's animal count by the default rule;
    ``candidates``: the video's finished runs, newest first."""

    video_id: int
    run: TrackingRun | None
    chosen: bool
    n_animals: int | None
    candidates: list[TrackingRun] = field(default_factory=list)

    @property
    def default_run(self) -> TrackingRun | None:
        return default_run(self.candidates)

    def describe(self) -> str:
        if self.run is None:
            return "no finished run"
        if self.chosen:
            return f"run #{self.run.pk} (chosen)"
        animals = f"{self.n_animals} animal{'s' if self.n_animals != 1 else ''}"
        return f"run #{self.run.pk} (default: the newest finished run with {animals})"


def video_animal_count(runs: list[TrackingRun]) -> int | None:
    """The count most of ``runs`` were tracked with; a tie: that of the oldest tied run.
    ``runs`` newest first (``finished_runs_of_project``'s order)."""
    if not runs:
        return None
    counts = Counter(r.n_animals for r in runs)
    top = max(counts.values())
    tied = {n for n, c in counts.items() if c == top}
    for run in reversed(runs):  # oldest first
        if run.n_animals in tied:
            return run.n_animals
    return None  # unreachable: every tied count comes from a run


def default_run(runs: list[TrackingRun]) -> TrackingRun | None:
    """The newest of ``runs`` (newest first) with the video's animal count."""
    count = video_animal_count(runs)
    return next((r for r in runs if r.n_animals == count), None)


def experiment_runs(*, project: Project) -> dict[int, TableRun]:
    """``{video id: TableRun}`` for every video of the project with a finished run."""
    by_video: dict[int, list[TrackingRun]] = {}
    for run in finished_runs_of_project(project=project).select_related("model"):
        by_video.setdefault(run.video_id, []).append(run)
    choices = {
        c.video_id: c.run_id for c in ExperimentRunChoice.objects.filter(video__project=project)
    }
    out: dict[int, TableRun] = {}
    for video_id, runs in by_video.items():
        chosen = next((r for r in runs if r.pk == choices.get(video_id)), None)
        out[video_id] = TableRun(
            video_id=video_id,
            run=chosen or default_run(runs),
            chosen=chosen is not None,
            n_animals=video_animal_count(runs),
            candidates=runs,
        )
    return out


def animal_subjects(*, video_ids: list[int]) -> dict[tuple[int, int], AnimalSubject]:
    """``{(video id, animal): AnimalSubject}`` of these videos."""
    rows = AnimalSubject.objects.filter(video_id__in=video_ids)
    return {(a.video_id, a.animal): a for a in rows}
