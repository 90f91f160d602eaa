"""API tokens: obtain (``POST /api/auth/token/``, throttled) and revoke (``DELETE``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import parsers, serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from .parsers import DepthLimitedJSONParser
from .throttles import LOGIN_THROTTLES
from .tokens import token_revoke


class TokenApi(ObtainAuthToken):
    # ObtainAuthToken names its own parsers, so the settings' default would not apply.
    parser_classes = (parsers.FormParser, parsers.MultiPartParser, DepthLimitedJSONParser)

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [IsAuthenticated()]
        return []

    def get_throttles(self):
        # Password guesses are throttled per address and per username (429 + Retry-After).
        if self.request.method == "POST":
            return [throttle() for throttle in LOGIN_THROTTLES]
        return []

    @extend_schema(
        request=inline_serializer(
            "TokenInput", {"username": serializers.CharField(), "password": serializers.CharField()}
        ),
        responses=inline_serializer("TokenOutput", {"token": serializers.CharField()}),
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, *args, **kwargs):
        """Revoke the caller's token (whether it authenticated with it or a session)."""
        token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
