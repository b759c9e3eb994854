"""Portal fixtures: a fresh app per test (never one app shared by clients) on the
``database_url`` backend, with the demo seeded, and signed-in clients."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from portal.app import create_app
from portal.demo import seed_demo
from portal.settings import Settings
from storage.database import create_engine, create_session_maker

DEMO_PASSWORD = "demo-password-123"


def make_settings(
    monkeypatch: pytest.MonkeyPatch, database_url: str, var_dir: Path, **env: str
) -> Settings:
    monkeypatch.setenv("TOOTHLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("TOOTHLINE_VAR_DIR", str(var_dir))
    monkeypatch.setenv("TOOTHLINE_BLOB_URL", f"file://{var_dir / 'blobs'}")
    if not database_url.startswith("sqlite"):
        monkeypatch.setenv("TOOTHLINE_SECRET_KEY", "test-secret-key-" + "x" * 40)
    for name, value in env.items():
        monkeypatch.setenv(f"TOOTHLINE_{name}", value)
    return Settings.from_env()


async def seed(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with create_session_maker(engine)() as db:
            await seed_demo(db, DEMO_PASSWORD)
            await db.commit()
    finally:
        await engine.dispose()


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Settings:
    return make_settings(monkeypatch, database_url, tmp_path)


@pytest.fixture
async def app(settings: Settings) -> Litestar:
    await seed(settings.database.url)
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def csrf_token(client: AsyncTestClient[Litestar]) -> str:
    """The CSRF token current for ``client``: the server keeps the ``csrftoken`` cookie equal
    to it (anonymous: the double-submit token; signed in: the one bound to the session, new
    after every sign-in), so GET a page only when there is no cookie yet."""
    if "csrftoken" not in client.cookies:
        await client.get("/login")
    return str(client.cookies["csrftoken"])


async def sign_in(
    client: AsyncTestClient[Litestar], email: str, password: str = DEMO_PASSWORD
) -> None:
    token = await csrf_token(client)
    response = await client.post(
        "/login",
        data={"email": email, "password": password},
        headers={"x-csrftoken": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def form_token(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)
