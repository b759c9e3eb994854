"""App-wide ASGI middleware: security headers, request logs without PHI, CSRF that API
bearer-token clients skip."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import PermissionDeniedException
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from portal.accounts.bearer import bearer_token

log = logging.getLogger("toothline.request")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)


def security_headers_hook(*, hsts: bool) -> Callable[[Message, Scope], Awaitable[None]]:
    """A before-send hook, so 404s and other answers made outside any route get them too."""

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        headers.setdefault("content-security-policy", CSP)
        headers.setdefault("x-content-type-options", "nosniff")
        headers.setdefault("referrer-policy", "same-origin")
        headers.setdefault("x-frame-options", "DENY")
        headers.setdefault("cross-origin-opener-policy", "same-origin")
        headers.setdefault("permissions-policy", "geolocation=(), microphone=()")
        if hsts:
            headers.setdefault("strict-transport-security", "max-age=63072000; includeSubDomains")

    return add_headers


class RequestLogMiddleware:
    """One structured line per request: method, route template (never the query string,
    which may hold a patient's name), status, duration, request id, user id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        status = 500

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message).setdefault("x-request-id", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            handler = scope.get("route_handler")
            route = getattr(handler, "paths", None)
            user = scope.get("user")
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "route": sorted(route)[0] if route else "-",
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "user_id": str(getattr(user, "id", "")) or None,
                },
            )


class BearerAwareCSRFMiddleware(CSRFMiddleware):
    """CSRF for browsers; requests with a bearer token carry no cookie authority and skip it.

    A multipart body without the token in the ``x-csrftoken`` header is refused at once:
    litestar would otherwise parse the whole upload looking for a form field, and the
    streaming upload handler would then wait forever for a body already consumed.
    """

    def __init__(self, app: ASGIApp, config: CSRFConfig) -> None:
        super().__init__(app, config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and bearer_token(scope) is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and scope.get("method") not in self.config.safe_methods:
            headers: dict[bytes, bytes] = dict(scope.get("headers", []))
            content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
            if content_type.startswith("multipart/") and b"x-csrftoken" not in headers:
                raise PermissionDeniedException(
                    "CSRF token missing: send it in the x-csrftoken header"
                )
        await super().__call__(scope, receive, send)


def json_log_formatter() -> logging.Formatter:
    class _Formatter(logging.Formatter):
        fields = ("request_id", "method", "route", "status", "duration_ms", "user_id")

        def format(self, record: logging.LogRecord) -> str:
            import json

            payload: dict[str, Any] = {
                "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            }
            for name in self.fields:
                if hasattr(record, name):
                    payload[name] = getattr(record, name)
            if record.exc_info:
                payload["error"] = self.formatException(record.exc_info).splitlines()[-1]
            return json.dumps(payload)

    return _Formatter()
