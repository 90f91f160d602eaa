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


# --- throttling and tokens --------------------------------------------------------------
LIMIT = 10  # per minute, per address and per username (settings.REST_FRAMEWORK)


def _token_post(client, username, password="wrong", addr="10.0.0.1", **headers):
    return client.post(
        "/api/auth/token/",
        {"username": username, "password": password},
        REMOTE_ADDR=addr,
        **headers,
    )


@pytest.mark.django_db
def test_token_requests_are_throttled_per_address(owner, make_user):
    client = Client()
    # Different usernames, one address; a spoofed X-Forwarded-For does not open a new bucket.
    for i in range(LIMIT):
        response = _token_post(client, f"guess{i}", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
        assert response.status_code == 400
    response = _token_post(client, owner.username, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    # Another address is not affected.
    assert _token_post(client, owner.username, PASSWORD, addr="10.0.0.2").status_code == 200


@pytest.mark.django_db
def test_token_requests_are_throttled_per_username_across_addresses(owner):
    client = Client()
    for i in range(LIMIT):
        assert _token_post(client, owner.username, addr=f"10.1.0.{i}").status_code == 400
    response = _token_post(client, owner.username.upper(), PASSWORD, addr="10.1.1.1")
    assert response.status_code == 429 and "Retry-After" in response


@pytest.mark.django_db
def test_the_login_form_shares_the_token_endpoints_counter(owner):
    client = Client()
    for _ in range(LIMIT // 2):
        assert _token_post(client, owner.username).status_code == 400
    for _ in range(LIMIT - LIMIT // 2):
        wrong = {"username": owner.username, "password": "nope"}
        assert client.post("/accounts/login/", wrong, REMOTE_ADDR="10.0.0.1").status_code == 200
    right = {"username": owner.username, "password": PASSWORD}
    response = client.post("/accounts/login/", right, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert b"Too many login attempts" in response.content
    assert b'value="olivia"' in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_delete_revokes_the_callers_token(owner, make_user):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    other = Token.objects.create(user=make_user("ursula"))
    key = Token.objects.create(user=owner).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/projects/").status_code == 200
    assert client.delete("/api/auth/token/").status_code == 204
    assert client.get("/api/projects/").status_code in (401, 403)
    assert not Token.objects.filter(user=owner).exists()
    assert Token.objects.filter(pk=other.pk).exists()
    assert APIClient().delete("/api/auth/token/").status_code in (401, 403)


@pytest.mark.django_db
def test_the_account_page_rotates_and_revokes_the_token(client, owner):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    old = Token.objects.create(user=owner).key
    client.force_login(owner)
    page = client.get("/accounts/")
    assert page.status_code == 200 and b"Rotate token" in page.content
    assert old.encode() not in page.content  # the key is shown once, at creation
    rotated = client.post("/accounts/token/rotate/")
    new = Token.objects.get(user=owner).key
    assert rotated.status_code == 200 and new != old and new.encode() in rotated.content
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    assert api.get("/api/projects/").status_code in (401, 403)
    assert client.get("/accounts/token/rotate/").status_code == 405
    assert client.post("/accounts/token/revoke/").status_code == 302
    assert not Token.objects.filter(user=owner).exists()
    assert b"You have no API token" in client.get("/accounts/").content
