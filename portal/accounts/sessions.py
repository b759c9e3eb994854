"""Server-side sessions: who is signed in, idle and absolute timeouts, id rotation."""

from __future__ import annotations

import secrets
import time
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.stores.base import Store

ROTATE_SCOPE_KEY = "_toothline_new_session_id"
USER_KEY = "uid"
EPOCH_KEY = "epoch"
STARTED_KEY = "started"
SEEN_KEY = "seen"


class RotatingSessionBackend(ServerSideSessionBackend):
    """litestar keeps a session's id for its whole life; we give it a new one on sign-in and
    on every change of privilege, so an id planted before sign-in is worthless after it."""

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        new_id = connection.scope.get(ROTATE_SCOPE_KEY)
        if isinstance(new_id, str):
            return new_id
        return super().get_session_id(connection)


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


async def start_session(
    connection: ASGIConnection[Any, Any, Any, Any], store: Store, user_id: str, epoch: int
) -> None:
    """Replace the session (new id, old data deleted) and bind it to the user."""
    old_id = connection.cookies.get("session")
    if old_id:
        await store.delete(old_id)
    connection.scope[ROTATE_SCOPE_KEY] = secrets.token_hex(32)  # type: ignore[literal-required]
    now = int(time.time())
    connection.set_session({USER_KEY: user_id, EPOCH_KEY: epoch, STARTED_KEY: now, SEEN_KEY: now})


async def end_session(connection: ASGIConnection[Any, Any, Any, Any], store: Store) -> None:
    old_id = connection.cookies.get("session")
    if old_id:
        await store.delete(old_id)
    connection.clear_session()


def session_is_fresh(session: dict[str, Any], *, idle_seconds: int, max_seconds: int) -> bool:
    now = time.time()
    started = session.get(STARTED_KEY)
    seen = session.get(SEEN_KEY)
    if not isinstance(started, int | float) or not isinstance(seen, int | float):
        return False
    return now - seen <= idle_seconds and now - started <= max_seconds
