"""The experiment table: one row per video × animal with subject and trust figures, CSV and
XLSX that pandas reads back, group summaries; and the subject CSV import a lab keeps."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from django.core.files.uploadedfile import SimpleUploadedFile

from behavior.arenas.services import arena_setup_save
from behavior.experiment.services import subject_info_save
from behavior.models import SubjectInfo
from labeling.models import Role
from tests.tracking.run_helpers import (
    ARENA_CM,
    OPEN_FIELD,
    make_tracked_run,
    make_trajectory,
    make_video,
    sit_still,
    walk_right,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiment(project):
    """Three videos: two calibrated single-animal runs and one two-animal run."""
    videos = []
    for name, group, centres in (
        ("m1.mp4", "saline", walk_right()),
        ("m2.mp4", "drug", sit_still()),
        ("pair.mp4", "drug", np.stack([walk_right(), sit_still()], axis=1)),
    ):
        video = make_video(project, name=name)
        arena_setup_save(video=video, calibration="arena", arena=ARENA_CM, **OPEN_FIELD)
        subject_info_save(video=video, subject_id=name[:-4].upper(), group=group, session="day 1")
        make_tracked_run(
            project=project,
            video=video,
            trajectory=make_trajectory(centres),
            trust={"detected_share": 0.98, "animals": {"1": {"swaps_suspected": 0}}},
        )
        videos.append(video)
    return videos


@pytest.fixture
def api(api_client_for, owner):
    return api_client_for(owner)


def test_the_csv_has_one_row_per_video_and_animal(api, project, experiment):
    response = api.get(f"/api/projects/{project.pk}/experiment.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    df = pd.read_csv(io.StringIO(response.content.decode()))
    assert len(df) == 4
    assert list(df[["video", "animal"]].itertuples(index=False, name=None)) == [
        ("m1.mp4", 1),
        ("m2.mp4", 1),
        ("pair.mp4", 1),
        ("pair.mp4", 2),
    ]
    assert list(df.columns[:9]) == [
        "video", "video_id", "run", "animal", "subject_id", "group", "session", "notes", "units",
    ]  # fmt: skip
    m1 = df.iloc[0]
    assert m1["subject_id"] == "M1" and m1["group"] == "saline" and m1["units"] == "cm"
    assert m1["distance"] == pytest.approx(29.9)
    assert m1["zone:centre:entries"] == 1
    assert m1["zone:centre:latency_s"] == pytest.approx(100 / 30)
    assert np.isnan(df.iloc[1]["zone:centre:latency_s"])  # never entered: empty, not 0
    assert df["trust:detected_share"].tolist() == [0.98] * 4
    assert df["trust:swaps_suspected"].iloc[0] == 0
    assert np.isnan(df["trust:swaps_suspected"].iloc[3])  # no figure for animal 2


def test_the_xlsx_holds_the_table_the_summary_and_every_parameter(api, project, experiment):
    response = api.get(f"/api/projects/{project.pk}/experiment.xlsx")
    assert response.status_code == 200
    sheets = pd.read_excel(io.BytesIO(response.content), sheet_name=None)
    assert set(sheets) == {"experiment", "summary", "bouts", "parameters"}
    bouts = sheets["bouts"]
    # m1 walks into the centre at frame 100 and stays; it starts in the periphery.
    m1 = bouts[(bouts["video"] == "m1.mp4") & (bouts["zone"] == "centre")]
    assert len(m1) == 1 and m1["entry_s"].iloc[0] == pytest.approx(100 / 30)
    assert np.isnan(m1["exit_s"].iloc[0]) and bool(m1["ends_at_window_end"].iloc[0])
    assert set(bouts["group"]) == {"saline", "drug"}
    table = sheets["experiment"]
    assert len(table) == 4 and table["distance"].iloc[0] == pytest.approx(29.9)
    summary = sheets["summary"]
    drug = summary[(summary["group"] == "drug") & (summary["measure"] == "distance")].iloc[0]
    assert drug["n"] == 3
    assert drug["mean"] == pytest.approx(29.9 / 3)
    params = sheets["parameters"]
    assert set(params["parameter"]) >= {"px_per_cm", "max_gap_s", "window_end_s", "zones"}


def test_the_json_has_rows_summary_and_runs(api, project, experiment):
    body = api.get(f"/api/projects/{project.pk}/experiment/").json()
    assert len(body["rows"]) == 4 and body["units"] == "cm"
    assert "distance" in body["measures"] and "video_id" not in body["measures"]
    saline = [s for s in body["summary"] if s["group"] == "saline" and s["measure"] == "distance"]
    assert saline[0]["n"] == 1 and saline[0]["sem"] is None
    assert len(body["runs"]) == 3 and body["runs"][0]["parameters"]["px_per_cm"] == 10
    only = api.get(f"/api/projects/{project.pk}/experiment/?group=saline").json()
    assert [r["video"] for r in only["rows"]] == ["m1.mp4"]


def test_rows_per_time_bin(api, project, experiment):
    response = api.get(f"/api/projects/{project.pk}/experiment.csv?by_bin=true&bin_s=5")
    df = pd.read_csv(io.StringIO(response.content.decode()))
    assert len(df) == 8 and df["bin"].tolist() == [1, 2] * 4  # 1-based, as the pages
    first = df[df["video"] == "m1.mp4"]
    assert first["distance"].sum() == pytest.approx(29.9)
    no_bins = api.get(f"/api/projects/{project.pk}/experiment.csv?by_bin=true")
    assert no_bins.status_code == 400 and "bin_s" in no_bins.json()


def test_a_window_past_one_video_names_the_field_and_the_video(api, project, experiment):
    response = api.get(f"/api/projects/{project.pk}/experiment/?end_s=20")
    assert response.status_code == 400
    assert "m1.mp4" in response.json()["end_s"][0]


def test_calibrated_and_uncalibrated_videos_cannot_be_mixed(api, project, experiment):
    arena_setup_save(video=experiment[1], **OPEN_FIELD)  # no calibration: pixels
    response = api.get(f"/api/projects/{project.pk}/experiment.csv")
    assert response.status_code == 400 and "units" in response.json()


def test_group_plots_are_pngs(api, project, experiment):
    for kind in ("bar", "box"):
        response = api.get(
            f"/api/projects/{project.pk}/experiment/plot.png?measure=distance&kind={kind}"
        )
        assert response.status_code == 200 and response.content.startswith(b"\x89PNG")
    bad = api.get(f"/api/projects/{project.pk}/experiment/plot.png?measure=video_id")
    assert bad.status_code == 400 and "measure" in bad.json()


def test_an_empty_project_has_an_empty_table(api, project):
    response = api.get(f"/api/projects/{project.pk}/experiment.csv")
    assert response.status_code == 200
    assert pd.read_csv(io.StringIO(response.content.decode())).empty


# --- subject import -------------------------------------------------------------------
def _upload(api, project, text: str, *, encoding: str = "utf-8"):
    file = SimpleUploadedFile("subjects.csv", text.encode(encoding), content_type="text/csv")
    return api.post(
        f"/api/projects/{project.pk}/subjects/import/", {"file": file}, format="multipart"
    )


def test_a_lab_csv_sets_subjects_by_video_name_or_id(api, project):
    a = make_video(project, name="day1-cage3.mp4")
    b = make_video(project, name="day1-cage4.mp4")
    text = (
        "\ufeffVideo;Subject;Treatment;Day;Notes;Weight (g)\n"
        f"day1-cage3.mp4;M07;saline;1;calm\n"
        f"{b.pk};M08;=HYPERLINK();1;\n"
        ";;;;\n"
    )
    response = _upload(api, project, text)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["updated"]) == (2, 0)
    assert body["ignored_columns"] == ["Weight (g)"]
    assert SubjectInfo.objects.get(video=a).group == "saline"
    assert SubjectInfo.objects.get(video=b).subject_id == "M08"
    # Stored as text; the CSV export defuses it as a formula.
    assert SubjectInfo.objects.get(video=b).group == "=HYPERLINK()"
    again = _upload(api, project, "video,group\nday1-cage3.mp4,drug\n")
    assert again.json()["updated"] == 1
    assert SubjectInfo.objects.get(video=a).group == "drug"
    assert SubjectInfo.objects.get(video=a).subject_id == ""  # the row is the truth


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("video,group\nm1.mp4,a\nnope.mp4,b\n", "rows[3].video", "no video “nope.mp4”"),
        ("video,group\nm1.mp4,a\nm1.mp4,b\n", "rows[3].video", "already on row 2"),
        ("video,group\n,a\n", "rows[2].video", "empty"),
        ("subject,group\nM1,a\n", "file", "“video” column"),
        ("video,group\nm1.mp4," + "x" * 101 + "\n", "rows[2].group", "At most 100"),
        ("", "file", "empty"),
    ],
)
def test_bad_csv_rows_are_named_and_nothing_is_stored(api, project, text, field, words):
    make_video(project, name="m1.mp4")
    response = _upload(api, project, text)
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert words in response.json()[field][0]
    assert not SubjectInfo.objects.exists()


def test_two_videos_with_one_name_need_the_id(api, project):
    first = make_video(project, name="same.mp4")
    make_video(project, name="same.mp4")
    response = _upload(api, project, "video,group\nsame.mp4,a\n")
    assert response.status_code == 400 and str(first.pk) in response.json()["rows[2].video"][0]


def test_binary_files_are_refused(api, project):
    file = SimpleUploadedFile("x.csv", b"\x00\x01\x02video", content_type="text/csv")
    response = api.post(
        f"/api/projects/{project.pk}/subjects/import/", {"file": file}, format="multipart"
    )
    assert response.status_code == 400 and "file" in response.json()


def test_annotators_edit_subjects_one_by_one(api_client_for, make_user, member_of, project):
    video = make_video(project)
    annotator = api_client_for(member_of(make_user("ann"), Role.ANNOTATOR))
    response = annotator.put(
        f"/api/videos/{video.pk}/subject/", {"subject_id": "M1", "group": "KO"}, format="json"
    )
    assert response.status_code == 200 and response.json()["group"] == "KO"
    listed = annotator.get(f"/api/projects/{project.pk}/subjects/").json()
    assert listed == [
        {
            "video": video.pk,
            "video_name": "mouse-1.mp4",
            "subject_id": "M1",
            "group": "KO",
            "session": "",
            "notes": "",
        }
    ]
