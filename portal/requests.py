"""Who acts, the audit context and the blob store, for every handler.

Handlers do not build these themselves: they declare them as parameters and litestar
injects them (``DEPENDENCIES``, registered app-wide in ``portal/app.py``)::

    async def detail(self, db_session: DbDep, who: ActorDep, audit: AuditDep,
                     blobs: BlobsDep, ...) -> ...

(``DbDep`` is ``NamedDependency[AsyncSession]`` and so on: the aliases at the end of this
module.) The parameter's *name* selects the dependency; the alias only types it.

Guards run before dependencies are resolved, so a signed-out request still gets its 401
(a redirect to /login for a page GET) from the guard; ``who`` on a route without a guard
answers the same 401. A page helper a handler calls gets ``who`` and ``audit`` passed down
from the handler; the plain functions below are the providers (and stay for code that has
only the request, such as middleware).
"""

from __future__ import annotations

from typing import Any, TypeAlias

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException
from litestar.params import URLEncodedBody
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.current_user import CurrentUser
from reviewer.actor import Actor
from storage.audit import AuditContext
from storage.blobs import BlobStore

Form = URLEncodedBody[dict[str, str]]
"""A plain HTML form's body (``application/x-www-form-urlencoded``), field name to value."""


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


def blob_store(state: State) -> BlobStore:
    """The store the app opened at startup (``app.state.blobs``)."""
    store: BlobStore = state.blobs
    return store


DEPENDENCIES: dict[str, Provide] = {
    "who": Provide(actor, sync_to_thread=False),
    "audit": Provide(audit_context, sync_to_thread=False),
    "blobs": Provide(blob_store, sync_to_thread=False),
}
"""Injected by name: ``who`` (the signed-in Actor, else 401), ``audit`` (an AuditContext,
also for signed-out requests), ``blobs`` (the BlobStore). Never name a path or query
parameter after them."""


AnyRequest: TypeAlias = Request[Any, Any, Any]
"""The request, for handlers and page helpers that read headers, the session or the form."""
DbDep: TypeAlias = NamedDependency[AsyncSession]
"""The request's database session (``db_session``, from the SQLAlchemy plugin)."""
ActorDep: TypeAlias = NamedDependency[Actor]
"""``who``: the signed-in Actor (401 when signed out)."""
AuditDep: TypeAlias = NamedDependency[AuditContext]
"""``audit``: the AuditContext of this request."""
BlobsDep: TypeAlias = NamedDependency[BlobStore]
"""``blobs``: the BlobStore opened at startup."""
