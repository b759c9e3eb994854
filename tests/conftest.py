"""Test-wide setup. Environment variables are set before any portal module reads them.

Database-backed tests take the ``database_url`` fixture, parametrized over SQLite and
PostgreSQL (``TOOTHLINE_TEST_POSTGRES_URL``, default the local server). Without a reachable
PostgreSQL the PostgreSQL half is skipped with a clear reason, unless
``TOOTHLINE_REQUIRE_POSTGRES=1`` (CI), where it fails instead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type

from portal.accounts.passwords import use_hasher

_VAR = Path(tempfile.mkdtemp(prefix="toothline-tests-"))
os.environ.setdefault("TOOTHLINE_VAR_DIR", str(_VAR))
os.environ.setdefault("TOOTHLINE_DEMO_PASSWORD", "demo-password-123")
os.environ.setdefault("TOOTHLINE_ADMIN_PASSWORD", "admin-password-123")
# One audit key for the whole run: record_event in services and the CLI and apps built from
# the environment then agree. A test that starts an app with another key gets this one back.
os.environ.setdefault("TOOTHLINE_AUDIT_KEY", "test-audit-key-" + "a" * 40)
TEST_AUDIT_KEY = os.environ["TOOTHLINE_AUDIT_KEY"]

from storage.audit import configure_audit_key  # noqa: E402  (after the environment is set)

configure_audit_key(TEST_AUDIT_KEY)

# A cheap argon2id for the suite, which signs in thousands of times (production parameters:
# portal/accounts/passwords.py PRODUCTION_HASHER, checked in tests/unit/accounts/test_rules.py).
use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID))

pytest_plugins = [
    "tests.support.s3server", "tests.support.database", "tests.support.portal",
    "tests.support.smtp",
]


@pytest.fixture(autouse=True)
def _test_audit_key() -> Iterator[None]:
    yield
    configure_audit_key(TEST_AUDIT_KEY)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser journeys run last: Playwright's sync API keeps an event loop running in the
    main thread for the rest of the session, which asyncio.run() in other tests cannot
    share."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)

