"""Role guards for routes. Object-level checks live in the services (reviewer/)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from portal.accounts.current_user import CurrentUser

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not isinstance(connection.scope.get("user"), CurrentUser):
        raise NotAuthorizedException("Please sign in.")


def require_roles(*roles: str) -> Guard:
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        signed_in(connection, handler)
        user: CurrentUser = connection.scope["user"]
        if user.role not in allowed:
            raise PermissionDeniedException("Your role cannot do this.")

    guard.__name__ = f"require_roles({', '.join(sorted(allowed))})"
    return guard
