"""Test-wide setup. Environment variables are set before any portal module reads them.

Database-backed tests take the ``database_url`` fixture, parametrized over SQLite and
PostgreSQL (``TOOTHLINE_TEST_POSTGRES_URL``, default the local server). Without a reachable
PostgreSQL the PostgreSQL half is skipped with a clear reason, unless
``TOOTHLINE_REQUIRE_POSTGRES=1`` (CI), where it fails instead.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_VAR = Path(tempfile.mkdtemp(prefix="toothline-tests-"))
os.environ.setdefault("TOOTHLINE_VAR_DIR", str(_VAR))
os.environ.setdefault("TOOTHLINE_DEMO_PASSWORD", "demo-password-123")
os.environ.setdefault("TOOTHLINE_ADMIN_PASSWORD", "admin-password-123")

pytest_plugins = [
    "tests.support.s3server", "tests.support.database", "tests.support.portal",
    "tests.support.smtp",
]



def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser journeys run last: Playwright's sync API keeps an event loop running in the
    main thread for the rest of the session, which asyncio.run() in other tests cannot
    share."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)

