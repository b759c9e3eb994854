from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from storage.blobs import BlobStore, MemoryBlobStore
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
