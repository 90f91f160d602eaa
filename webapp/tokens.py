"""API token writes for the account page and the token API."""

from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token


def token_revoke(*, user) -> bool:
    """Delete the user's API token; whether there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)


@transaction.atomic
def token_rotate(*, user) -> Token:
    """Replace the user's API token by a new one (the old key stops working at once)."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)
