"""Fixtures for service tests that run without an app (billing, records, coordination): a blob
store in memory and the database with the demo accounts.

A conftest takes them by importing them: ``from tests.support.services import blobs, demo_db``.
"""

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
