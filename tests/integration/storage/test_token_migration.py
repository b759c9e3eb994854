"""Migration 0006 on a database that already holds API tokens: each old token gets an expiry
(upgrade + 90 days), the scopes ``read write`` and the fingerprint of its owner's grant, so
it keeps working until that grant changes."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic.script import ScriptDirectory
from sqlalchemy import select, update

from portal.accounts.tokens import user_for_token
from storage.database import alembic_config, create_engine, create_session_maker, upgrade_database
from storage.models import ApiToken, User
from tests.support.database import (
    REQUIRE_POSTGRES,
    _pg_admin,
    _pg_server_url,
    _postgres_available,
)

REVISION = "0006"


def _table(name: str, *columns: tuple[str, sa.types.TypeEngine]) -> sa.TableClause:
    return sa.table(name, *(sa.column(col, type_) for col, type_ in columns))


NOW = DateTimeUTC(timezone=True)
ORGANIZATION = _table("organization", ("id", GUID(length=16)), ("name", sa.String()),
                      ("kind", sa.String()), ("address_line", sa.String()),
                      ("city", sa.String()), ("state", sa.String()),
                      ("postal_code", sa.String()), ("phone", sa.String()),
                      ("time_zone", sa.String()), ("created_at", NOW), ("updated_at", NOW))
USER = _table("user_account", ("id", GUID(length=16)), ("email", sa.String()),
              ("display_name", sa.String()), ("role", sa.String()),
              ("is_active", sa.Boolean()), ("session_epoch", sa.Integer()),
              ("created_at", NOW), ("updated_at", NOW))
MEMBERSHIP = _table("user_organization", ("user_id", GUID(length=16)),
                    ("organization_id", GUID(length=16)))
TOKEN = _table("api_token", ("id", GUID(length=16)), ("user_id", GUID(length=16)),
               ("name", sa.String()), ("token_hash", sa.String()), ("prefix", sa.String()),
               ("created_at", NOW), ("updated_at", NOW))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own, not yet migrated (the shared ones are already at head)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'legacy.db'}"
        return
    problem = _postgres_available()
    if problem:
        if REQUIRE_POSTGRES:  # CI: a missing server fails, as in tests/support/database.py
            pytest.fail(f"PostgreSQL not reachable ({problem})")
        pytest.skip(f"PostgreSQL not reachable ({problem})")
    name = f"toothline_test_{secrets.token_hex(4)}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    yield _pg_server_url(name)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _before(url: str) -> str:
    """The revision this migration follows (whatever the chain says after merges)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    down = script.get_revision(REVISION).down_revision
    assert isinstance(down, str)
    return down


async def _legacy_rows(url: str, secret: str) -> uuid.UUID:
    engine = create_engine(url)
    now = datetime.now(UTC) - timedelta(days=400)  # issued long ago
    org_id, user_id = uuid.uuid4(), uuid.uuid4()
    try:
        async with engine.begin() as conn:
            await conn.execute(ORGANIZATION.insert().values(
                id=org_id, name="Legacy Practice", kind="practice", address_line="", city="",
                state="CA", postal_code="", phone="", time_zone="America/Los_Angeles",
                created_at=now, updated_at=now))
            await conn.execute(USER.insert().values(
                id=user_id, email="legacy@demo.test", display_name="Legacy", role="dentist",
                is_active=True, session_epoch=3, created_at=now, updated_at=now))
            await conn.execute(MEMBERSHIP.insert().values(user_id=user_id,
                                                          organization_id=org_id))
            await conn.execute(TOKEN.insert().values(
                id=uuid.uuid4(), user_id=user_id, name="old integration",
                token_hash=hashlib.sha256(secret.encode()).hexdigest(), prefix=secret[:12],
                created_at=now, updated_at=now))
    finally:
        await engine.dispose()
    return user_id


async def _after(url: str, secret: str, user_id: uuid.UUID) -> None:
    engine = create_engine(url)
    try:
        async with create_session_maker(engine)() as db:
            row = await db.scalar(select(ApiToken))
            assert row is not None
            assert row.scopes == "read write"
            ahead = row.expires_at - datetime.now(UTC)
            assert timedelta(days=89) < ahead <= timedelta(days=90)
            grant = await user_for_token(db, secret)
            assert grant is not None and grant.user.id == user_id
            assert grant.scopes == frozenset({"read", "write"})
            await db.execute(update(User).where(User.id == user_id)
                             .values(session_epoch=User.session_epoch + 1))
            await db.commit()
            assert await user_for_token(db, secret) is None
    finally:
        await engine.dispose()


def test_old_tokens_keep_working_until_the_grant_changes(empty_url: str) -> None:
    upgrade_database(empty_url, _before(empty_url))
    secret = "tl_" + secrets.token_urlsafe(32)
    user_id = asyncio.run(_legacy_rows(empty_url, secret))
    upgrade_database(empty_url, "head")
    asyncio.run(_after(empty_url, secret, user_id))
