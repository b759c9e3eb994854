"""Sessions and HTTP answers an auditor signs off: no caching of signed-in answers, CSRF
tokens bound to the session (rotated at sign-in), the Origin check, forwarded headers only
from trusted proxies, the request log's status, the sign-out cookie, private var files."""

from __future__ import annotations

import logging
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from storage.blobs import new_blob_key
from storage.database import create_engine, create_session_maker
from storage.models import AuditEvent, LoginFailure
from tests.integration.accounts.helpers import Client
from tests.support.portal import DEMO_PASSWORD, csrf_token, form_token, make_settings, sign_in

PUBLIC = "http://127.0.0.1:8000"


def _set_cookies(response: Any, name: str) -> list[str]:
    return [v for k, v in response.headers.multi_items()
            if k == "set-cookie" and v.startswith(f"{name}=")]


def _assert_no_store(response: Any) -> None:
    assert "no-store" in response.headers.get("cache-control", ""), (
        response.request.url, response.status_code, response.headers.get("cache-control"))
    assert response.headers.get("pragma") == "no-cache"


# ------------------------------------------------------------------ caching


async def test_every_answer_to_a_signed_in_request_is_no_store(client: Client) -> None:
    anonymous = await client.get("/login")
    assert "no-store" not in anonymous.headers.get("cache-control", "")
    await sign_in(client, "dentist@demo.test")
    token = await csrf_token(client)
    answers = [
        await client.get("/"),  # page
        await client.get("/account", headers={"hx-request": "true", "hx-target": "main"}),
        await client.get("/api/v1/me"),  # JSON
        await client.get(f"/api/v1/patients/{uuid.uuid4()}"),  # error inside a route
        await client.get("/no-such-page"),  # error outside any route
        await client.post("/account/tokens", data={"name": ""},
                          headers={"x-csrftoken": token}),  # 422 fragment
    ]
    for response in answers:
        _assert_no_store(response)
    static = await client.get("/static/css/app.css")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("cache-control", "")
    assert "pragma" not in static.headers
    signed_out = await client.post("/logout", headers={"x-csrftoken": token},
                                   follow_redirects=False)
    assert signed_out.status_code == 303
    _assert_no_store(signed_out)  # a redirect


async def test_bearer_answers_are_no_store(client: Client) -> None:
    issued = await client.post("/api/v1/tokens", json={
        "email": "dentist@demo.test", "password": DEMO_PASSWORD, "name": "cache"})
    bearer = {"authorization": f"Bearer {issued.json()['token']}"}
    client.cookies.clear()
    _assert_no_store(await client.get("/api/v1/me", headers=bearer))
    _assert_no_store(await client.get("/api/v1/me", headers={"authorization": "Bearer nope"}))


async def test_a_weaker_cache_control_of_a_route_becomes_no_store() -> None:
    from portal.accounts.current_user import CurrentUser
    from portal.http_middleware import security_headers_hook

    user = CurrentUser(id=uuid.uuid4(), email="x@demo.test", role="dentist",
                       display_name="X", organizations=(), patient_ids=frozenset(),
                       auth_method="session")
    hook = security_headers_hook(hsts=False)
    message: Any = {"type": "http.response.start", "status": 200,
                    "headers": [(b"cache-control", b"public, max-age=3600")]}
    await hook(message, {"type": "http", "path": "/cases/1", "headers": [], "user": user})
    headers = dict(message["headers"])
    assert headers[b"cache-control"] == b"no-store" and headers[b"pragma"] == b"no-cache"
    kept: Any = {"type": "http.response.start", "status": 200,
                 "headers": [(b"cache-control", b"private, no-store")]}
    await hook(kept, {"type": "http", "path": "/x", "headers": [], "user": user})
    assert dict(kept["headers"])[b"cache-control"] == b"private, no-store"


# ------------------------------------------------------------------ CSRF


async def _account_post(client: Client, token: str, **headers: str) -> int:
    response = await client.post("/account/tokens", data={"name": ""},
                                 headers={"x-csrftoken": token, **headers})
    return response.status_code


