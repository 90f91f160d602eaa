"""Behaviour API: who may read and write (non-members 404, viewers 403 on writes), bad
input is a 400 naming the field with nothing stored, and the images are PNGs."""

from __future__ import annotations

import json

import pytest

from behavior.arenas.services import arena_setup_save
from behavior.models import ArenaSetup, ArenaTemplate, SubjectInfo
from labeling.models import Role, Video
from tests.tracking.run_helpers import (
    ARENA_CM,
    OPEN_FIELD,
    make_tracked_run,
    make_trajectory,
    make_video,
    walk_right,
)

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def video(project):
    return make_video(project)


@pytest.fixture
def run(project, video):
    arena_setup_save(video=video, calibration="arena", arena=ARENA_CM, **OPEN_FIELD)
    return make_tracked_run(project=project, video=video, trajectory=make_trajectory(walk_right()))


@pytest.fixture
def owner_api(api_client_for, owner):
    return api_client_for(owner)


@pytest.fixture
def viewer_api(api_client_for, make_user, member_of):
    return api_client_for(member_of(make_user("vera"), Role.VIEWER))


@pytest.fixture
def stranger_api(api_client_for, make_user):
    return api_client_for(make_user("mallory"))


def reads(project, video, run) -> list[str]:
    return [
        f"/api/videos/{video.pk}/arena/",
        f"/api/videos/{video.pk}/subject/",
        f"/api/projects/{project.pk}/arena-templates/",
        f"/api/projects/{project.pk}/subjects/",
        f"/api/projects/{project.pk}/analysis-settings/",
        f"/api/tracking-runs/{run.pk}/analysis/",
        f"/api/tracking-runs/{run.pk}/heatmap.png",
        f"/api/tracking-runs/{run.pk}/trajectory.png",
        f"/api/projects/{project.pk}/experiment/",
        f"/api/projects/{project.pk}/experiment.csv",
        f"/api/projects/{project.pk}/experiment.xlsx",
        f"/api/projects/{project.pk}/experiment/plot.png?measure=distance",
        f"/projects/{project.pk}/experiment/",
        f"/projects/{project.pk}/videos/{video.pk}/arena/",
        f"/projects/{project.pk}/videos/{video.pk}/arena/background.jpg",
        f"/tracking-runs/{run.pk}/analysis/",
    ]


def writes(project, video) -> list[tuple[str, str, dict]]:
    return [
        ("put", f"/api/videos/{video.pk}/arena/", {"zones": []}),
        ("delete", f"/api/videos/{video.pk}/arena/", {}),
        ("put", f"/api/videos/{video.pk}/subject/", {"group": "saline"}),
        ("post", f"/api/projects/{project.pk}/arena-templates/", {"name": "t", "video": video.pk}),
        ("put", f"/api/projects/{project.pk}/analysis-settings/", {"bin_s": 60}),
    ]


def test_non_members_get_404_for_everything(stranger_api, client, make_user, project, video, run):
    for url in reads(project, video, run):
        if url.startswith("/api/"):
            assert stranger_api.get(url).status_code == 404, url
    client.force_login(make_user("eve"))
    for url in reads(project, video, run):
        if not url.startswith("/api/"):
            assert client.get(url).status_code == 404, url
    for method, url, body in writes(project, video):
        assert getattr(stranger_api, method)(url, body, format="json").status_code == 404, url


def test_viewers_read_everything_and_write_nothing(viewer_api, client, project, video, run):
    for url in reads(project, video, run):
        if url.startswith("/api/"):
            assert viewer_api.get(url).status_code == 200, url
    for method, url, body in writes(project, video):
        assert getattr(viewer_api, method)(url, body, format="json").status_code == 403, url
    response = viewer_api.post(
        f"/api/projects/{project.pk}/subjects/import/",
        {"file": _csv("video,group\nmouse-1.mp4,saline\n")},
        format="multipart",
    )
    assert response.status_code == 403
    assert ArenaSetup.objects.get(video=video).zones  # untouched
    assert not SubjectInfo.objects.exists() and not ArenaTemplate.objects.exists()


def test_pages_render_for_members(client, owner, project, video, run):
    client.force_login(owner)
    for url in reads(project, video, run):
        if not url.startswith("/api/"):
            response = client.get(url)
            assert response.status_code == 200, url
    page = client.get(f"/tracking-runs/{run.pk}/analysis/").content.decode()
    assert "Definitions" in page and "<strong>Distance</strong>" in page


