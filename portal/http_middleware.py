"""App-wide ASGI middleware: security headers, request logs without PHI, CSRF that API
bearer-token clients skip."""

from __future__ import annotations

import ipaddress
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from litestar._asgi.utils import wrap_in_exception_handler
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from portal.accounts import csrf
from portal.accounts.bearer import bearer_token
from portal.accounts.current_user import CurrentUser
from portal.requests import AnyRequest

log = logging.getLogger("toothline.request")

STATIC_PREFIX = "/static/"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)


def _signed_in(scope: Scope) -> bool:
    """A request made as someone: a resolved user, a bearer token or a session cookie (valid
    or not; an answer to one is never for a shared cache either)."""
    if isinstance(scope.get("user"), CurrentUser) or bearer_token(scope) is not None:
        return True
    # Answers made outside any route (a 404) never resolved the user: a session cookie is
    # enough to be careful.
    return any(
        key == b"cookie" and b"session=" in value for key, value in scope.get("headers", [])
    )


def security_headers_hook(*, hsts: bool) -> Callable[[Message, Scope], Awaitable[None]]:
    """A before-send hook, so 404s and other answers made outside any route get them too.

    Every answer to a signed-in request (pages, fragments, JSON, errors, redirects) is
    ``no-store``: patient data must not stay in a browser's or a proxy's cache. A route's own
    weaker Cache-Control is overridden. Public static files keep their caching.
    """

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
        if _signed_in(scope) and not str(scope.get("path", "")).startswith(STATIC_PREFIX):
            if "no-store" not in (headers.get("cache-control") or "").lower():
                headers["cache-control"] = "no-store"
            headers["pragma"] = "no-cache"

    return add_headers


def _forwarded_ip(hop: str) -> str | None:
    """The address in one ``X-Forwarded-For`` entry (``1.2.3.4``, ``1.2.3.4:80``,
    ``[::1]:80``, ``::1``), or ``None`` when it is not an IP address."""
    hop = hop.strip()
    if hop.startswith("["):
        hop = hop[1:].partition("]")[0]
    elif hop.count(":") == 1:
        hop = hop.partition(":")[0]
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return None


class TrustedProxyMiddleware:
    """Believes ``X-Forwarded-For``/``X-Forwarded-Proto`` only when the connection comes from
    one of ``TOOTHLINE_TRUSTED_PROXIES``; from anyone else (loopback included) they are
    ignored, so the audit trail and the sign-in throttle see the real peer.

    The client is the rightmost entry that is not itself a trusted proxy: everything left of
    it was written by whoever sent the request and proves nothing. (uvicorn's own proxy
    handling is off, see portal/cli.py: it trusts 127.0.0.1 by default.)
    """

    def __init__(self, app: ASGIApp, trusted: Sequence[str] = ()) -> None:
        self.app = app
        self.networks = [ipaddress.ip_network(item, strict=False) for item in trusted]

    def _trusted(self, host: str | None) -> bool:
        ip = _forwarded_ip(host) if host else None
        return ip is not None and any(
            ipaddress.ip_address(ip) in network for network in self.networks
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client and self._trusted(client[0]):
            forwarded = [v for k, v in scope["headers"] if k == b"x-forwarded-for"]
            hops = b",".join(forwarded).decode("latin-1").split(",") if forwarded else []
            chosen: str | None = None
            for hop in reversed(hops):
                chosen = _forwarded_ip(hop)
                if chosen is None or not self._trusted(chosen):
                    break
            if chosen is not None:
                scope["client"] = (chosen, 0)
            proto = next((v for k, v in scope["headers"] if k == b"x-forwarded-proto"), b"")
            if proto.decode("latin-1").strip().lower() in {"http", "https"}:
                scope["scheme"] = proto.decode("latin-1").strip().lower()
        await self.app(scope, receive, send)


class RequestLogMiddleware:
    """One structured line per request: method, route template (never the query string,
    which may hold a patient's name), status, duration, request id, user id."""

    def __init__(self, app: ASGIApp) -> None:
        # An exception raised by a later middleware (a CSRF refusal) would otherwise pass
        # this one before litestar turns it into an answer, and be logged as a 500: handle
        # it here, so the line records the status the client got.
        self.app = wrap_in_exception_handler(app)

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


class BearerAwareCSRFMiddleware:
    """CSRF for browsers (token bound to the session: :mod:`portal.accounts.csrf`); requests
    with a bearer token carry no cookie authority and skip it.

    A state-changing request that carries a session cookie and a cross-site ``Origin`` (one
    that is not ``TOOTHLINE_PUBLIC_URL``'s, ``null`` included) is refused before anything
    else; without an ``Origin`` header the token decides.

    A multipart body without the token in the ``x-csrftoken`` header is refused at once:
    reading the whole upload to look for a form field would leave the streaming upload
    handler waiting forever for a body already consumed.
    """

    def __init__(self, app: ASGIApp, config: CSRFConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or bearer_token(scope) is not None:
            await self.app(scope, receive, send)
            return
        if scope.get("method") not in self.config.safe_methods:
            await self._check(scope, receive)
        ScopeState.from_scope(scope).csrf_token = csrf.current_token(scope)
        await self.app(scope, receive, self._cookie_sender(scope, send))

    async def _check(self, scope: Scope, receive: Receive) -> None:
        origin = csrf.header(scope, b"origin")
        cookie_authority = origin is not None and csrf.carries_session_cookie(scope)
        if cookie_authority and csrf.is_cross_site(scope, origin or "null"):
            raise PermissionDeniedException("Cross-site request refused")
        handler = scope.get("route_handler")
        if handler is not None and handler.opt.get(self.config.exclude_from_csrf_key):
            return
        submitted = csrf.header(scope, self.config.header_name.lower().encode("latin-1"))
        if submitted is None:
            content_type = (csrf.header(scope, b"content-type") or "").lower()
            if content_type.startswith("multipart/"):
                raise PermissionDeniedException(
                    "CSRF token missing: send it in the x-csrftoken header"
                )
            if content_type.startswith("application/x-www-form-urlencoded"):
                request: AnyRequest = scope["litestar_app"].request_class(
                    scope=scope, receive=receive
                )
                field = (await request.form()).get("_csrf_token")
                submitted = field if isinstance(field, str) else None
        if not csrf.token_is_valid(scope, submitted):
            raise PermissionDeniedException("CSRF token verification failed")

    def _cookie_sender(self, scope: Scope, send: Send) -> Send:
        """Keep the ``csrftoken`` cookie equal to the token current when the answer starts
        (after a sign-in, a sign-out or a timeout it changes)."""
        sent = csrf.cookie_value(scope)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                token = csrf.current_token(scope)
                if token != sent:
                    cookie = Cookie(
                        key=self.config.cookie_name, value=token, path=self.config.cookie_path,
                        secure=self.config.cookie_secure, httponly=self.config.cookie_httponly,
                        samesite=self.config.cookie_samesite, domain=self.config.cookie_domain,
                    )
                    MutableScopeHeaders.from_message(message).add(
                        "set-cookie", cookie.to_header(header="")
                    )
            await send(message)

        return send_with_cookie


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