async def test_a_token_of_another_session_is_refused(client_factory) -> None:
    alice = await client_factory()
    bob = await client_factory()
    await sign_in(alice, "dentist@demo.test")
    await sign_in(bob, "hygienist@demo.test")
    alice_token, bob_token = await csrf_token(alice), await csrf_token(bob)
    assert alice_token != bob_token
    assert await _account_post(bob, bob_token) == 422  # passes CSRF, fails validation
    assert await _account_post(bob, alice_token) == 403
    # Double-submit no longer rescues a stolen or planted token: the cookie proves nothing.
    bob.cookies.set("csrftoken", alice_token, domain=bob.base_url.host, path="/")
    assert await _account_post(bob, alice_token) == 403


async def test_the_token_rotates_at_sign_in_and_the_page_carries_it(client: Client) -> None:
    before = await csrf_token(client)
    await sign_in(client, "dentist@demo.test")
    assert await _account_post(client, before) == 403
    page = await client.get("/account")
    rendered = form_token(page.text)
    assert rendered != before and rendered == client.cookies["csrftoken"]
    assert await _account_post(client, rendered) == 422
    form = await client.post("/account/tokens", data={"name": "", "_csrf_token": rendered})
    assert form.status_code == 422


async def test_a_planted_anonymous_token_is_worthless_after_sign_in(client: Client) -> None:
    """Login CSRF / cookie tossing: a valid pre-sign-in pair does not pass once signed in."""
    anonymous = await csrf_token(client)
    await sign_in(client, "dentist@demo.test")
    client.cookies.set("csrftoken", anonymous, domain=client.base_url.host, path="/")
    assert await _account_post(client, anonymous) == 403


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:8001",
                                    "https://127.0.0.1:8000"])
async def test_a_cross_site_origin_with_a_session_cookie_is_refused(
    client: Client, origin: str
) -> None:
    await sign_in(client, "dentist@demo.test")
    token = await csrf_token(client)
    assert await _account_post(client, token, origin=origin) == 403
    assert await _account_post(client, token, origin=PUBLIC) == 422
    assert await _account_post(client, token, origin=PUBLIC + "/") == 422
    assert await _account_post(client, token) == 422  # no Origin: the token decides


async def test_bearer_requests_skip_csrf_and_the_origin_check(client: Client) -> None:
    issued = await client.post("/api/v1/tokens", json={
        "email": "dentist@demo.test", "password": DEMO_PASSWORD, "name": "origin"})
    assert issued.status_code == 201
    bearer = {"authorization": f"Bearer {issued.json()['token']}", "origin": "null"}
    token_id = issued.json()["id"]
    revoked = await client.delete(f"/api/v1/tokens/{token_id}", headers=bearer)
    assert revoked.status_code == 204


# ------------------------------------------------------------------ forwarded headers


