"""Who is calling: a bearer token (API clients) or the server-side session (browsers).

The one refusal made here: a token without the ``write`` scope may not use a non-safe
method on any route (public ones included), answered 403 ``insufficient_scope`` before
routing reaches a handler."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import select

from portal.accounts.bearer import bearer_token
from portal.accounts.current_user import CurrentUser, OrgRef
from portal.accounts.sessions import (
    EPOCH_KEY,
    SEEN_GRANULARITY_S,
    SEEN_KEY,
    USER_KEY,
    session_is_fresh,
)
from storage.models import User

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

AUTH_SCOPE_KEY = "toothline_auth"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FULL_SCOPES = frozenset({"read", "write"})


def snapshot(
    user: User, *, auth_method: str, patient_ids: frozenset[uuid.UUID],
    scopes: frozenset[str] = FULL_SCOPES,
) -> CurrentUser:
    return CurrentUser(
        id=user.id,
        email=user.email,
        role=user.role,
        display_name=user.display_name,
        organizations=tuple(OrgRef(org.id, org.name, org.time_zone) for org in user.organizations),
        patient_ids=patient_ids,
        auth_method=auth_method,
        scopes=scopes,
        preferred_language=user.preferred_language,
    )


def insufficient_scope(user: CurrentUser) -> ASGIResponse:
    """403 for a write attempt with a token that may only read; lists the token's scopes
    (also in ``WWW-Authenticate``, as RFC 6750 has it)."""
    scopes = sorted(user.scopes)
    body = {
        "code": "insufficient_scope",
        "message": "This API token may only read; changing anything needs a token with the "
                   "write scope.",
        "scopes": scopes,
        "required_scope": "write",
    }
    return ASGIResponse(
        body=json.dumps(body).encode(),
        status_code=403,
        media_type="application/json",
        headers={"www-authenticate": 'Bearer error="insufficient_scope", scope="write"'},
    )


async def load_user(db: AsyncSession, user_id: uuid.UUID) -> User | None:
    user = await db.scalar(select(User).where(User.id == user_id))
    if user is None or not user.is_active:
        return None
    return user


class AuthMiddleware:
    """Sets ``scope["user"]`` to a :class:`CurrentUser` or ``None``; never refuses by itself
    (guards do). A request carrying a bearer token is judged by the token alone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            user = await self._resolve(scope)
            scope["user"] = user
            if (
                user is not None
                and user.auth_method == "token"
                and "write" not in user.scopes
                and scope.get("method", "GET") not in SAFE_METHODS
            ):
                await insufficient_scope(user)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _resolve(self, scope: Scope) -> CurrentUser | None:
        app = scope["litestar_app"]
        session_maker = app.state.db_sessionmaker
        token = bearer_token(scope)
        async with session_maker() as db:
            if token is not None:
                from portal.accounts.tokens import user_for_token

                found = await user_for_token(db, token)
                if db.dirty:  # last_used_at moved (at most once a minute)
                    await db.commit()
                if found is None:
                    return None
                return snapshot(found.user, auth_method="token", patient_ids=found.patient_ids,
                                scopes=found.scopes)
            stored = scope.get("session")
            session: dict[str, Any] = stored if isinstance(stored, dict) else {}
            raw_id = session.get(USER_KEY)
            if not raw_id:
                return None
            settings = app.state.settings.session
            idle, longest = settings.idle_minutes * 60, settings.max_hours * 3600
            if not session_is_fresh(session, idle_seconds=idle, max_seconds=longest):
                session.clear()
                return None
            user: User | None
            try:
                user = await load_user(db, uuid.UUID(str(raw_id)))
            except ValueError:
                user = None
            if user is None or user.session_epoch != session.get(EPOCH_KEY):
                session.clear()
                return None
            now = int(time.time())
            if now - int(session.get(SEEN_KEY, 0)) >= SEEN_GRANULARITY_S:
                session[SEEN_KEY] = now
            from portal.accounts.patients_link import linked_patient_ids

            return snapshot(
                user, auth_method="session", patient_ids=await linked_patient_ids(db, user)
            )
