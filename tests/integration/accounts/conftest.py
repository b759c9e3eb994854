from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from portal.app import create_app
from portal.settings import Settings, get_settings
from tests.support.portal import make_settings, seed


@pytest.fixture(autouse=True)
def _fresh_settings_cache() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def app_factory(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path):
    """Build an app with extra TOOTHLINE_* settings (one app per client)."""

    async def build(**env: str) -> Litestar:
        settings: Settings = make_settings(monkeypatch, database_url, tmp_path, **env)
        await seed(database_url)
        return create_app(settings)

    return build


@pytest.fixture
async def client_factory(app_factory):
    clients: list[AsyncTestClient[Litestar]] = []

    async def build(**env: str) -> AsyncTestClient[Litestar]:
        client = AsyncTestClient(app=await app_factory(**env))
        await client.__aenter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.__aexit__(None, None, None)

