"""Logging in and out: CSRF is enforced, the session key rotates, cookies are hardened."""

from __future__ import annotations

import pytest

from django.test import Client

from tests.conftest import PASSWORD


@pytest.mark.django_db
def test_login_needs_a_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": owner.username, "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_session_key_rotates_at_login_and_logout_needs_post(owner):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    token = page.cookies["csrftoken"].value
    client.session["probe"] = 1
    before = client.cookies["sessionid"].value if "sessionid" in client.cookies else None
    response = client.post(
        "/accounts/login/",
        {"username": owner.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    after = client.cookies["sessionid"]
    assert after.value and after.value != before
    assert after["httponly"] and after["samesite"] == "Lax"
    assert client.get("/accounts/logout/").status_code == 405  # no logout by a link
    assert client.get("/projects/").status_code == 200


@pytest.mark.django_db
def test_wrong_password_is_a_form_error_not_a_crash(client, owner):
    response = client.post("/accounts/login/", {"username": owner.username, "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
