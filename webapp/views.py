from __future__ import annotations

import logging
import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from rest_framework.authtoken.models import Token

from .celery import QUEUES, app
from .throttles import login_throttle_wait
from .tokens import token_revoke, token_rotate

log = logging.getLogger(__name__)


def home(request: HttpRequest):
    return redirect("project-list")


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # report, don't crash the health check
        return {"ok": False, "error": str(exc)}


def _check_broker() -> dict:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "embedded": settings.USING_EMBEDDED_REDIS}
    except Exception as exc:
        return {"ok": False, "error": str(exc)}


def _check_workers() -> dict:
    consumers: dict[str, list[str]] = {queue: [] for queue in QUEUES}
    try:
        replies = app.control.inspect(timeout=1.0).active_queues() or {}
    except Exception as exc:
        return {queue: {"ok": False, "workers": [], "error": str(exc)} for queue in QUEUES}
    for worker, queues in replies.items():
        for queue in queues:
            consumers.setdefault(queue["name"], []).append(worker)
    return {q: {"ok": bool(w), "workers": sorted(w)} for q, w in consumers.items()}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Database, broker, and which workers consume each queue. 503 unless db+broker are up."""
    database = _check_database()
    broker = _check_broker()
    queues = _check_workers() if broker["ok"] else {q: {"ok": False, "workers": []} for q in QUEUES}
    ok = database["ok"] and broker["ok"]
    body = {"ok": ok, "database": database, "broker": broker, "queues": queues}
    return JsonResponse(body, status=200 if ok else 503)


# --- logging in and the account page --------------------------------------------------
class ThrottledLoginView(LoginView):
    """Django's LoginView; attempts count against the same per-address and per-username
    limits as ``POST /api/auth/token/`` (429 with Retry-After past them)."""

    def post(self, request, *args, **kwargs):
        wait = login_throttle_wait(request)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            # An unbound form: validating it would check the password after all.
            form = self.get_form_class()(
                request, initial={"username": request.POST.get("username", "")[:150]}
            )
            context = self.get_context_data(
                form=form, throttled=f"Too many login attempts; try again in {seconds} seconds."
            )
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(seconds)
            return response
        return super().post(request, *args, **kwargs)


def _account_page(request: HttpRequest, *, new_key: str = "", status: int = 200):
    token = Token.objects.filter(user=request.user).first()
    context = {"token": token, "new_key": new_key}
    return render(request, "webapp/account.html", context, status=status)


@login_required
@require_GET
def account(request: HttpRequest):
    return _account_page(request)


@login_required
@require_POST
def account_token_rotate(request: HttpRequest):
    """A new API token; its key is shown on this response only (not kept in a message)."""
    token = token_rotate(user=request.user)
    return _account_page(request, new_key=token.key)


@login_required
@require_POST
def account_token_revoke(request: HttpRequest):
    if token_revoke(user=request.user):
        messages.success(request, "Your API token was revoked.")
    return redirect("account")
