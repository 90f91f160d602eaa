"""API tokens: obtain (``POST /api/auth/token/``) and revoke (``DELETE``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import parsers, serializers
from rest_framework.authtoken.views import ObtainAuthToken

from .parsers import DepthLimitedJSONParser


class TokenApi(ObtainAuthToken):
    # ObtainAuthToken names its own parsers, so the settings' default would not apply.
    parser_classes = (parsers.FormParser, parsers.MultiPartParser, DepthLimitedJSONParser)

    @extend_schema(
        request=inline_serializer(
            "TokenInput", {"username": serializers.CharField(), "password": serializers.CharField()}
        ),
        responses=inline_serializer("TokenOutput", {"token": serializers.CharField()}),
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
