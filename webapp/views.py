from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .celery import QUEUES, app

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
