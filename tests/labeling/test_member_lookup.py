"""Adding a member looks a user up by exact username only, for owners only: nobody can
list or search the accounts of the lab through the app (issue 13)."""

from __future__ import annotations

import pytest

from labeling.models import Role

pytestmark = pytest.mark.django_db


def _add(client, project, username):
    return client.post(
        f"/api/projects/{project.pk}/members/",
        {"username": username, "role": Role.VIEWER},
        format="json",
    )


def test_only_the_exact_username_finds_a_user(api_client_for, owner, project, make_user):
    make_user("alice.jones")
    client = api_client_for(owner)
    answers = {
        name: _add(client, project, name) for name in ("alice", "ALICE.JONES", "alice%", "ghost")
    }
    # A prefix, a case variant, a wildcard and a nobody all get the same answer shape.
    for name, response in answers.items():
        assert response.status_code == 400
        assert response.json() == {"username": [f"No user named “{name}”."]}
    assert _add(client, project, "alice.jones").status_code == 201


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.VIEWER])
def test_members_who_are_not_owners_cannot_probe_usernames(
    api_client_for, project, make_user, member_of, role
):
    make_user("alice.jones")
    prober = member_of(make_user("prober"), role)
    client = api_client_for(prober)
    existing, missing = _add(client, project, "alice.jones"), _add(client, project, "ghost")
    assert existing.status_code == missing.status_code == 403
    assert existing.json() == missing.json()


def test_non_members_see_no_member_list_and_no_endpoint_lists_users(
    api_client_for, project, make_user
):
    stranger = api_client_for(make_user("stranger"))
    assert stranger.get(f"/api/projects/{project.pk}/members/").status_code == 404
    assert _add(stranger, project, "olivia").status_code == 404
    schema = api_client_for(make_user("reader")).get("/api/schema/?format=json").json()
    listing = [p for p in schema["paths"] if p.rstrip("/").rsplit("/", 1)[-1] in ("users", "user")]
    assert not listing
