"""Writes of an experiment's bookkeeping: each video's subject (one by one or from the CSV
a lab already keeps) and the project's default analysis parameters.

Validated before anything is stored; errors are Django ``ValidationError``s naming the field
(or the CSV row), answered with HTTP 400.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from behavior.analysis.runs import analysis_params_clean
from behavior.arenas.services import (
    MAX_CSV_BYTES,
    MAX_CSV_ERRORS,
    MAX_CSV_ROWS,
    MAX_NOTES,
    MAX_TEXT,
)
from behavior.models import (
    SETTINGS_FIELDS,
    AnalysisSettings,
    AnimalSubject,
    ExperimentRunChoice,
    SubjectInfo,
)
from behavior.selectors import analysis_settings_for
from labeling.models import Project, Video


# --- subjects -------------------------------------------------------------------------
def _text(value: Any, where: str, limit: int, *, multiline: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValidationError({where: "Must be text."})
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError({where: "Must be text."})
    text = str(value).strip()
    if len(text) > limit:
        raise ValidationError({where: f"At most {limit} characters."})
    allowed = "\n\t" if multiline else ""
    if any((ord(c) < 32 and c not in allowed) or ord(c) == 127 for c in text):
        raise ValidationError({where: "May not contain control characters."})
    return text


def _subject_fields(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    return {
        "subject_id": _text(data.get("subject_id"), f"{prefix}subject_id", MAX_TEXT),
        "group": _text(data.get("group"), f"{prefix}group", MAX_TEXT),
        "session": _text(data.get("session"), f"{prefix}session", MAX_TEXT),
        "notes": _text(data.get("notes"), f"{prefix}notes", MAX_NOTES, multiline=True),
    }


def subject_info_save(
    *, video: Video, subject_id: Any = "", group: Any = "", session: Any = "", notes: Any = ""
) -> SubjectInfo:
    """Set who ``video`` is about (blank fields are allowed: "not known yet")."""
    fields = _subject_fields(
        {"subject_id": subject_id, "group": group, "session": session, "notes": notes}
    )
    info, _ = SubjectInfo.objects.update_or_create(video=video, defaults=fields)
    return info


MAX_ANIMAL = 100


def animal_subject_save(
    *, video: Video, animal: Any, subject_id: Any = "", group: Any = "", session: Any = ""
) -> AnimalSubject:
    """Set who animal ``animal`` (1..N, the runs' numbering) of a multi-animal video is; a
    blank field falls back to the video's subject in the table."""
    if isinstance(animal, bool) or not isinstance(animal, int) or not 1 <= animal <= MAX_ANIMAL:
        raise ValidationError({"animal": f"Must be an animal number from 1 to {MAX_ANIMAL}."})
    fields = _subject_fields({"subject_id": subject_id, "group": group, "session": session})
    fields.pop("notes")
    row, _ = AnimalSubject.objects.update_or_create(video=video, animal=animal, defaults=fields)
    return row


def experiment_run_choose(*, video: Video, run_id: Any, chosen_by: Any = None) -> None:
    """Make run ``run_id`` the one the experiment table uses for ``video``; ``None`` goes
    back to the default (the newest finished run with the video's animal count)."""
    from tracking.models import TrackingRun
    from tracking.selectors import finished_runs_of_project

    if run_id is None:
        ExperimentRunChoice.objects.filter(video=video).delete()
        return
    if isinstance(run_id, bool) or not isinstance(run_id, int) or not 1 <= run_id < 2**62:
        raise ValidationError({"run": "Must be a run id, or null for the default."})
    run = finished_runs_of_project(project=video.project).filter(video=video, pk=run_id).first()
    if run is None:
        exists = TrackingRun.objects.filter(video=video, pk=run_id).exists()
        raise ValidationError(
            {
                "run": "That run has not finished; only a finished run can be used."
                if exists
                else "No such run of this video."
            }
        )
    ExperimentRunChoice.objects.update_or_create(
        video=video, defaults={"run": run, "chosen_by": chosen_by}
    )


_CSV_COLUMNS = {
    "video": "video",
    "video_id": "video",
    "video_name": "video",
    "subject": "subject_id",
    "subject_id": "subject_id",
    "animal": "subject_id",
    "group": "group",
    "treatment": "group",
    "session": "session",
    "day": "session",
    "notes": "notes",
    "note": "notes",
    "comment": "notes",
    "comments": "notes",
}


@dataclass(frozen=True)
class SubjectImport:
    created: int
    updated: int
    ignored_columns: list[str]
    subjects: list[SubjectInfo]


def _csv_text(file: Any) -> str:
    raw = file.read(MAX_CSV_BYTES + 1) if hasattr(file, "read") else bytes(file)
    if isinstance(raw, str):
        raw = raw.encode()
    if len(raw) > MAX_CSV_BYTES:
        raise ValidationError({"file": f"The file exceeds {MAX_CSV_BYTES // 2**20} MB."})
    if b"\x00" in raw:
        raise ValidationError({"file": "Not a CSV file (it holds binary data)."})
    for encoding in ("utf-8-sig", "cp1252"):  # Excel on Windows saves "CSV" as cp1252
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError({"file": "Not a text file (use UTF-8)."})


def subject_info_import_csv(*, project: Project, file: Any) -> SubjectImport:
    """Set the subjects of the project's videos from a CSV a lab keeps.

    Columns (header row, any order, case-insensitive): ``video`` (the video's id or its
    file name as shown in the app), ``subject``, ``group``, ``session``, ``notes``; the
    aliases ``treatment`` (group), ``day`` (session) and ``subject_id`` are understood;
    other columns are ignored and reported. Commas, semicolons or tabs separate cells.
    Errors name the row as a spreadsheet numbers it (the header is row 1), for example
    ``rows[3].video``; one bad row stores nothing.
    """
    text = _csv_text(file)
    if not text.strip():
        raise ValidationError({"file": "The file is empty."})
    # The header decides the separator (csv.Sniffer gives up on ragged spreadsheet rows):
    # Excel writes ";" where "," is the decimal mark, and some tools write tabs.
    first = text.lstrip().splitlines()[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise ValidationError({"file": "The file has no header row."}) from None
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for index, name in enumerate(header):
        key = _CSV_COLUMNS.get(name.strip().lower().replace(" ", "_"))
        if key is None:
            if name.strip():
                ignored.append(name.strip()[:60])
            continue
        if key in columns:
            raise ValidationError({"file": f"Two columns mean {key!r} (“{name.strip()}”)."})
        columns[key] = index
    if "video" not in columns:
        raise ValidationError({"file": "The header needs a “video” column (id or file name)."})

    videos = list(Video.objects.filter(project=project, kind=Video.Kind.VIDEO))
    by_id = {v.pk: v for v in videos}
    by_name: dict[str, list[Video]] = {}
    for v in videos:
        by_name.setdefault(v.original_name.strip().casefold(), []).append(v)

    errors: dict[str, list[str]] = {}
    wanted: dict[int, tuple[Video, dict[str, str]]] = {}
    seen_on: dict[int, int] = {}
    try:
        for row_no, cells in enumerate(reader, start=2):
            if row_no - 1 > MAX_CSV_ROWS:
                raise ValidationError({"file": f"At most {MAX_CSV_ROWS} rows."})
            if not any(c.strip() for c in cells):
                continue  # blank lines at the end of a spreadsheet export

            def cell(key: str, cells=cells) -> str:
                index = columns.get(key)
                return cells[index] if index is not None and index < len(cells) else ""

            where = f"rows[{row_no}]"
            ref = cell("video").strip()
            video = None
            if not ref:
                errors[f"{where}.video"] = [f"Row {row_no}: the video cell is empty."]
            elif ref.isdigit() and int(ref) in by_id:
                video = by_id[int(ref)]
            else:
                matches = by_name.get(ref.casefold(), [])
                if len(matches) == 1:
                    video = matches[0]
                elif matches:
                    errors[f"{where}.video"] = [
                        f"Row {row_no}: {len(matches)} videos are named “{ref}”; use the id "
                        f"({', '.join(str(v.pk) for v in matches)})."
                    ]
                else:
                    errors[f"{where}.video"] = [
                        f"Row {row_no}: no video “{ref[:100]}” in this project."
                    ]
            try:
                fields = _subject_fields(
                    {k: cell(k) for k in ("subject_id", "group", "session", "notes")}, f"{where}."
                )
            except ValidationError as exc:
                for key, messages in exc.message_dict.items():
                    errors[key] = [f"Row {row_no}: {m}" for m in messages]
                fields = None
            if video is not None and fields is not None:
                if video.pk in seen_on:
                    errors[f"{where}.video"] = [
                        f"Row {row_no}: “{video.original_name}” is already on row "
                        f"{seen_on[video.pk]}."
                    ]
                else:
                    seen_on[video.pk] = row_no
                    wanted[video.pk] = (video, fields)
            if len(errors) >= MAX_CSV_ERRORS:
                break
    except csv.Error as exc:
        raise ValidationError({"file": f"Not a readable CSV file ({exc})."}) from None
    if errors:
        raise ValidationError(errors)
    if not wanted:
        raise ValidationError({"file": "The file has no data rows."})
    created = updated = 0
    subjects = []
    with transaction.atomic():
        for video, fields in wanted.values():
            info, was_created = SubjectInfo.objects.update_or_create(video=video, defaults=fields)
            created += was_created
            updated += not was_created
            subjects.append(info)
    return SubjectImport(
        created=created, updated=updated, ignored_columns=ignored, subjects=subjects
    )


# --- analysis settings ----------------------------------------------------------------
def analysis_settings_save(*, project: Project, **values: Any) -> AnalysisSettings:
    """Store the project's default analysis parameters (validated as a whole by the core;
    a value left out keeps its current setting)."""
    unknown = sorted(set(values) - set(SETTINGS_FIELDS))
    if unknown:
        raise ValidationError({unknown[0]: "Unknown parameter."})
    current = analysis_settings_for(project=project)
    merged = {name: getattr(current, name) for name in SETTINGS_FIELDS}
    merged.update(values)
    # The one validation every analysis gets (behavior.core.AnalysisParams.checked):
    # window inside [0, a week] with end after start, bins of at least MIN_BIN_S, the
    # smoothing window and order checked even while smoothing is off.
    params = analysis_params_clean(project=project, overrides=merged, use_settings=False)
    clean = {name: getattr(params, name) for name in SETTINGS_FIELDS}
    clean["smoothing"] = clean["smoothing"] or ""
    settings_row, _ = AnalysisSettings.objects.update_or_create(project=project, defaults=clean)
    return settings_row
