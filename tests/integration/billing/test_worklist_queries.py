"""The worklist GET reads only, with a fixed number of statements: the same for one case as
for twenty, and no INSERT/UPDATE/DELETE besides its audit events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from tests.integration.billing.conftest import seed_post_op
from tests.support.portal import sign_in


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine runs meanwhile (the app's engine included)."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", before)


def _writes(seen: list[str]) -> list[str]:
    """Writes other than the audit trail's (the worklist view is audited)."""
    return [
        s for s in seen
        if s.split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"} and "audit" not in s
    ]


async def _worklist_statements(client: AsyncTestClient[Litestar]) -> list[str]:
    with statements() as seen:
        response = await client.get("/billing")
    assert response.status_code == 200, response.text
    return seen


async def test_worklist_statements_do_not_grow_with_cases(
    client: AsyncTestClient[Litestar], app_db: AsyncSession
):
    blobs = client.app.state.blobs
    await seed_post_op(app_db, blobs, files=(), package=False)
    await sign_in(client, "billing@demo.test")
    await client.get("/billing")  # warm caches (sessions, payer profiles) once
    one = await _worklist_statements(client)
    for _ in range(19):
        await seed_post_op(app_db, blobs, files=(), package=False)
    twenty = await _worklist_statements(client)
    assert len(twenty) == len(one), (one, twenty)
    assert _writes(one) == [] and _writes(twenty) == []
    page = (await client.get("/billing")).text
    assert page.count("D9996") >= 20
