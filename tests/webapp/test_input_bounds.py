"""Parser inputs never crash the server: deep JSON is a 400 with a reason, huge integers in
ids and parameters are a 400/404, never a 500 from RecursionError or OverflowError."""

from __future__ import annotations

import json

import pytest

from django.test import Client

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
