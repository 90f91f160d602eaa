"""API plumbing shared by every app: error shapes and the project-role permission."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import exception_handler as drf_exception_handler

from .jobs import BrokerUnavailable


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A backing service is unavailable; try again shortly."
    default_code = "service_unavailable"


def validation_error_detail(exc: DjangoValidationError) -> dict | list:
    if hasattr(exc, "error_dict"):
        return {
            field: [str(m) for e in errors for m in e.messages]
            for field, errors in exc.error_dict.items()
        }
    return {"detail": exc.messages}


def exception_handler(exc, context):
    """Services raise Django's ValidationError: it becomes a 400 naming the field."""
    if isinstance(exc, DjangoValidationError):
        return Response(validation_error_detail(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ProtectedError):
        # A safety net: services refuse such deletes with a reason before reaching here.
        users = sorted({str(o) for o in exc.protected_objects})[:5]
        return Response(
            {"detail": f"Still in use by {', '.join(users)}; delete those first."},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, BrokerUnavailable):
        exc = ServiceUnavailable(str(exc))
    return drf_exception_handler(exc, context)


def validated(serializer_class: type[Serializer], data: Any, **kwargs: Any) -> dict:
    """``data`` checked by an input serializer: its validated data, or a 400 naming each
    refused field (DRF's ValidationError)."""
    payload = serializer_class(data=data, **kwargs)
    payload.is_valid(raise_exception=True)
    return payload.validated_data
