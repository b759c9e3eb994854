"""Alembic environment: runs on SQLite and PostgreSQL through the async engine."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import storage.models  # noqa: F401  (registers every model on the metadata)
from storage.models.base import metadata

config = context.config


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: use storage.database.alembic_config(url)")
    return str(url)


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render advanced-alchemy column types by their short import name."""
    if type_ == "type" and isinstance(obj, JSON) and getattr(obj, "_variant_mapping", None):
        autogen_context.imports.add("from advanced_alchemy.types import JsonB")
        return "JsonB"
    if type_ == "type" and type(obj).__module__.startswith("advanced_alchemy"):
        name = type(obj).__name__
        autogen_context.imports.add(f"from advanced_alchemy.types import {name}")
        if name == "GUID":
            return f"GUID(length={obj.length})"
        if name == "DateTimeUTC":
            return "DateTimeUTC(timezone=True)"
        return f"{name}()"
    return False


def _compare_type(
    _context: object,
    _inspected_column: object,
    _metadata_column: object,
    _inspected_type: object,
    metadata_type: object,
) -> bool | None:
    # advanced-alchemy's GUID/DateTimeUTC are stored as backend-native types (BINARY(16) on
    # SQLite reflects as NUMERIC): comparing them reports drift that is not there.
    if type(metadata_type).__module__.startswith("advanced_alchemy"):
        return False
    return None


def _configure(connection: Connection | None = None) -> None:
    context.configure(
        connection=connection,
        url=None if connection is not None else _url(),
        target_metadata=metadata,
        render_as_batch=True,  # SQLite needs batch mode for ALTER TABLE
        compare_type=_compare_type,
        version_table="alembic_version",
        render_item=_render_item,
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    _configure()
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
