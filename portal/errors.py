"""One place that turns errors into answers: JSON under /api, an error page elsewhere.
No stack trace ever reaches a client.

Page errors follow one rule (docs/development.md): a ``DomainError`` never commits. The
``after_exception`` hook rolls the request's session back before any answer is built (the
``autocommit_include_redirects`` before-send handler commits every 2xx and 3xx answer, so a
redirect would otherwise save what the refused step flushed). A page route that declares
``opt={"back": "/patients/{patient_id}"}`` then answers an invalid/conflict/unprocessable
error with the message flashed and a redirect to that URL (its ``{name}`` fields are the
route's path parameters); NotFound and Forbidden keep their 404/403 pages, and a route
without ``back`` keeps the error page. A form that must show the user's input again catches
the error itself and calls :func:`form_error` first.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from asyncpg.exceptions import PostgresConnectionError
from litestar import MediaType, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import Scope
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import N_, gettext, language_for_scope
from portal.rendering import flash, redirect
from portal.requests import AnyRequest
from reviewer.errors import DomainError
from storage.blobs import BlobStoreUnavailable

T = TypeVar("T")

log = logging.getLogger("toothline.errors")

KIND_STATUS = {"invalid": 400, "not_found": 404, "conflict": 409, "forbidden": 403,
               "unprocessable": 422}
STATUS_CODE = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 408: "request_timeout", 409: "conflict",
               413: "too_large", 415: "unsupported_type", 422: "unprocessable",
               429: "too_many_requests", 500: "internal_error", 503: "unavailable"}
TITLES = {
    400: N_("That request was not understood"), 401: N_("Please sign in"),
    403: N_("Not allowed"), 404: N_("Not found"), 405: N_("Not allowed"), 409: N_("Conflict"),
    413: N_("File too large"), 415: N_("Unsupported file"), 422: N_("Cannot use that"),
    429: N_("Too many attempts"), 500: N_("Something went wrong"),
    503: N_("Temporarily unavailable"),
}
"""Error page headings (errors/error.html translates them, and the message, for patients)."""


def wants_json(request: AnyRequest) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(
    request: AnyRequest,
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[Any]:
    if wants_json(request):
        body: dict[str, Any] = {"code": code, "message": message, **(extra or {})}
        return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)
    language_for_scope(request.scope)  # a 404 outside any route: the visitor's language
    return Template(
        template_name="errors/error.html",
        context={
            "status_code": status,
            "title": TITLES.get(status, "Error"),
            "message": message,
            "current_user": request.scope.get("user"),
        },
        status_code=status,
        headers=headers,
    )


BACK = "back"
"""The route ``opt`` key naming where a page goes back to when a step is refused."""
_PAGE_KINDS_WITH_OWN_PAGE = frozenset({"not_found", "forbidden"})


def back_url(request: AnyRequest) -> str | None:
    """The declared back URL of the route that answered, filled with its path parameters (or
    a function of the request, for a route written once for several paths)."""
    handler = request.scope.get("route_handler")
    back = handler.opt.get(BACK) if handler is not None else None
    if wants_json(request):
        return None
    if callable(back):
        return str(back(request))
    if not isinstance(back, str):
        return None
    return back.format(**request.path_params)


def handle_domain_error(request: AnyRequest, exc: DomainError) -> Response[Any]:
    """The session is rolled back already (:func:`rollback_on_domain_error`)."""
    back = back_url(request)
    if back is not None and exc.kind not in _PAGE_KINDS_WITH_OWN_PAGE:
        flash(request, gettext(exc.message), "error")
        return redirect(request, back)
    extra = getattr(exc, "body_extra", None)  # e.g. images_not_reviewed's attachment_ids
    return error_response(request, KIND_STATUS.get(exc.kind, 400), exc.code, exc.message,
                          extra=extra if isinstance(extra, dict) else None)


def rollback_on_domain_error(db_config: SQLAlchemyAsyncConfig) -> Any:
    """An ``after_exception`` hook (it runs before the exception handlers, and may await):
    roll the request's session back when a DomainError escapes a handler."""

    async def hook(exc: Exception, scope: Scope) -> None:
        if isinstance(exc, DomainError) and scope.get("type") == "http":
            app = scope["litestar_app"]
            # The request's own session (made on first use; a new one costs no connection).
            await db_config.provide_session(app.state, scope).rollback()

    return hook


@dataclass(frozen=True, slots=True)
class Refused:
    """A form step's refusal, rolled back (:func:`attempt`): what to show and its code."""

    message: str
    error: DomainError

    @property
    def code(self) -> str:
        return self.error.code


