"""No GET route writes to the database except the audit trail (issue 23): every GET route the
app registers is walked, as every identity of the access matrix, over a database holding a
signed case, and the row count of every table but the audit tables stays the same."""

from __future__ import annotations

import datetime as dt

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from portal.app import create_app
from portal.settings import Settings
from storage.database import create_engine, create_session_maker
from storage.models import metadata
from tests.integration.accounts.helpers import add_other_organization, demo_ids
from tests.integration.accounts.test_access_matrix import IDENTITIES, Identity, _fill, walk
from tests.support.portal import seed, sign_in

AUDIT_TABLES = frozenset({"audit_event", "view_event"})
"""Reads of PHI are recorded; nothing else may change on a GET."""


async def _row_counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        async with create_session_maker(engine)() as db:
            counts = {}
            for table in metadata.sorted_tables:
                if table.name in AUDIT_TABLES:
                    continue
                counts[table.name] = int(
                    await db.scalar(select(func.count()).select_from(table)) or 0)
            return counts
    finally:
        await engine.dispose()


async def _signed_case(database_url: str, blob_url: str) -> None:
    """A reviewed case with its lines and documentation, so billing and records pages have
    work."""
    from reviewer.billing.jobs import sweep as billing_sweep
    from storage.blobs import open_blob_store
    from tests.integration.records.seeding import demo_patient, signed_case

    engine = create_engine(database_url)
    blobs = open_blob_store(blob_url)
    try:
        async with create_session_maker(engine)() as db:
            await signed_case(db, blobs, await demo_patient(db),
                              collected_on=dt.date.today() - dt.timedelta(days=2))
            await db.commit()
            # what the job runner does after signing (lines, package 1), done before the
            # walk so its start-up sweep has nothing left to write during it
            await billing_sweep(db, blobs)
    finally:
        await blobs.aclose()
        await engine.dispose()


@pytest.mark.parametrize("identity", [i for i in IDENTITIES if i.email],
                         ids=[i.name for i in IDENTITIES if i.email])
async def test_get_routes_write_nothing_but_audit_events(
    settings: Settings, database_url: str, identity: Identity
) -> None:
    await seed(database_url)
    await add_other_organization(database_url)
    await _signed_case(database_url, settings.blobs.url)
    ids = await demo_ids(database_url)
    real = {"patient_id": ids["patient"], "organization_id": ids["clinic"]}
    app = create_app(settings)
    async with AsyncTestClient(app=app) as client:
        assert identity.email
        await sign_in(client, identity.email)
        before = await _row_counts(database_url)
        walked = []
        for method, template, params in walk(app):
            if method != "GET" or template.startswith("/schema"):
                continue
            await client.get(_fill(template, params, real), follow_redirects=False)
            walked.append(template)
        after = await _row_counts(database_url)
    changed = {name: (before[name], after[name]) for name in before if before[name] != after[name]}
    assert len(walked) > 20
    assert not changed, f"GET routes wrote rows as {identity.name}: {changed}"
