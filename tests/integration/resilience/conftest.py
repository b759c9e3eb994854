"""Resilience fixtures."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.support.database import _empty_tables


@pytest.fixture
def clean_sqlite_url(sqlite_url: str) -> Iterator[str]:
    """The session's SQLite database, emptied after the test."""
    yield sqlite_url
    asyncio.run(_empty_tables(sqlite_url))
