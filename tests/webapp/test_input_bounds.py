"""Parser inputs never crash the server: deep JSON is a 400 with a reason, huge integers in
ids and parameters are a 400/404, never a 500 from RecursionError or OverflowError."""

from __future__ import annotations

import json

import pytest

from django.test import Client

from labeling.models import Role
from tests.labeling.annotation_helpers import make_frames, make_video
from webapp.jsondepth import JSONTooDeep, json_depth, json_depth_check

DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


def test_json_depth_counts_nesting_but_not_brackets_in_strings():
    assert json_depth('{"boxes": [{"x": 1}]}') == 3
    assert json_depth('"[[[[" ') == 0
    assert json_depth(r'["\"[[[", {"k": "]]]"}]') == 2
    assert json_depth("3") == 0
    with pytest.raises(JSONTooDeep):
        json_depth_check(DEEP, max_depth=64)
    json_depth_check(json.dumps([[[1]]]), max_depth=3)


@pytest.mark.django_db
@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT])
def test_deep_json_to_the_token_endpoint_is_a_400_without_logging_in(body):
    response = Client().post("/api/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert "deeper than" in response.json()["detail"]


@pytest.mark.django_db
def test_deep_json_to_api_endpoints_is_a_400(api_client_for, owner, project):
    client = api_client_for(owner)
    frame = make_frames(make_video(project), 1)[0]
    urls = [
        ("post", "/api/projects/"),
        ("post", f"/api/projects/{project.pk}/classes/"),
        ("put", f"/api/frames/{frame.pk}/annotation/"),
        ("post", f"/api/projects/{project.pk}/training-jobs/"),
    ]
    for method, url in urls:
        response = getattr(client, method)(url, DEEP, content_type="application/json")
        assert response.status_code == 400, (url, response.status_code)
        assert "deeper than" in str(response.json()), url


@pytest.mark.django_db
def test_ordinary_nesting_still_parses(api_client_for, owner, project):
    client = api_client_for(owner)
    response = client.post(f"/api/projects/{project.pk}/classes/", {"name": "rat"}, format="json")
    assert response.status_code == 201


HUGE = "99999999999999999999"  # > 2**63 - 1: OverflowError on SQLite, DataError on PostgreSQL


def test_bounded_int_accepts_only_the_database_range():
    from webapp.bounds import DB_INT_MAX, bounded_int

    assert bounded_int("42") == 42 and bounded_int(str(DB_INT_MAX)) == DB_INT_MAX
    for bad in (str(DB_INT_MAX + 1), HUGE, "9" * 5000, "-1", "", "1e3", "١٢", True, None, 2.0):
        assert bounded_int(bad) is None, bad


@pytest.mark.django_db
def test_huge_integers_in_query_parameters_are_400s(api_client_for, owner, project):
    client = api_client_for(owner)
    urls = [
        f"/api/projects/{project.pk}/frames/?video={HUGE}",
        f"/api/projects/{project.pk}/compare/?models={HUGE}",
        f"/api/projects/{project.pk}/compare.csv?models=1,{HUGE}",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 400, (url, response.status_code)
    client.force_login(owner)
    page = client.get(f"/projects/{project.pk}/compare/?models={HUGE}")
    assert page.status_code in (200, 400) and b"not a model id" in page.content


def test_a_huge_predictions_offset_is_refused():
    from evaluation.serializers import PredictionListInput

    params = PredictionListInput(data={"offset": HUGE})
    assert not params.is_valid() and "offset" in params.errors


@pytest.mark.django_db
def test_huge_ids_in_the_path_are_404s(api_client_for, owner, make_user, member_of, project):
    from labeling.models import ProjectMembership

    member_of(make_user("mia"), Role.ANNOTATOR)
    client = api_client_for(owner)
    url = f"/api/projects/{project.pk}/members/{HUGE}/"
    assert client.patch(url, {"role": "viewer"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404
    assert client.get(f"/api/projects/{HUGE}/").status_code == 404
    assert client.get(f"/api/frames/{'9' * 5000}/annotation/").status_code == 404
    client.force_login(owner)
    assert client.post(f"/projects/{project.pk}/members/{HUGE}/remove/").status_code == 404
    assert ProjectMembership.objects.filter(project=project).count() == 2


@pytest.mark.django_db
def test_a_split_seed_past_the_column_is_a_400(api_client_for, owner, project):
    client = api_client_for(owner)
    for seed in (2**63, 2**31):
        response = client.patch(f"/api/projects/{project.pk}/", {"split_seed": seed}, format="json")
        assert response.status_code == 400 and "split_seed" in response.json()
    client.force_login(owner)
    form = {"split_train": 70, "split_val": 20, "split_test": 10, "split_seed": 2**63}
    assert client.post(f"/projects/{project.pk}/split/", form).status_code == 400
    project.refresh_from_db()
    assert project.split_seed == 0


@pytest.mark.django_db
def test_a_range_header_with_thousands_of_digits_is_a_416_or_the_end(client, owner, project):
    from django.core.files.base import ContentFile

    video = make_video(project)
    video.file.save("v.mp4", ContentFile(b"0123456789"), save=True)
    client.force_login(owner)
    url = f"/projects/{project.pk}/videos/{video.pk}/file"
    response = client.get(url, HTTP_RANGE="bytes=" + "5" * 5000 + "-")
    assert response.status_code == 416
    response = client.get(url, HTTP_RANGE="bytes=2-" + "9" * 5000)
    assert response.status_code == 206 and b"".join(response.streaming_content) == b"23456789"
    response = client.get(url, HTTP_RANGE="bytes=-" + "9" * 5000)
    assert response.status_code == 206 and b"".join(response.streaming_content) == b"0123456789"
    assert client.get(url, HTTP_RANGE="bytes=2-4").status_code == 206


@pytest.mark.django_db
def test_object_for_user_answers_404_for_ids_past_the_range(owner, project):
    from django.http import Http404

    from labeling.selectors import project_for_user

    for pk in (2**63, 2**64, HUGE, "9" * 5000, "-1", "x", None):
        with pytest.raises(Http404):
            project_for_user(user=owner, project_id=pk)
    assert project_for_user(user=owner, project_id=str(project.pk)) == project
