from __future__ import annotations

import asyncio

from sqlalchemy import inspect

from storage.database import check_database, create_engine
from storage.models import metadata


def test_migrations_reach_head_without_drift(database_url: str) -> None:
    # database_url was upgraded from empty to head by the fixture; no model differs from it.
    check_database(database_url)

    async def tables() -> set[str]:
        engine = create_engine(database_url)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        await engine.dispose()
        return names

    assert set(metadata.tables) <= asyncio.run(tables())
