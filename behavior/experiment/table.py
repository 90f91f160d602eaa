"""The experiment table: one row per video × animal (× time bin) of a project's tracking
runs, with each video's subject and group, the group summary (mean ± SEM), every zone bout,
and its CSV, XLSX and group plots.

Split from :mod:`behavior.analysis.runs`, which computes one run's measures (cached);
this module gathers them across a project's videos.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from django.core.exceptions import ValidationError

from behavior.analysis.runs import (
    analysis_params_clean,
    arena_context,
    invalid,
    jsonable,
    require_trajectory,
    run_results,
    settings_warnings,
)
from behavior.core import AnimalResult, BehaviorInputError
from behavior.core.experiment import (
    Subject,
    experiment_table,
    group_plot_png,
    group_summary,
    measure_columns,
    write_csv,
    write_xlsx,
)
from behavior.experiment.selectors import animal_subjects, experiment_runs
from behavior.freezing.motion import freezing_request
from behavior.models import SubjectInfo
from labeling.models import Project
from tracking.models import TrackingRun


@dataclass
class Experiment:
    """One row per video × animal (× bin): ``table``; per group (× bin) and measure:
    ``summary``; ``measures``: the measure columns; ``runs``: each run's parameters;
    ``bouts``: one row per visit to a zone (video, animal, zone, entry, exit, duration)."""

    table: pd.DataFrame
    summary: pd.DataFrame
    measures: list[str]
    runs: list[dict[str, Any]]
    by_bin: bool
    units: str | None
    bouts: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "units": self.units,
                "by_bin": self.by_bin,
                "columns": [str(c) for c in self.table.columns],
                "measures": self.measures,
                "rows": _records(self.table),
                "summary": _records(self.summary),
                "runs": self.runs,
                "warnings": self.warnings,
            }
        )


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(k): (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r}
        for r in (row.items() for row in df.astype(object).to_dict(orient="records"))
    ]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def trust_figures(trust: Any, animal: int) -> dict[str, float]:
    """The run's numeric trust figures for one animal: top-level numbers, then those of
    ``trust["animals"][<animal>]`` (a mapping by number, or a list in animal order)."""
    if not isinstance(trust, Mapping):
        return {}
    out = {str(k): float(v) for k, v in trust.items() if _number(v)}
    per = trust.get("animals", trust.get("per_animal"))
    item = None
    if isinstance(per, Mapping):
        item = per.get(str(animal), per.get(animal))
    elif isinstance(per, list) and 0 < animal <= len(per):
        item = per[animal - 1]
    if isinstance(item, Mapping):
        out.update({str(k): float(v) for k, v in item.items() if _number(v)})
    return out


def _freezing_motions(runs: Sequence[TrackingRun], params: Any) -> dict[int, Any]:
    """Each run's measured motion from its finished FreezingJob; a ValidationError naming
    ``freezing`` lists the videos still waiting for one."""
    from behavior.freezing.services import freezing_job_for, freezing_job_motion

    motions, missing = {}, []
    for run in runs:
        job = freezing_job_for(run=run, params=params)
        motion = freezing_job_motion(job=job) if job else None
        if motion is None:
            state = job.get_status_display().lower() if job else "not started"
            missing.append(f"{_run_label(run)}: {state}")
        motions[run.pk] = motion
    if missing:
        raise ValidationError(
            {
                "freezing": "Freezing is measured in the background and is not ready for "
                + "; ".join(missing[:10])
                + (f" (and {len(missing) - 10} more)" if len(missing) > 10 else "")
                + ". Start it with the Freezing switch on the Experiment page, then export."
            }
        )
    return motions


def _field(own: Any, info: Any, name: str) -> str:
    """An animal's own subject field, else its video's (blank: not known)."""
    return getattr(own, name, "") or getattr(info, name, "") or ""


def _run_label(run: TrackingRun) -> str:
    return f"Video “{run.video.original_name}” (run {run.pk})"


def experiment_table_build(
    *,
    project: Project,
    runs: Sequence[TrackingRun] | None = None,
    params: Mapping[str, Any] | None = None,
    by_bin: bool = False,
    groups: Sequence[str] | None = None,
    freezing_jobs: bool = False,
) -> Experiment:
    """The experiment table of ``runs`` (default: each video's run for the table,
    ``behavior.experiment.selectors.experiment_runs``), with each video's arena and subject, and the
    group summary (mean ± SEM).

    ``params``: overrides of the project's settings; ``by_bin``: one row per time bin
    (needs ``bin_s``); ``groups``: keep only videos of these groups. A run that cannot be
    analysed is a ValidationError naming the field and the video.
    ``freezing_jobs``: freezing comes only from finished ``FreezingJob``s; a video
    without one is a ValidationError naming ``freezing`` and the videos (never a column
    silently blank).
    """
    chosen: set[int] = set()
    if runs is None:
        table_runs = [t for t in experiment_runs(project=project).values() if t.run is not None]
        chosen = {t.run.pk for t in table_runs if t.chosen}
        runs = sorted(
            (t.run for t in table_runs),
            key=lambda r: (r.video.original_name.casefold(), r.video_id),
        )
    runs = list(runs)
    for run in runs:
        if run.project_id != project.pk:
            raise ValidationError({"runs": f"Run {run.pk} is not in this project."})
    infos = SubjectInfo.objects.filter(video__in=[r.video_id for r in runs])
    subjects = {s.video_id: s for s in infos}
    per_animal = animal_subjects(video_ids=[r.video_id for r in runs])
    wanted = set(groups) if groups is not None else None
    if wanted is not None:  # skip analysing videos none of whose animals is wanted

        def video_groups(video_id: int) -> set[str]:
            own = {a.group for (v, _), a in per_animal.items() if v == video_id and a.group}
            info = subjects.get(video_id)
            return own | {info.group if info else ""}

        runs = [r for r in runs if video_groups(r.video_id) & wanted]
    rows: list[tuple[Subject, AnimalResult]] = []
    ids: list[tuple[int, int]] = []
    described: list[dict[str, Any]] = []
    bouts: list[dict[str, Any]] = []
    freezing, params = freezing_request(params)
    warnings = settings_warnings(project=project, overrides=params)
    motions: dict[int, Any] = {}
    if freezing_jobs and freezing.params is not None:
        motions = _freezing_motions(runs, freezing.params)
    for run in runs:
        try:
            require_trajectory(run)
            arena = arena_context(video=run.video)
            p = analysis_params_clean(
                project=project, overrides=params, membership=arena.membership, unions=arena.unions
            )
            if by_bin and p.bin_s is None:
                raise ValidationError({"bin_s": "Give a bin length to split the table by bin."})
            results = run_results(
                run=run,
                arena=arena,
                params=p,
                freezing=freezing,
                freezing_motion=motions.get(run.pk),
            )
        except ValidationError as exc:
            raise ValidationError(
                {k: [f"{_run_label(run)}: {m}" for m in v] for k, v in exc.message_dict.items()}
            ) from None
        info = subjects.get(run.video_id)
        for result in results:
            animal = int(result.animal)
            own = per_animal.get((run.video_id, animal))
            subject = Subject(
                video=run.video.original_name,
                animal=animal,
                subject_id=_field(own, info, "subject_id"),
                group=_field(own, info, "group"),
                session=_field(own, info, "session"),
                notes=info.notes if info else "",
                trust=trust_figures(run.trust, animal),
            )
            if wanted is not None and subject.group not in wanted:
                continue  # groups are per animal: a pair may hold one of each
            rows.append((subject, result))
            bouts.extend(
                {"video": run.video.original_name, "video_id": run.video_id, "run": run.pk}
                | {"animal": animal, "subject_id": subject.subject_id, "group": subject.group}
                | asdict(bout)
                for bout in result.bouts
            )
            ids.extend([(run.video_id, run.pk)] * (max(len(result.bins), 1) if by_bin else 1))
        described.append(
            {
                "run": run.pk,
                "video": run.video_id,
                "video_name": run.video.original_name,
                "arena": arena.source,
                "chosen": run.pk in chosen,
                "n_animals": run.n_animals,
                "parameters": results[0].parameters if results else {},
            }
        )
    try:
        table = experiment_table(rows, by_bin=by_bin)
    except BehaviorInputError as exc:
        raise invalid(exc) from None
    measures = measure_columns(table)
    summary = group_summary(table, measures)
    table.insert(1, "video_id", [v for v, _ in ids] if len(table) else [])
    table.insert(2, "run", [r for _, r in ids] if len(table) else [])
    units = rows[0][1].units if rows else None
    bout_table = pd.DataFrame(bouts, columns=BOUT_COLUMNS)
    return Experiment(table, summary, measures, described, by_bin, units, bout_table, warnings)


BOUT_COLUMNS = [
    "video",
    "video_id",
    "run",
    "animal",
    "subject_id",
    "group",
    "zone",
    "entry_s",
    "exit_s",
    "duration_s",
    "starts_at_window_start",
    "ends_at_window_end",
]


def experiment_csv(experiment: Experiment) -> str:
    buffer = io.StringIO()
    write_csv(experiment.table, buffer)
    return buffer.getvalue()


def experiment_xlsx(experiment: Experiment) -> bytes:
    """Sheets: the table, the group summary, every zone bout, and every run's parameters
    (one per row)."""
    parameters = pd.DataFrame(
        [
            {
                "run": r["run"],
                "video_id": r["video"],
                "video": r["video_name"],
                "parameter": name,
                "value": json.dumps(jsonable(value)),
            }
            for r in experiment.runs
            for name, value in sorted(r["parameters"].items())
        ],
        columns=["run", "video_id", "video", "parameter", "value"],
    )
    buffer = io.BytesIO()
    write_xlsx(
        {
            "experiment": experiment.table,
            "summary": experiment.summary,
            "bouts": experiment.bouts,
            "parameters": parameters,
        },
        buffer,
    )
    return buffer.getvalue()


def experiment_plot_png(experiment: Experiment, *, measure: str, kind: str = "bar") -> bytes:
    if measure not in experiment.measures:
        raise ValidationError({"measure": f"No measure {measure[:100]!r} in the table."})
    try:
        return group_plot_png(experiment.table, measure, kind=kind)
    except BehaviorInputError as exc:
        raise invalid(exc) from None
