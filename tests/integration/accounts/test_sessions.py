"""Sessions: a new id at sign-in, idle and absolute timeouts, resets end sessions, cookie
flags, HSTS over https."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.stores.file import FileStore
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.sessions import SEEN_KEY, STARTED_KEY
from storage.models import User
from tests.integration.accounts.helpers import Client
from tests.support.portal import DEMO_PASSWORD, csrf_token, sign_in


async def _me(client: Client) -> int:
    return (await client.get("/api/v1/me")).status_code


async def _edit_session(app: Litestar, session_id: str, **changes: Any) -> None:
    store = app.stores.get("sessions")
    raw = await store.get(session_id)
    assert raw is not None
    data = json.loads(raw)
    data.update(changes)
    await store.set(session_id, json.dumps(data).encode())


async def test_a_session_id_from_before_sign_in_is_not_valid_after_it(client: Client) -> None:
    planted = "attacker-chosen-session-id-0123456789"
    host = client.base_url.host
    client.cookies.set("session", planted, domain=host, path="/")
    await sign_in(client, "dentist@demo.test")
    issued = client.cookies.get("session")
    assert issued and issued != planted
    assert await _me(client) == 200
    client.cookies.clear()
    client.cookies.set("session", planted, domain=host, path="/")
    assert await _me(client) == 401


async def test_idle_timeout_ends_the_session(client: Client, app: Litestar) -> None:
    await sign_in(client, "dentist@demo.test")
    assert await _me(client) == 200
    session_id = client.cookies.get("session")
    assert session_id
    await _edit_session(app, session_id, **{SEEN_KEY: int(time.time()) - 16 * 60})
    assert await _me(client) == 401
    assert (await client.get("/account", follow_redirects=False)).headers["location"] == "/login"


async def test_activity_keeps_the_session_alive(client: Client, app: Litestar) -> None:
    await sign_in(client, "dentist@demo.test")
    session_id = client.cookies.get("session")
    assert session_id
    await _edit_session(app, session_id, **{SEEN_KEY: int(time.time()) - 14 * 60})
    assert await _me(client) == 200
    assert await _me(client) == 200


async def test_absolute_timeout_ends_even_an_active_session(client: Client, app: Litestar) -> None:
    await sign_in(client, "dentist@demo.test")
    session_id = client.cookies.get("session")
    assert session_id
    await _edit_session(app, session_id, **{STARTED_KEY: int(time.time()) - 12 * 3600 - 5})
    assert await _me(client) == 401


async def test_idle_timeout_setting(client_factory) -> None:
    client = await client_factory(SESSION_IDLE_MINUTES="1")
    await sign_in(client, "dentist@demo.test")
    session_id = client.cookies.get("session")
    assert session_id
    app = client.app
    await _edit_session(app, session_id, **{SEEN_KEY: int(time.time()) - 90})
    assert await _me(client) == 401


async def test_epoch_bump_ends_every_session(client: Client, db: AsyncSession) -> None:
    await sign_in(client, "dentist@demo.test")
    assert await _me(client) == 200
    await db.execute(update(User).where(User.email == "dentist@demo.test")
                     .values(session_epoch=User.session_epoch + 1))
    await db.commit()
    assert await _me(client) == 401


async def test_deactivated_account_is_signed_out(client: Client, db: AsyncSession) -> None:
    await sign_in(client, "dentist@demo.test")
    await db.execute(update(User).where(User.email == "dentist@demo.test").values(is_active=False))
    await db.commit()
    assert await _me(client) == 401


async def test_sign_out_deletes_the_stored_session(client: Client, app: Litestar) -> None:
    await sign_in(client, "dentist@demo.test")
    session_id = client.cookies.get("session")
    assert session_id
    token = await csrf_token(client)
    await client.post("/logout", headers={"x-csrftoken": token}, follow_redirects=False)
    assert await app.stores.get("sessions").get(session_id) is None
    client.cookies.clear()
    client.cookies.set("session", session_id, domain=client.base_url.host, path="/")
    assert await _me(client) == 401


async def test_cookie_flags_on_http(client: Client) -> None:
    token = await csrf_token(client)
    response = await client.post(
        "/login", data={"email": "dentist@demo.test", "password": DEMO_PASSWORD},
        headers={"x-csrftoken": token}, follow_redirects=False,
    )
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie


async def test_https_public_url_adds_hsts_and_secure_cookies(client_factory) -> None:
    client = await client_factory(PUBLIC_URL="https://toothline.example",
                                  SECRET_KEY="s" * 48)
    response = await client.get("/login")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "includeSubDomains" in response.headers["strict-transport-security"]
    assert (await client.get("/healthz")).headers.get("strict-transport-security")
    csrf_cookie = next(v for k, v in response.headers.multi_items()
                       if k == "set-cookie" and v.startswith("csrftoken="))
    assert "Secure" in csrf_cookie


async def test_password_reset_ends_old_sessions_and_tokens(
    client: Client, app: Litestar, db: AsyncSession
) -> None:
    from reviewer.accounts.links import RESET, issue_link

    await sign_in(client, "dentist@demo.test")
    api = await client.post("/api/v1/tokens", json={"email": "dentist@demo.test",
                                                    "password": DEMO_PASSWORD, "name": "x"})
    bearer = {"authorization": f"Bearer {api.json()['token']}"}
    user = await db.scalar(select(User).where(User.email == "dentist@demo.test"))
    assert user is not None
    link = await issue_link(db, user.id, RESET, created_by_id=None)
    await db.commit()
    token = await csrf_token(client)
    response = await client.post(f"/access/{link.token}", headers={"x-csrftoken": token},
                                 data={"password": "a brand new passphrase",
                                       "password_confirm": "a brand new passphrase"},
                                 follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert await _me(client) == 401
    assert (await client.get("/api/v1/me", headers=bearer)).status_code == 401


def _session_cookies(response: Any) -> list[str]:
    return [v for k, v in response.headers.multi_items()
            if k == "set-cookie" and v.startswith("session=")]


def _stored_sessions(app: Litestar) -> list[bytes]:
    store = app.stores.get("sessions")
    assert isinstance(store, FileStore)
    folder = Path(store.path)
    return sorted(p.read_bytes() for p in folder.iterdir()) if folder.exists() else []


async def test_requests_without_a_session_store_nothing_and_set_no_cookie(
    client: Client, app: Litestar
) -> None:
    """Every anonymous request used to leave an empty session in the store."""
    for path in ("/login", "/", "/api/v1/me"):
        assert _session_cookies(await client.get(path)) == []
    issued = await client.post("/api/v1/tokens", json={
        "email": "dentist@demo.test", "password": DEMO_PASSWORD, "name": "script"})
    assert issued.status_code == 201
    assert _session_cookies(issued) == []
    assert _stored_sessions(app) == []


async def test_a_bearer_request_neither_reads_nor_refreshes_a_session(
    client: Client, app: Litestar
) -> None:
    await sign_in(client, "dentist@demo.test")
    secret = (await client.post("/api/v1/tokens", json={
        "email": "dentist@demo.test", "password": DEMO_PASSWORD, "name": "script"})).json()
    before = _stored_sessions(app)
    assert len(before) == 1
    response = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {secret['token']}"}
    )
    assert response.status_code == 200
    assert _session_cookies(response) == []
    assert _stored_sessions(app) == before  # last-seen time not moved by the token's request


async def test_a_request_that_changes_nothing_does_not_write_the_session_back(
    client: Client, app: Litestar
) -> None:
    """A thumbnail poll running beside a form post used to save its stale copy of the
    session over the flash the form had just set (seen as a lost "Sent to the dentists")."""
    await sign_in(client, "dentist@demo.test")
    assert await _me(client) == 200
    session_id = client.cookies["session"]
    await _edit_session(app, session_id, _flashes=[["success", "set by another request"]])
    edited = _stored_sessions(app)
    for _ in range(3):  # within the idle-clock granularity: nothing to write
        response = await client.get("/api/v1/me")
        assert response.status_code == 200 and _session_cookies(response) == []
    assert _stored_sessions(app) == edited
