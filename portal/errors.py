"""One place that turns errors into answers: JSON under /api, an error page elsewhere.
No stack trace ever reaches a client."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from reviewer.errors import DomainError

log = logging.getLogger("toothline.errors")

KIND_STATUS = {"invalid": 400, "not_found": 404, "conflict": 409, "forbidden": 403,
               "unprocessable": 422}
STATUS_CODE = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 408: "request_timeout", 409: "conflict",
               413: "too_large", 415: "unsupported_type", 422: "unprocessable",
               429: "too_many_requests", 500: "internal_error", 503: "unavailable"}
TITLES = {400: "That request was not understood", 401: "Please sign in",
          403: "Not allowed", 404: "Not found", 405: "Not allowed", 409: "Conflict",
          413: "File too large", 415: "Unsupported file", 422: "Cannot use that",
          429: "Too many attempts", 500: "Something went wrong", 503: "Temporarily unavailable"}


def wants_json(request: Request[Any, Any, Any]) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(
    request: Request[Any, Any, Any],
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


def handle_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return error_response(request, KIND_STATUS.get(exc.kind, 400), exc.code, exc.message)


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


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
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


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("unhandled error", exc_info=exc)
    return error_response(request, HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", TITLES[500])


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    DomainError: handle_domain_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