def _peer(app: Litestar, host: str) -> None:
    """Make every request come from ``host`` (the test transport says "testclient")."""
    inner = app.asgi_handler

    async def from_peer(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope["client"] = (host, 40000)
        await inner(scope, receive, send)

    app.asgi_handler = from_peer


async def _failed_sign_in(client: Client, email: str, xff: str) -> int:
    token = await csrf_token(client)
    response = await client.post("/login", data={"email": email, "password": "wrong-password"},
                                 headers={"x-csrftoken": token, "x-forwarded-for": xff})
    return response.status_code


async def _failure_addresses(database_url: str) -> tuple[set[str | None], set[str]]:
    engine = create_engine(database_url)
    try:
        async with create_session_maker(engine)() as db:
            audited = set((await db.scalars(select(AuditEvent.client_address).where(
                AuditEvent.action == "session.sign_in_failed"))).all())
            counted = set((await db.scalars(select(LoginFailure.client_address))).all())
            return audited, counted
    finally:
        await engine.dispose()


async def test_forwarded_for_from_a_trusted_proxy_is_used(app_factory, database_url) -> None:
    app = await app_factory(TRUSTED_PROXIES="10.9.0.0/16, 192.0.2.1")
    _peer(app, "10.9.8.7")
    async with AsyncTestClient(app=app) as client:
        # The client forged the left entry; the proxy appended what it saw.
        assert await _failed_sign_in(client, "nobody@demo.test", "6.6.6.6, 203.0.113.9") == 401
    audited, counted = await _failure_addresses(database_url)
    assert audited == {"203.0.113.9"} and counted == {"203.0.113.9"}


async def test_forwarded_for_from_anyone_else_is_ignored(app_factory, database_url) -> None:
    """Loopback is not trusted either (uvicorn's default would be): varying spoofed
    X-Forwarded-For values still lock the real address."""
    app = await app_factory(LOGIN_MAX_FAILURES_PER_ADDRESS="3")
    _peer(app, "127.0.0.1")
    async with AsyncTestClient(app=app) as client:
        for n in range(3):
            assert await _failed_sign_in(client, f"u{n}@demo.test", f"198.51.100.{n}") == 401
        assert await _failed_sign_in(client, "u9@demo.test", "198.51.100.77") == 429
    audited, counted = await _failure_addresses(database_url)
    assert audited == {"127.0.0.1"} and counted == {"127.0.0.1"}


def test_the_server_leaves_forwarded_headers_to_the_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    import portal.serving
    from portal.cli import main
    from portal.settings import get_settings

    seen: list[Any] = []
    monkeypatch.setattr(portal.serving, "serve", lambda config, workers: seen.append(config) or 0)
    monkeypatch.setenv("TOOTHLINE_DATABASE_URL", "postgresql://127.0.0.1:1/none")
    monkeypatch.setenv("TOOTHLINE_SECRET_KEY", "k" * 48)
    monkeypatch.setenv("TOOTHLINE_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["run", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert seen and seen[0].proxy_headers is False


# ------------------------------------------------------------------ smaller


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def request_log() -> Iterator[_Lines]:
    handler = _Lines()
    logger = logging.getLogger("toothline.request")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


async def test_the_request_log_records_the_status_the_client_got(
    client: Client, request_log: _Lines
) -> None:
    await sign_in(client, "dentist@demo.test")
    request_log.records.clear()
    refused = await client.post("/account/tokens", data={"name": "x"},
                                headers={"x-csrftoken": "forged"})
    assert refused.status_code == 403
    statuses = [getattr(r, "status", None) for r in request_log.records]
    assert statuses == [403]
    assert refused.headers.get("x-request-id")


async def test_signing_out_expires_the_session_cookie_at_once(client: Client) -> None:
    await sign_in(client, "dentist@demo.test")
    response = await client.post("/logout", headers={"x-csrftoken": await csrf_token(client)},
                                 follow_redirects=False)
    cookies = _set_cookies(response, "session")
    assert cookies and all("Max-Age=0" in c for c in cookies), cookies
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_var_dir_database_and_stores_are_private(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    from portal.app import create_app

    var_dir = tmp_path / "fresh" / "var"
    settings = make_settings(monkeypatch, database_url, var_dir)
    if settings.database.is_sqlite:
        sqlite_dir = tmp_path / "db-dir"
        settings = make_settings(monkeypatch, f"sqlite:///{sqlite_dir}/t.db", var_dir)
        import anyio

        from storage.database import upgrade_database
        from tests.support.portal import seed

        await anyio.to_thread.run_sync(upgrade_database, settings.database.url)
        await seed(settings.database.url)
        assert stat.S_IMODE((sqlite_dir / "t.db").stat().st_mode) == 0o600
        assert stat.S_IMODE(sqlite_dir.stat().st_mode) == 0o700
    else:
        from tests.support.portal import seed

        await seed(settings.database.url)
    async with AsyncTestClient(app=create_app(settings)) as client:
        await sign_in(client, "dentist@demo.test")
        await client.app.state.blobs.put(new_blob_key("test"), b"x")
    for folder in (var_dir, var_dir / "sessions", var_dir / "blobs"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


async def test_the_origin_the_request_was_sent_to_is_same_site(client: Client) -> None:
    """Opened at another name of the same server (localhost instead of 127.0.0.1): the
    browser's Origin equals the request's own Host, which a foreign page cannot forge."""
    await sign_in(client, "dentist@demo.test")
    token = await csrf_token(client)
    own = f"http://{client.base_url.host}"
    assert await _account_post(client, token, origin=own) == 422
    assert await _account_post(client, token, origin="https://" + client.base_url.host) == 403
