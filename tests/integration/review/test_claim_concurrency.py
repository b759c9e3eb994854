"""Many dentists press "next case" at the same moment against PostgreSQL: nobody gets a case
twice, and nobody is turned away while cases wait."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from portal.accounts.passwords import hash_password
from portal.app import create_app
from reviewer.queue.claims import claim_next
from storage.database import create_engine
from storage.models import AuditEvent, Case
from tests.integration.review.conftest import World, utcnow
from tests.support.portal import DEMO_PASSWORD, make_settings, seed, sign_in

pytestmark = pytest.mark.postgres

CLAIMERS = 24
CASES = 20


@pytest.fixture
def database_url(postgres_url: str) -> AsyncIterator[str]:  # type: ignore[override]
    """PostgreSQL only (the whole point), emptied afterwards like the shared fixture."""
    from tests.support.database import _empty_tables

    yield postgres_url
    asyncio.run(_empty_tables(postgres_url))


async def _dentists(world: World, n: int, password_hash: str | None = None) -> list:
    return [await world.add_dentist(f"claimer{i}@demo.test", password_hash=password_hash)
            for i in range(n)]


async def test_concurrent_claim_next_through_the_service(world: World,
                                                         db_engine: AsyncEngine) -> None:
    for i in range(CASES):
        await world.add_case(urgency=["urgent", "soon", "routine"][i % 3])
    dentists = await _dentists(world, CLAIMERS)
    actors = [(world.actor(d), world.ctx(d)) for d in dentists]
    engine = create_engine(world.db.bind.url.render_as_string(hide_password=False),
                           pool_size=CLAIMERS)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    start = asyncio.Event()

    async def claimer(actor, ctx):
        async with maker() as session:
            await start.wait()
            case = await claim_next(session, actor, ctx, now=utcnow())
            await session.commit()
            return (actor.user_id, case.id if case else None)

    try:
        tasks = [asyncio.create_task(claimer(a, c)) for a, c in actors]
        await asyncio.sleep(0.05)
        start.set()
        results = await asyncio.gather(*tasks)
    finally:
        await engine.dispose()

    claimed = [case_id for _, case_id in results if case_id is not None]
    assert len(claimed) == CASES, "every waiting case went to somebody"
    assert len(set(claimed)) == CASES, "no case was claimed twice"
    assert sum(1 for _, c in results if c is None) == CLAIMERS - CASES
    rows = (await world.db.execute(select(Case.id, Case.claimed_by_id, Case.status))).all()
    holder = dict(results)
    for case_id, claimed_by, status in rows:
        assert status == "in_review"
        assert holder[claimed_by] == case_id
    audits = Counter(await world.db.scalars(
        select(AuditEvent.subject_id).where(AuditEvent.action == "case.claimed")))
    assert len(audits) == CASES and set(audits.values()) == {1}


async def test_concurrent_claim_next_through_the_api(world: World, monkeypatch, tmp_path) -> None:
    for _ in range(CASES):
        await world.add_case()
    clients_n, per_client = 8, 3  # 8 apps/clients, 3 simultaneous presses each: 24 claimers
    dentists = await _dentists(world, clients_n, hash_password(DEMO_PASSWORD))
    dentist_ids = {d.id for d in dentists}
    url = world.db.bind.url.render_as_string(hide_password=False)
    settings = make_settings(monkeypatch, url.replace("postgresql+asyncpg", "postgresql"),
                             tmp_path)
    await seed(settings.database.url)
    clients: list[AsyncTestClient[Litestar]] = []
    try:
        for dentist in dentists:
            client = AsyncTestClient(app=create_app(settings))
            await client.__aenter__()
            clients.append(client)
            await sign_in(client, dentist.email)

        async def press(client):
            token = client.cookies["csrftoken"]
            return await client.post("/api/v1/queue/claim", headers={"x-csrftoken": token})

        responses = await asyncio.gather(
            *(press(c) for c in clients for _ in range(per_client)))
    finally:
        for client in clients:
            await client.__aexit__(None, None, None)
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: CASES, 204: clients_n * per_client - CASES}, statuses
    ids = [r.json()["id"] for r in responses if r.status_code == 200]
    assert len(set(ids)) == CASES
    rows = (await world.db.execute(select(Case.id, Case.status, Case.claimed_by_id))).all()
    assert {s for _, s, _ in rows} == {"in_review"}
    assert {c for _, _, c in rows} <= dentist_ids
    assert sorted(str(i) for i, _, _ in rows) == sorted(ids)
