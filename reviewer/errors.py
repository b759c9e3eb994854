"""Domain errors. Services raise these; the portal maps them to HTTP once (portal/errors.py)."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: ``code`` is stable for API clients, ``message`` is for people."""

    code = "error"
    kind = "invalid"  # one of: invalid, not_found, conflict, forbidden, unprocessable

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotFound(DomainError):
    """Also raised for objects outside the caller's reach, so ids cannot be probed."""

    code = "not_found"
    kind = "not_found"


class Conflict(DomainError):
    code = "conflict"
    kind = "conflict"


class Forbidden(DomainError):
    code = "forbidden"
    kind = "forbidden"


class Invalid(DomainError):
    code = "invalid"
    kind = "invalid"


class Unprocessable(DomainError):
    code = "unprocessable"
    kind = "unprocessable"
