"""Benchmark: the review queue page and "next case" with 100,000 cases in PostgreSQL.

Creates a fresh database on the server of ``TOOTHLINE_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``), migrates it, seeds the demo accounts and
100,000 cases (a third of them waiting, the rest in every other status, five organizations,
mostly California), then prints the median and 95th percentile of:

* the queue's first page, a deep keyset page (cursor), a filtered page (urgent + overdue);
* claim-next (each a committed transaction, audit event included).

Prints figures, asserts nothing. ``--cases N`` to change the size, ``--keep`` to keep the
database. Run: ``.venv/bin/python -m tests.bench.bench_queue``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select, text

from portal.demo import seed_demo
from reviewer.actor import Actor
from reviewer.queue.claims import claim_next
from reviewer.queue.listing import QueueFilters, list_queue
from reviewer.queue.scope import QUEUE_RANK
from storage.audit import AuditContext, configure_audit_key
from storage.database import create_engine, create_session_maker, upgrade_database
from storage.models import Case, Organization, Patient, User

ADMIN_URL = os.environ.get(
    "TOOTHLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
STATUSES = (["submitted"] * 30 + ["in_review"] * 4 + ["reviewed"] * 40 + ["closed"] * 20
            + ["draft"] * 3 + ["needs_info"] * 3)
KINDS = ("post_op", "emergency", "question", "school_screening")


async def _admin(statement: str) -> None:
    engine = create_engine(ADMIN_URL)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def seed(url: str, n_cases: int) -> None:
    engine = create_engine(url)
    rng = random.Random(7)
    now = datetime.now(UTC)
    try:
        async with create_session_maker(engine)() as db:
            await seed_demo(db, "bench-password-123")
            orgs = list(await db.scalars(select(Organization)))
            for i in range(3):
                org = Organization(name=f"Bench Org {i}", state="CA")
                db.add(org)
                orgs.append(org)
            await db.flush()
            submitter = await db.scalar(select(User).where(User.email == "hygienist@demo.test"))
            assert submitter is not None
            patients = []
            for i in range(5000):
                patients.append({
                    "id": uuid.uuid4(), "organization_id": orgs[i % len(orgs)].id,
                    "first_name": f"P{i}", "last_name": "Bench",
                    "date_of_birth": date(1950 + i % 60, 1 + i % 12, 1 + i % 28), "state": "CA",
                })
            await db.execute(insert(Patient), patients)
            rows = []
            for i in range(n_cases):
                patient = patients[i % len(patients)]
                status = rng.choice(STATUSES)
                urgency = rng.choice(("urgent", "soon", "routine", "routine", "routine"))
                submitted = now - timedelta(minutes=rng.randint(1, 60 * 24 * 30))
                lapsed = rng.random() < 0.5
                rows.append({
                    "organization_id": patient["organization_id"],
                    "patient_id": patient["id"],
                    "kind": rng.choice(KINDS),
                    "status": status,
                    "urgency": urgency,
                    "urgency_rank": QUEUE_RANK[urgency],  # type: ignore[index]
                    "questionnaire": {"pain": rng.randint(0, 10)},
                    "location_state": "CA" if rng.random() < 0.9 else "NV",
                    "location_site": "home",
                    "submitted_by_id": submitter.id,
                    "submitted_at": None if status == "draft" else submitted,
                    "first_submitted_at": None if status == "draft" else submitted,
                    "due_at": None if status == "draft" else submitted + timedelta(hours=24),
                    "claimed_by_id": submitter.id if status == "in_review" else None,
                    "lease_expires_at": (
                        (now - timedelta(minutes=5) if lapsed else now + timedelta(minutes=20))
                        if status == "in_review" else None
                    ),
                })
                if len(rows) == 5000:
                    await db.execute(insert(Case), rows)
                    rows = []
            if rows:
                await db.execute(insert(Case), rows)
            await db.commit()
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


async def _timed(runs: int, fn: Callable[[], Awaitable[object]]) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _report(name: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(f"{name:<34} n={len(ms):<4} median {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms")


async def measure(url: str, runs: int) -> None:
    engine = create_engine(url)
    maker = create_session_maker(engine)
    try:
        async with maker() as db:
            dentist = await db.scalar(select(User).where(User.email == "dentist@demo.test"))
            assert dentist is not None
            actor = Actor(user_id=dentist.id, role=dentist.role,
                          organization_ids=frozenset(o.id for o in dentist.organizations))
            ctx = AuditContext(actor_id=dentist.id, actor_role="dentist")
            waiting = await db.scalar(text(
                "SELECT count(*) FROM \"case\" WHERE status = 'submitted'"))
            print(f"cases waiting: {waiting}")
            # A cursor 20 pages deep.
            cursor = None
            for _ in range(20):
                cursor = (await list_queue(db, actor, QueueFilters(cursor=cursor),
                                           now=datetime.now(UTC))).next_cursor

        async def page(filters: QueueFilters) -> None:
            async with maker() as db:
                await list_queue(db, actor, filters, now=datetime.now(UTC))

        async def claim() -> None:
            async with maker() as db:
                await claim_next(db, actor, ctx, now=datetime.now(UTC))
                await db.commit()

        await page(QueueFilters())  # warm the pool
        _report("queue page 1 (50 rows)", await _timed(runs, lambda: page(QueueFilters())))
        _report("queue page 21 (keyset cursor)",
                await _timed(runs, lambda: page(QueueFilters(cursor=cursor))))
        _report("queue urgent + overdue",
                await _timed(runs, lambda: page(QueueFilters(urgency="urgent",  # type: ignore[arg-type]
                                                             overdue=True))))
        _report("claim next (commit + audit)", await _timed(runs, claim))
        async with maker() as db:
            plan = await db.execute(text(
                "EXPLAIN SELECT id FROM \"case\" WHERE status = 'submitted' "
                "ORDER BY urgency_rank, due_at, id LIMIT 51"))
            print("plan:", " / ".join(r[0].strip() for r in plan.all()[:2]))
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    configure_audit_key("bench-audit-key-" + "k" * 40)  # claims record audit events
    name = f"toothline_bench_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rpartition('/')[0]}/{name}"
    try:
        await asyncio.to_thread(upgrade_database, url)
        start = time.perf_counter()
        await seed(url, args.cases)
        print(f"seeded {args.cases} cases in {time.perf_counter() - start:.1f} s ({name})")
        await measure(url, args.runs)
    finally:
        if not args.keep:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())


