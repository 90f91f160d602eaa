"""Accounts made by a project's owner for a labmate, without Django's admin.

Only these fields are taken (username, email, password, role): whatever else a request
sends, such as ``is_staff``, is not read, so the staff and superuser flags stay off.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from .models import Project, ProjectMembership, Role

# About 96 bits, typeable: the owner hands it over and the labmate changes it.
TEMPORARY_PASSWORD_BYTES = 12


@dataclass(frozen=True)
class NewAccount:
    membership: ProjectMembership
    temporary_password: str  # "" when the owner set the password


def member_account_create(
    *, project: Project, username: str, email: str, role: str, password: str = ""
) -> NewAccount:
    """Create an account (never staff) and add it to ``project`` with ``role``.

    ``password`` empty: a temporary one is generated and returned, once; it is stored only
    hashed. Raises ``ValidationError`` naming the field; nothing is created then."""
    user_model = get_user_model()
    username = (username or "").strip()
    email = (email or "").strip()
    errors: dict[str, list[str]] = {}
    if role not in Role.values:
        errors["role"] = [f"Role must be one of {', '.join(Role.values)}."]
    if not username:
        errors["username"] = ["Give the new account a username."]
    else:
        try:
            user_model._meta.get_field("username").run_validators(username)
        except ValidationError as exc:
            errors["username"] = exc.messages
        if user_model.objects.filter(username__iexact=username).exists():
            errors["username"] = [
                f"An account named “{username}” already exists: add it with "
                "“Add / set role” instead."
            ]
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = ["Enter a valid email address."]
    generated = "" if password else secrets.token_urlsafe(TEMPORARY_PASSWORD_BYTES)
    if password and not errors:
        try:
            candidate = user_model(username=username, email=email)
            password_validation.validate_password(password, candidate)
        except ValidationError as exc:
            errors["password"] = exc.messages
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            user = user_model.objects.create_user(
                username=username,
                email=email,
                password=password or generated,
                is_staff=False,
                is_superuser=False,
            )
            membership = ProjectMembership.objects.create(project=project, user=user, role=role)
    except IntegrityError:  # the same name created at the same moment
        raise ValidationError(
            {"username": f"An account named “{username}” already exists."}
        ) from None
    return NewAccount(membership=membership, temporary_password=generated)
