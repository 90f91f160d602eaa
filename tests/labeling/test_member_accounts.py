"""An owner creates an account for a labmate in the app (issue 21, item 15): username,
email, a temporary password shown once (or one the owner sets), added with a role; no staff
flag can be set that way; owners remove members on the same page."""

from __future__ import annotations

import pytest

from django.contrib.auth import authenticate, get_user_model
from django.test import Client
from django.urls import reverse

from labeling.models import ProjectMembership, Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()


def _url(project) -> str:
    return reverse("api-member-account-create", args=[project.pk])


def test_an_owner_creates_an_account_with_a_temporary_password(project, owner, api_client_for):
    response = api_client_for(owner).post(
        _url(project),
        {
            "username": "lena",
            "email": "lena@lab.test",
            "role": "annotator",
            "is_staff": True,
            "is_superuser": True,
            "groups": [1],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["username"] == "lena" and body["role"] == "annotator"
    temporary = body["temporary_password"]
    assert len(temporary) >= 12 and response["Cache-Control"] == "no-store"
    lena = User.objects.get(username="lena")
    assert lena.email == "lena@lab.test"
    assert not lena.is_staff and not lena.is_superuser and not lena.groups.exists()
    assert authenticate(username="lena", password=temporary) == lena
    assert ProjectMembership.objects.get(project=project, user=lena).role == Role.ANNOTATOR
    # The password is answered once; the members list never shows it.
    listed = api_client_for(owner).get(reverse("api-member-list", args=[project.pk])).json()
    assert "temporary_password" not in str(listed) and temporary not in str(listed)


def test_an_owner_may_set_the_password(project, owner, api_client_for):
    response = api_client_for(owner).post(
        _url(project),
        {"username": "max", "email": "max@lab.test", "role": "viewer", "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["temporary_password"] == ""
    assert authenticate(username="max", password=PASSWORD) is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "Olivia", "email": "o2@lab.test", "role": "viewer"}, "username"),
        ({"username": "bad name!", "email": "x@lab.test", "role": "viewer"}, "username"),
        ({"username": "", "email": "x@lab.test", "role": "viewer"}, "username"),
        ({"username": "ok", "email": "not-an-email", "role": "viewer"}, "email"),
        ({"username": "ok", "email": "x@lab.test", "role": "admin"}, "role"),
        (
            {"username": "ok", "email": "x@lab.test", "role": "viewer", "password": "123"},
            "password",
        ),
    ],
)
def test_bad_accounts_are_a_400_naming_the_field_and_create_nothing(
    project, owner, api_client_for, body, field
):
    users = User.objects.count()
    response = api_client_for(owner).post(_url(project), body, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert User.objects.count() == users and project.memberships.count() == 1


def test_only_owners_create_accounts(project, make_user, member_of, api_client_for):
    body = {"username": "eve", "email": "eve@lab.test", "role": "owner"}
    annotator = member_of(make_user("ann"), Role.ANNOTATOR)
    assert api_client_for(annotator).post(_url(project), body, format="json").status_code == 403
    outsider = make_user("out")
    assert api_client_for(outsider).post(_url(project), body, format="json").status_code == 404
    assert not User.objects.filter(username="eve").exists()


def _page_client(user) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def test_the_members_page_creates_an_account_and_shows_the_password_once(project, owner):
    client = _page_client(owner)
    url = reverse("member-account-create", args=[project.pk])
    page = client.post(
        url,
        {"username": "tom", "email": "tom@lab.test", "role": "viewer", "is_staff": "on"},
    )
    assert page.status_code == 200, page.content
    text = page.content.decode()
    tom = User.objects.get(username="tom")
    assert not tom.is_staff and not tom.is_superuser
    password = page.context["new_account"]["temporary_password"]
    assert 'id="new-account-password"' in text and password in text
    assert page["Cache-Control"] == "no-store"
    assert authenticate(username="tom", password=password) == tom
    assert project.memberships.get(user=tom).role == Role.VIEWER
    # Not kept anywhere the page could show it again.
    again = client.get(reverse("project-detail", args=[project.pk])).content.decode()
    assert password not in again and "tom" in again
    bad = client.post(url, {"username": "tom", "email": "t@lab.test", "role": "viewer"})
    assert bad.status_code == 400 and "already" in bad.content.decode()
    # Removing a member on the same page.
    removed = client.post(reverse("member-remove", args=[project.pk, tom.pk]))
    assert removed.status_code == 302 and not project.memberships.filter(user=tom).exists()


def test_the_account_form_is_for_owners(project, make_user, member_of):
    annotator = member_of(make_user("ann"), Role.ANNOTATOR)
    client = _page_client(annotator)
    page = client.get(reverse("project-detail", args=[project.pk])).content.decode()
    assert 'id="account-form"' not in page
    url = reverse("member-account-create", args=[project.pk])
    assert (
        client.post(url, {"username": "z", "email": "z@lab.test", "role": "viewer"}).status_code
        == 403
    )
    owner_page = _page_client(project.memberships.get(role="owner").user)
    assert (
        'id="account-form"'
        in owner_page.get(reverse("project-detail", args=[project.pk])).content.decode()
    )


def test_the_labmate_signs_in_with_the_temporary_password_and_changes_it(
    project, owner, api_client_for
):
    body = {"username": "ida", "email": "ida@lab.test", "role": "annotator"}
    temporary = api_client_for(owner).post(_url(project), body, format="json").json()
    temporary = temporary["temporary_password"]
    client = Client(enforce_csrf_checks=False)
    assert client.login(username="ida", password=temporary)
    account = client.get(reverse("account")).content.decode()
    assert reverse("account-password") in account
    changed = client.post(
        reverse("account-password"),
        {"old_password": temporary, "new_password1": PASSWORD, "new_password2": PASSWORD},
    )
    assert changed.status_code == 302, changed.content
    assert authenticate(username="ida", password=PASSWORD) is not None
    assert authenticate(username="ida", password=temporary) is None
    # Still signed in (the session follows the new password) and a member.
    assert client.get(reverse("project-detail", args=[project.pk])).status_code == 200
