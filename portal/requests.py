"""Per-request helpers every controller uses: who acts, and the audit context."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import NotAuthorizedException

from portal.accounts.current_user import CurrentUser
from reviewer.actor import Actor
from storage.audit import AuditContext


def client_address(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


def current_user(request: Request[Any, Any, Any]) -> CurrentUser:
    user = request.scope.get("user")
    if not isinstance(user, CurrentUser):
        raise NotAuthorizedException("Please sign in.")
    return user


def actor(request: Request[Any, Any, Any]) -> Actor:
    return current_user(request).actor(client_address(request))


def request_kind(request: Request[Any, Any, Any]) -> str:
    """How a person asked, as view rows keep it: ``api``, ``htmx`` (a fragment) or ``page``."""
    if request.url.path.startswith("/api/"):
        return "api"
    return "htmx" if request.headers.get("hx-request") == "true" else "page"


def audit_context(request: Request[Any, Any, Any]) -> AuditContext:
    user = request.scope.get("user")
    return AuditContext(
        actor_id=user.id if isinstance(user, CurrentUser) else None,
        actor_role=user.role if isinstance(user, CurrentUser) else None,
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent"),
        request_kind=request_kind(request),
    )
