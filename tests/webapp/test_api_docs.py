"""The OpenAPI schema and the interactive docs work under the strict CSP."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import login, screenshot


@pytest.mark.django_db
def test_schema_lists_the_project_endpoints(client, owner):
    client.force_login(owner)
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert "/api/projects/" in schema["paths"]
    assert "/api/projects/{project_id}/members/" in schema["paths"]


@pytest.mark.django_db
def test_token_auth_works_for_scripts(client, api_client_for, owner, project):
    from rest_framework.test import APIClient

    from tests.conftest import PASSWORD

    token = client.post("/api/auth/token/", {"username": owner.username, "password": PASSWORD})
    assert token.status_code == 200
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert [p["name"] for p in api.get("/api/projects/").json()] == [project.name]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_interactive_docs_render_in_the_browser(page, make_user):
    login(page, make_user("doc-reader"))
    page.goto("/api/docs/")
    page.wait_for_selector("text=MouseTrack Studio API")
    # Tags open folded (200+ operations); a tag unfolds its operations.
    page.click("#operations-tag-projects")
    page.wait_for_selector("text=/api/projects/")
    screenshot(page, "api-docs")
    assert not page.js_errors, page.js_errors
