"""Server-side sessions: who is signed in, idle and absolute timeouts, id rotation."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.stores.base import Store
from litestar.types import Empty, Message, ScopeSession

from portal.accounts.bearer import bearer_token

ROTATE_SCOPE_KEY = "_toothline_new_session_id"
LOADED_SCOPE_KEY = "_toothline_session_loaded"
SEEN_GRANULARITY_S = 30
"""``seen`` (the idle clock) is moved at most this often, so most requests leave the session
as they found it and do not write it back."""
USER_KEY = "uid"
EPOCH_KEY = "epoch"
STARTED_KEY = "started"
SEEN_KEY = "seen"


def _fingerprint(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=str)


class RotatingSessionBackend(ServerSideSessionBackend):
    """litestar keeps a session's id for its whole life; we give it a new one on sign-in and
    on every change of privilege, so an id planted before sign-in is worthless after it.

    litestar would also store an empty session (and set its cookie) for every request that
    came without one, so each anonymous request left an entry in the store. Here an empty
    session is stored only as "nothing": no entry, and a cookie that came in is cleared. A
    request with a bearer token neither reads nor writes a session: the token alone says who
    is calling. A session that the request did not change is not written back at all.
    """

    async def load_from_connection(
        self, connection: ASGIConnection[Any, Any, Any, Any],
    ) -> dict[str, Any]:
        if bearer_token(connection.scope) is not None:
            return {}
        data = await super().load_from_connection(connection)
        connection.scope[LOADED_SCOPE_KEY] = _fingerprint(data)  # type: ignore[literal-required]
        return data

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        if bearer_token(connection.scope) is not None:
            return
        if not scope_session or scope_session is Empty:
            if self.config.key not in connection.cookies:
                return
            await self._forget(message, connection)
            return
        if (
            ROTATE_SCOPE_KEY not in connection.scope
            and connection.scope.get(LOADED_SCOPE_KEY) == _fingerprint(scope_session)
        ):
            # Unchanged: writing it back would only race with the same browser's other
            # requests (a thumbnail poll saving its stale copy over the flash a form just set).
            return
        await super().store_in_message(scope_session, message, connection)

    async def _forget(
        self, message: Message, connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        """Delete the stored session and the browser's cookie. litestar's own null cookie
        repeats the configured ``Max-Age`` (12 hours), which browsers obey over ``Expires``:
        here it is ``Max-Age=0``, so the cookie is gone at once."""
        store = self.config.get_store_from_app(connection.scope["app"])
        await self.delete(self.get_session_id(connection), store=store)
        cookie = Cookie(
            key=self.config.key, value="", max_age=0, expires=0, path=self.config.path,
            domain=self.config.domain, secure=self.config.secure,
            httponly=self.config.httponly, samesite=self.config.samesite,
        )
        MutableScopeHeaders.from_message(message).add("set-cookie", cookie.to_header(header=""))

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