async def attempt(
    db: AsyncSession, step: Callable[[], Awaitable[T]], *,
    own_page: Iterable[str] = _PAGE_KINDS_WITH_OWN_PAGE,
) -> T | Refused:
    """Run a form's step (parsing the form included): its result, or, when it raises a
    DomainError, the refusal (rolled back by :func:`form_error`) for the page to show again
    with a 422. The one try/except of every form that re-renders itself."""
    try:
        return await step()
    except DomainError as exc:
        return Refused(await form_error(db, exc, own_page=own_page), exc)


async def form_error(
    db: AsyncSession, exc: DomainError, *, own_page: Iterable[str] = _PAGE_KINDS_WITH_OWN_PAGE
) -> str:
    """For a form that shows the refused input again (a 422 page, not a redirect): roll back
    what the step flushed, so the page is rendered from the database as it was, and give the
    message to show. Errors of the ``own_page`` kinds (NotFound, Forbidden) are raised on to
    their 404/403 pages."""
    if exc.kind in own_page:
        raise exc
    await db.rollback()
    return exc.message


def _is_malformed_body(exc: BaseException) -> bool:
    """A body the JSON decoder could not parse (not one of the wrong shape): litestar raises
    a 400 chained to msgspec's DecodeError."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, msgspec.DecodeError) and not isinstance(seen, msgspec.ValidationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def handle_http_exception(request: AnyRequest, exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status == 401 and not wants_json(request) and request.method == "GET":
        return Response(content=None, status_code=303, headers={"location": "/login"})
    code = getattr(exc, "code", None) or STATUS_CODE.get(status, "error")
    message = exc.detail if status < 500 else TITLES[500]
    extra: dict[str, Any] | None = None
    if status == 400 and _is_malformed_body(exc):
        # litestar's ClientException for a body msgspec cannot decode: say so, stably,
        # without echoing the parser's message.
        code, message = "malformed_json", "The request body is not valid JSON."
    elif isinstance(exc, ValidationException):
        code = "invalid"
        message = "Some fields are missing or not valid."
        if isinstance(exc.extra, list):
            extra = {"errors": [
                {"key": e.get("key"), "message": e.get("message")}
                for e in exc.extra if isinstance(e, dict)
            ]}
        if "JSON" in str(exc.detail) or "decode" in str(exc.detail).lower():
            code, message = "malformed_json", "The request body is not valid JSON."
    return error_response(request, status, code, message, headers=exc.headers, extra=extra)


UNAVAILABLE_RETRY_AFTER_S = "5"
UNAVAILABLE = {
    "storage_unavailable": "File storage is not answering right now. Nothing was saved; "
                           "please try again in a moment.",
    "database_unavailable": "The database is not answering right now. Please try again in a "
                            "moment.",
}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 10 and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_database_outage(exc: BaseException) -> bool:
    """A connection-level failure (the server unreachable, the connection dropped, the pool
    exhausted) — not a query that failed on a live connection (IntegrityError & co)."""
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return True
        return exc.orig is not None and _is_database_outage(exc.orig)
    return isinstance(
        exc, (sa_exc.DisconnectionError, sa_exc.TimeoutError, PostgresConnectionError,
              ConnectionError)
    )


def unavailable_code(exc: BaseException) -> str | None:
    """``storage_unavailable`` / ``database_unavailable`` when ``exc`` (or what caused it)
    means a backing service is away; ``None`` for a real bug."""
    for link in _chain(exc):
        if isinstance(link, BlobStoreUnavailable):
            return "storage_unavailable"
        if _is_database_outage(link):
            return "database_unavailable"
    return None


def handle_unexpected(request: AnyRequest, exc: Exception) -> Response[Any]:
    if isinstance(exc, RecursionError) and "deserializing" in str(exc):
        # msgspec refuses JSON nested deeper than it can decode with a RecursionError, which
        # litestar does not turn into a 400 as it does the decoder's other errors.
        return error_response(request, 400, "malformed_json",
                              "The request body is nested too deeply.")
    if isinstance(exc, sa_exc.DBAPIError) and getattr(exc.orig, "sqlstate", None) in {
        "22021", "22P05"
    }:
        # PostgreSQL refuses a NUL character in text (22021) and in JSON (22P05); SQLite
        # stores it. The client sent it.
        return error_response(request, 400, "invalid_text",
                              "Text may not contain NUL (zero) characters.")
    code = unavailable_code(exc)
    if code is not None:
        # An outage, not a bug: 503 with Retry-After; the portal recovers by itself when the
        # service returns (/readyz says which one is away).
        log.warning("service unavailable: %s (%s)", code, type(exc).__name__)
        return error_response(request, HTTP_503_SERVICE_UNAVAILABLE, code, UNAVAILABLE[code],
                              headers={"Retry-After": UNAVAILABLE_RETRY_AFTER_S})
    log.error("unhandled error", exc_info=exc)
    return error_response(request, HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", TITLES[500])


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    DomainError: handle_domain_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
