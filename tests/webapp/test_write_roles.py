"""Every write has a stated minimum role (issue 21, item 2): the table in docs/ROLES.md is
the data. For each row, a non-member gets 404 and each member below the minimum 403, and no
row of the database changes; every write route of the URLconf is in the table; a POST to a
page the table does not list (a page that only reads) changes nothing either."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from labeling.models import Role

TABLE = Path(__file__).resolve().parents[2] / "docs" / "ROLES.md"
PROJECT_ROLES = [Role.VIEWER, Role.ANNOTATOR, Role.OWNER]
WRITE_METHODS = ("post", "put", "patch", "delete")
# Routes outside the application (Django's admin, the schema and its docs page).
OUTSIDE = re.compile(r"^(admin/|api/schema/|api/docs/)")


def read_table() -> list[tuple[str, str, str, str]]:
    """(method, route name, path, minimum role) for every row between the markers."""
    text = TABLE.read_text()
    body = text.split("<!-- roles-table:start -->")[1].split("<!-- roles-table:end -->")[0]
    rows = []
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("Method", "---"):
            continue
        rows.append((cells[0], cells[1], cells[2], cells[3]))
    return rows


ROWS = read_table()
PROJECT_ROWS = [r for r in ROWS if r[3] in PROJECT_ROLES]


def _routes():
    """(route text, URLPattern) for every route of the URLconf."""
    from django.urls import URLResolver, get_resolver

    def walk(resolver, prefix=""):
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                yield from walk(p, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern), p

    return [(route, p) for route, p in walk(get_resolver()) if not OUTSIDE.match(route)]


# --- objects ------------------------------------------------------------------------------
@pytest.fixture
def world(owner, project, member_of, make_user):
    """One project with one of every kind of object a write route names, its members (one
    per role) and an outsider."""
    from assisted.models import PrelabelJob
    from behavior.models import ArenaTemplate, FreezingJob
    from evaluation.models import EvaluationRun
    from labeling.datasets.versions import dataset_version_create
    from labeling.models import (
        DatasetExportJob,
        DatasetImportJob,
        FrameSamplingJob,
        ImageSetImportJob,
        VideoUploadJob,
    )
    from tests.training.helpers import fake_model, make_frames
    from tracking.models import LiveSession, TrackingEdit, TrackingRun
    from training.models import TrainingJob

    frames = make_frames(project, splits=["train", "val"])
    video = frames[0].video
    version = dataset_version_create(project=project, name="v1", created_by=owner)
    model = fake_model(project, name="m1")
    run = TrackingRun.objects.create(
        project=project, model=model, video=video, model_sha256="0", n_animals=2
    )
    evaluation = EvaluationRun.objects.create(
        project=project, model=model, dataset_version=version, status="succeeded"
    )
    kinds = {
        "sampling-jobs": FrameSamplingJob.objects.create(
            video=video, strategy="uniform", params={"count": 2}, status="running"
        ),
        "dataset-import-jobs": DatasetImportJob.objects.create(
            project=project, fmt="yolo", status="failed"
        ),
        "dataset-export-jobs": DatasetExportJob.objects.create(
            project=project, fmt="yolo", status="running"
        ),
        "video-upload-jobs": VideoUploadJob.objects.create(project=project, status="running"),
        "imageset-jobs": ImageSetImportJob.objects.create(project=project, status="failed"),
        "training-jobs": TrainingJob.objects.create(
            project=project, dataset_version=version, preset="yolo11n", name="j1"
        ),
        "training/jobs": None,  # filled below: the page routes of the same job
        "prelabel-jobs": PrelabelJob.objects.create(project=project, source="bootstrap"),
        "tracking-runs": run,
        "evaluations": evaluation,
        "freezing-jobs": FreezingJob.objects.create(run=run, key="k", params={}),
        "live-sessions": LiveSession.objects.create(
            project=project,
            model=model,
            source="/dev/video0",
            source_key="/dev/video0",
            status="running",
        ),
    }
    kinds["training/jobs"] = kinds["training-jobs"]
    members = {role: member_of(make_user(f"m-{role}"), role) for role in PROJECT_ROLES[:2]}
    members[Role.OWNER] = owner
    bystander = member_of(make_user("m-bystander"), Role.VIEWER)
    return {
        "project": project,
        "members": members,
        "outsider": make_user("outsider"),
        "kinds": kinds,
        "ids": {
            "project_id": project.pk,
            "animal": 1,
            "user_id": bystander.pk,
            "class_id": project.classes.get().pk,
            "frame_id": frames[0].pk,
            "video_id": video.pk,
            "version_id": version.pk,
            "model_id": model.pk,
            "edit_id": TrackingEdit.objects.create(
                run=run, animal_a=1, animal_b=2, from_frame=0
            ).pk,
            "template_id": ArenaTemplate.objects.create(
                project=project, name="t1", frame_width=128, frame_height=96
            ).pk,
        },
    }


def _url(world, path: str, actor) -> str:
    """The row's path with the world's ids (a job or run id by the segment before it; an
    upload id of an upload the actor started, so the role check is what answers)."""
    from labeling.models import ChunkedUpload

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name == "upload_id":
            upload = ChunkedUpload.objects.create(
                id=uuid.uuid4(),
                project=world["project"],
                created_by=actor,
                file_name="a.mp4",
                size=10,
            )
            return str(upload.pk)
        if name in ("job_id", "run_id"):
            before = path[: match.start()].rstrip("/")
            kind = next(k for k in world["kinds"] if before.endswith(k))
            return str(world["kinds"][kind].pk)
        return str(world["ids"][name])

    return re.sub(r"{(\w+)}", fill, path)


def database_state() -> dict:
    """Every row of every table of the application (sessions and throttling aside)."""
    from django.apps import apps

    skip = {"sessions", "admin", "contenttypes", "authtoken"}
    state = {}
    for model in apps.get_models():
        if model._meta.app_label in skip or model._meta.model_name == "workerping":
            continue
        rows = model._default_manager.model._base_manager.order_by("pk").values()
        state[model._meta.label] = [
            {k: v for k, v in row.items() if k != "last_login"} for row in rows
        ]
    return state


def _call(client, method: str, url: str):
    if method == "PATCH":
        return client.patch(
            url,
            data=b"\0" * 4,
            content_type="application/offset+octet-stream",
            HTTP_UPLOAD_OFFSET="0",
            HTTP_TUS_RESUMABLE="1.0.0",
        )
    if method in ("PUT", "DELETE"):
        return getattr(client, method.lower())(url, data={}, content_type="application/json")
    return client.post(url, data={})


# --- the table is honoured -------------------------------------------------------------------
def _below(role: str) -> list[str]:
    return PROJECT_ROLES[: PROJECT_ROLES.index(role)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "name", "path", "role"), PROJECT_ROWS, ids=[f"{r[0]} {r[1]}" for r in PROJECT_ROWS]
)
def test_a_role_below_the_minimum_is_refused_and_changes_nothing(
    client, world, method, name, path, role
):
    actors = [("outsider", world["outsider"], 404)]
    actors += [(r, world["members"][r], 403) for r in _below(role)]
    for label, user, expected in actors:
        client.force_login(user)
        url = _url(world, path, user)
        before = database_state()
        answer = _call(client, method, url)
        assert answer.status_code == expected, (label, method, url, answer.status_code)
        assert database_state() == before, (label, method, url, "changed the database")


def test_the_table_paths_resolve_to_the_named_routes():
    from django.urls import resolve

    for method, name, path, _ in ROWS:
        sample = re.sub(r"{upload_id}", str(uuid.uuid4()), path)
        sample = re.sub(r"{\w+}", "7", sample)
        assert resolve(sample).url_name == name, (method, path)


def test_every_write_route_is_in_the_table():
    """API views: exactly the methods they implement; pages: every page that accepts a
    form (a POST that is not refused with 405 and not listed is checked below to write
    nothing)."""
    from django.views.generic.edit import ProcessFormView

    listed = {(method.lower(), name) for method, name, _, _ in ROWS}
    missing = []
    for route, pattern in _routes():
        view_class = getattr(pattern.callback, "view_class", None)
        if view_class is None:
            continue
        for method in WRITE_METHODS:
            implemented = hasattr(view_class, method)
            if method == "put" and getattr(view_class, "put", None) is ProcessFormView.put:
                implemented = False  # Django's form views: PUT is POST, the POST row rules
            if implemented and (method, pattern.name) not in listed:
                missing.append(f"{method.upper()} {route} ({pattern.name})")
            if (method, pattern.name) in listed and not implemented:
                missing.append(f"listed but absent: {method.upper()} {route}")
    assert not missing, "\n".join(missing)


def _page_routes_not_listed():
    listed = {r[1] for r in ROWS}
    return sorted(
        {
            (route, p.name)
            for route, p in _routes()
            if getattr(p.callback, "view_class", None) is None and p.name not in listed
        }
    )


@pytest.mark.django_db
def test_a_post_to_a_page_that_only_reads_changes_nothing(client, world):
    """Even the owner: the pages not in the table take no form."""
    client.force_login(world["members"][Role.OWNER])
    world["kinds"]["hard-frame-jobs"] = world["kinds"]["prelabel-jobs"]
    checked = []
    for route, name in _page_routes_not_listed():
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        url = _url(world, path, world["members"][Role.OWNER])
        before = database_state()
        answer = client.post(url, data={"name": "x", "username": "outsider", "role": "owner"})
        assert answer.status_code < 500, (url, answer.status_code)
        assert database_state() == before, (url, "a read-only page changed the database")
        checked.append(name)
    assert "project-detail" in checked and "dataset" in checked, checked
