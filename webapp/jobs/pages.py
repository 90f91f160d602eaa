"""What the job pages share: their Cancel and Retry buttons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from .lifecycle import BrokerUnavailable


def job_page_action(
    request: HttpRequest,
    act: Callable[[], Any],
    *,
    done: str,
    back: tuple[str, Any],
    level: int = messages.SUCCESS,
) -> HttpResponse:
    """A job page's button: ``act()`` (cancel, retry), then back to the page ``back`` (URL
    name, id) saying ``done``, or why it was refused (the service's ValidationError, or the
    broker being down)."""
    try:
        act()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except BrokerUnavailable as exc:
        messages.error(request, str(exc))
    else:
        messages.add_message(request, level, done)
    return redirect(*back)