def _csv(text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("subjects.csv", text.encode(), content_type="text/csv")


# --- arena ------------------------------------------------------------------------------
def test_put_arena_stores_and_returns_it(owner_api, video):
    response = owner_api.put(
        f"/api/videos/{video.pk}/arena/",
        {"calibration": "arena", "arena": ARENA_CM, **OPEN_FIELD},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["saved"] and body["units"] == "cm" and body["px_per_cm"] == pytest.approx(10)
    assert [z["name"] for z in body["zones"]] == ["centre", "periphery"]
    assert body["background_url"].endswith("/arena/background.jpg")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            '{"zones": [{"name": "a", "shape": "polygon", "points": [[0,0],[9,9],[9,0],[0,9]]}]}',
            "zones[0].points",
        ),
        (
            '{"zones": [{"name": "a", "shape": "rect", "x": 600, "y": 0, "w": 100, "h": 10}]}',
            "zones[0].w",
        ),
        (
            '{"zones": [{"name": "a", "shape": "rect", "x": NaN, "y": 0, "w": 1, "h": 10}]}',
            "zones[0].x",
        ),
        ('{"ruler": {"x1": 10, "y1": 10, "x2": 10, "y2": 10, "length_cm": 5}}', "ruler.x2"),
        (
            '{"ruler": {"x1": 10, "y1": 10, "x2": 300, "y2": 10, "length_cm": Infinity}}',
            "ruler.length_cm",
        ),
        ('{"ruler": {"x1": 1e400, "y1": 10, "x2": 300, "y2": 10, "length_cm": 5}}', "ruler.x1"),
        ('{"calibration": "ruler"}', "ruler"),
        ('{"zones": "everything"}', "zones"),
        ('{"membership": "touching"}', "membership"),
    ],
)
def test_bad_arenas_are_400_naming_the_field_and_nothing_is_stored(owner_api, video, body, field):
    response = owner_api.generic(
        "PUT", f"/api/videos/{video.pk}/arena/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not ArenaSetup.objects.exists()


def test_deeply_nested_json_is_a_400(owner_api, video):
    body = '{"zones": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = owner_api.generic(
        "PUT", f"/api/videos/{video.pk}/arena/", body, content_type="application/json"
    )
    assert response.status_code == 400


def test_image_sets_and_huge_ids_have_no_arena(owner_api, project):
    imageset = Video.objects.create(project=project, kind=Video.Kind.IMAGE_SET, original_name="s")
    assert owner_api.get(f"/api/videos/{imageset.pk}/arena/").status_code == 404
    assert owner_api.get(f"/api/videos/{10**30}/arena/").status_code == 404
    assert owner_api.get(f"/api/tracking-runs/{10**30}/analysis/").status_code == 404


def test_preset_preview_stores_nothing(owner_api, video):
    response = owner_api.post(
        f"/api/videos/{video.pk}/arena/preset/",
        {"preset": "light_dark_box", "preset_params": {"outline": ARENA_CM["outline"]}},
        format="json",
    )
    assert response.status_code == 200
    assert [z["name"] for z in response.json()["zones"]] == ["light", "dark"]
    assert not ArenaSetup.objects.exists()
    bad = owner_api.post(
        f"/api/videos/{video.pk}/arena/preset/",
        {
            "preset": "novel_object_recognition",
            "preset_params": {"objects": [[5, 5]], "radius": 20},
        },
        format="json",
    )
    assert bad.status_code == 400 and "preset_params.objects[0]" in bad.json()


def test_templates_are_created_listed_and_applied(owner_api, project, video):
    arena_setup_save(video=video, **OPEN_FIELD)
    created = owner_api.post(
        f"/api/projects/{project.pk}/arena-templates/",
        {"name": "OF", "video": video.pk},
        format="json",
    )
    assert created.status_code == 201, created.json()
    other = make_video(project, name="b.mp4")
    applied = owner_api.post(
        created.json()["links"]["apply"],
        {"videos": [{"id": other.pk, "dx": 5, "dy": 0, "scale": 1}]},
        format="json",
    )
    assert applied.status_code == 200, applied.json()
    assert ArenaSetup.objects.get(video=other).zones[0]["x"] == 205
    listed = owner_api.get(f"/api/projects/{project.pk}/arena-templates/").json()
    assert [t["name"] for t in listed] == ["OF"]
    bad = owner_api.post(created.json()["links"]["apply"], {"videos": [True]}, format="json")
    assert bad.status_code == 400 and "videos[0]" in bad.json()


