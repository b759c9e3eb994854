"""Fixtures the billing, records and coordination tests share: for service tests without an
app, a blob store in memory (``blobs``) and the database with the demo accounts (``demo_db``);
for route tests, a session on the app's own database (``app_db``, to seed and to look).

A conftest takes them by importing them: ``from tests.support.services import app_db, ...``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

from portal.settings import Settings
from storage.blobs import BlobStore, MemoryBlobStore
from storage.database import create_engine, create_session_maker
from tests.support.portal import seed


@pytest.fixture
async def blobs() -> AsyncIterator[BlobStore]:
    store = MemoryBlobStore()
    yield store
    await store.aclose()


@pytest.fixture
async def demo_db(database_url: str, db: AsyncSession) -> AsyncSession:
    """A database with the demo accounts (for service tests without an app)."""
    await seed(database_url)
    return db


@pytest.fixture
async def app_db(settings: Settings, app: Litestar) -> AsyncIterator[AsyncSession]:
    """A session of its own on the database of the ``app`` fixture."""
    engine = create_engine(settings.database.url)
    async with create_session_maker(engine)() as session:
        yield session
    await engine.dispose()
