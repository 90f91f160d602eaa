"""Login and token-request throttling, per client address and per username.

The API uses these as DRF throttles; the login form checks the same throttles (so the
same counters in Django's cache) through ``login_throttle_wait``. The default cache is
LocMem, i.e. per process: with several server processes each counts on its own (set
``CACHES`` to a shared backend such as Redis for one counter across processes).
"""

from __future__ import annotations

import hashlib

from rest_framework.throttling import SimpleRateThrottle


def _username_of(request) -> str:
    data = getattr(request, "data", None)  # a DRF Request; the login form has only POST
    if data is None:
        data = request.POST
    value = data.get("username", "") if hasattr(data, "get") else ""
    return value.strip().lower() if isinstance(value, str) else ""


class LoginAddressThrottle(SimpleRateThrottle):
    """Attempts from one client address (REMOTE_ADDR unless NUM_PROXIES says otherwise)."""

    scope = "login_address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginUsernameThrottle(SimpleRateThrottle):
    """Attempts at one username (ignoring case), from anywhere."""

    scope = "login_username"

    def get_cache_key(self, request, view):
        username = _username_of(request)
        if not username:
            return None
        digest = hashlib.sha256(username.encode("utf-8")).hexdigest()  # a safe cache key
        return self.cache_format % {"scope": self.scope, "ident": digest}


LOGIN_THROTTLES = (LoginAddressThrottle, LoginUsernameThrottle)


def login_throttle_wait(request) -> float | None:
    """Count a login attempt; the seconds to wait when over a limit, else None."""
    waits = []
    for throttle_class in LOGIN_THROTTLES:
        throttle = throttle_class()
        if not throttle.allow_request(request, None):
            waits.append(throttle.wait() or 1.0)
    return max(waits) if waits else None
