"""schemathesis against the app's own OpenAPI schema, in-process (ASGI), as several roles:
no answer is a 5xx, and every status answered is documented in the schema.

A fresh app is built for schemathesis (one app shared by several clients hangs at shutdown).

Every operation of the schema is run, each as two roles (rotating, so every role meets every
area) with at most ``EXAMPLES`` generated examples per role: the run grows with the API, one
operation at a time, and stays short on a 2-core CI by keeping the examples per operation few,
never by leaving operations out. ``BUDGET_S`` is a ceiling per database, several times a normal
run: should the run reach it, the operations left are not started and the test FAILS naming
them (lower ``EXAMPLES`` or look for the slow operation; never let an operation go unfuzzed).
The test prints how many operations it ran and how long it took (``pytest -s``)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import status_code_conformance
from sqlalchemy import select

from portal.accounts.tokens import issue_token
from portal.app import create_app
from portal.settings import Settings
from storage.audit import AuditContext
from storage.database import create_engine, create_session_maker
from storage.models import User
from tests.support.portal import seed

pytestmark = pytest.mark.slow

ROLES = ("patient@demo.test", "dentist@demo.test", "billing@demo.test",
         "hygienist@demo.test", "coordinator@demo.test")
EXAMPLES = 4
"""Generated examples per operation and role (hypothesis may need fewer)."""
ROLES_PER_OPERATION = 2
BUDGET_S = 300.0
"""Per database, a ceiling far above a normal run: reaching it fails the test."""


async def _tokens(database_url: str) -> dict[str, str]:
    engine = create_engine(database_url)
    try:
        async with create_session_maker(engine)() as db:
            secrets: dict[str, str] = {}
            for email in ROLES:
                user = await db.scalar(select(User).where(User.email == email))
                assert user is not None
                ctx = AuditContext(actor_id=user.id, actor_role=user.role,
                                   client_address="127.0.0.1")
                _, secrets[email] = await issue_token(db, user, "schemathesis", ctx,
                                                      lifetime=timedelta(days=1))
            await db.commit()
            return secrets
    finally:
        await engine.dispose()


def _fuzz(operation: Any, token: str) -> None:
    """A failing check raises (hypothesis then shrinks it to the smallest example)."""

    @given(case=operation.as_strategy())
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                         phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = case.call(headers={"authorization": f"Bearer {token}"})
        case.validate_response(response, checks=[not_a_server_error, status_code_conformance])

    run()


def test_no_server_error_and_every_status_documented(settings: Settings) -> None:
    asyncio.run(seed(settings.database.url))
    tokens = asyncio.run(_tokens(settings.database.url))
    app = create_app(settings)
    skipped: list[str] = []
    started = time.monotonic()
    try:
        schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        assert len(operations) > 40
        for index, operation in enumerate(operations):
            if time.monotonic() - started > BUDGET_S:
                skipped.append(operation.label)
                continue
            # Two roles per operation, rotating, so every role meets every area.
            for step in range(ROLES_PER_OPERATION):
                _fuzz(operation, tokens[ROLES[(index + 2 * step) % len(ROLES)]])
    finally:
        asgi.shutdown_lifespans()
    elapsed = time.monotonic() - started
    run = len(operations) - len(skipped)
    print(f"schemathesis: {run} of {len(operations)} operations, {ROLES_PER_OPERATION} roles "
          f"each, at most {EXAMPLES} examples per role, in {elapsed:.1f} s")
    assert not skipped, (
        f"time budget of {BUDGET_S:.0f} s reached: {len(skipped)} operations not run "
        f"(lower EXAMPLES, or find the slow operation): " + ", ".join(skipped)
    )