# --- analysis -------------------------------------------------------------------------
def test_analysis_takes_parameters_from_the_query(owner_api, run):
    response = owner_api.get(f"/api/tracking-runs/{run.pk}/analysis/?bin_s=5&end_s=10")
    assert response.status_code == 200
    body = response.json()
    assert body["run"] == run.pk and body["units"] == "cm"
    assert len(body["animals"][0]["bins"]) == 2
    assert body["animals"][0]["zones"]["centre"]["entries"] == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("end_s=3600", "end_s"),
        ("start_s=nan", "start_s"),
        ("start_s=inf", "start_s"),
        ("bin_s=abc", "bin_s"),
        ("max_gap_s=" + "9" * 5000, "max_gap_s"),
        ("smoothing_window=" + "9" * 5000, "smoothing_window"),
        ("frobnicate=1", "frobnicate"),
    ],
)
def test_bad_analysis_queries_are_400_naming_the_field(owner_api, run, query, field):
    response = owner_api.get(f"/api/tracking-runs/{run.pk}/analysis/?{query}")
    assert response.status_code == 400
    assert field in response.json(), response.json()


def test_heatmap_and_trajectory_are_pngs(owner_api, run):
    for kind in ("heatmap", "trajectory"):
        response = owner_api.get(f"/api/tracking-runs/{run.pk}/{kind}.png?animal=1&end_s=5")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response.content.startswith(PNG)
    assert owner_api.get(f"/api/tracking-runs/{run.pk}/heatmap.png?animal=2").status_code == 400
    tiny = owner_api.get(f"/api/tracking-runs/{run.pk}/heatmap.png?cell_size=0.00001")
    assert tiny.status_code == 400 and "cell_size" in tiny.json()
    wide = owner_api.get(f"/api/tracking-runs/{run.pk}/heatmap.png?sigma_cells=1e9")
    assert wide.status_code == 400 and "sigma_cells" in wide.json()


def test_an_unfinished_run_is_a_400(owner_api, run):
    run.status = "running"
    run.save()
    response = owner_api.get(f"/api/tracking-runs/{run.pk}/analysis/")
    assert response.status_code == 400 and "run" in response.json()


def test_settings_round_trip_and_name_bad_values(owner_api, project):
    url = f"/api/projects/{project.pk}/analysis-settings/"
    assert owner_api.get(url).json()["immobile_speed"] == 2.0
    ok = owner_api.put(url, {"bin_s": "60", "smoothing": "median"}, format="json")
    assert ok.status_code == 200 and ok.json()["bin_s"] == 60 and ok.json()["smoothing"] == "median"
    bad = owner_api.generic(
        "PUT", url, json.dumps({"box_overlap": 0}), content_type="application/json"
    )
    assert bad.status_code == 400 and "box_overlap" in bad.json()
    assert owner_api.get(url).json()["box_overlap"] == 0.5


@pytest.mark.parametrize(
    ("body", "prefix"),
    [
        # A round arena larger than the frame.
        (
            '{"preset": "open_field", "preset_params": {"outline": '
            '{"shape": "circle", "cx": 320, "cy": 240, "r": 400}}}',
            "preset_params.outline",
        ),
        # A maze outline whose corners were clicked out of order (it crosses itself).
        (
            '{"preset": "light_dark_box", "preset_params": {"outline": '
            '{"shape": "polygon", "points": [[100, 80], [540, 400], [540, 100], [80, 400]]}}}',
            "preset_params.outline",
        ),
        # A circular arena calibrated with a width and height that differ.
        (
            '{"calibration": "arena", "arena": {"outline": {"shape": "circle", "cx": 320, '
            '"cy": 240, "r": 200}, "width_cm": 40, "height_cm": 20}}',
            "arena.height_cm",
        ),
    ],
)
def test_bad_round_and_polygon_outlines_are_400_naming_the_outline(owner_api, video, body, prefix):
    response = owner_api.generic(
        "PUT", f"/api/videos/{video.pk}/arena/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert any(key.startswith(prefix) for key in response.json()), response.json()
    assert not ArenaSetup.objects.exists()
