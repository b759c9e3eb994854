"""Screening fixtures: signed-in staff clients, an event with the good roster imported, and
helpers for the screening API."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent
from tests.support.fixtures import FIXTURES
from tests.support.portal import csrf_token, sign_in

Client = AsyncTestClient[Litestar]
HYGIENIST = "hygienist@demo.test"
COORDINATOR = "coordinator@demo.test"
FRONT_DESK = "billing@demo.test"
DENTIST = "dentist@demo.test"
PATIENT = "patient@demo.test"
ADMIN = "admin@demo.test"
ROSTER_GOOD = FIXTURES / "roster_good.csv"
ROSTER_BAD = FIXTURES / "roster_bad.csv"
PHOTO = FIXTURES / "good" / "intraoral_camera.png"


async def headers(client: Client, **extra: str) -> dict[str, str]:
    return {"x-csrftoken": await csrf_token(client), "accept": "application/json", **extra}


async def create_event(client: Client, **body: Any) -> Any:
    return await client.post(
        "/api/v1/screening-events",
        json={"site": "Lincoln Elementary", "date": "2026-11-20", **body},
        headers=await headers(client),
    )


async def import_roster(client: Client, event_id: str, data: bytes, name: str = "r.csv") -> Any:
    return await client.post(
        f"/api/v1/screening-events/{event_id}/roster",
        files={"file": (name, data, "text/csv")},
        headers=await headers(client),
    )


async def children(client: Client, event_id: str) -> dict[str, dict[str, Any]]:
    response = await client.get(f"/api/v1/screening-events/{event_id}")
    assert response.status_code == 200, response.text
    return {child["student_id"]: child for child in response.json()["children"]}


async def audit_actions(db: AsyncSession) -> list[str]:
    db.expire_all()
    return list(await db.scalars(select(AuditEvent.action).order_by(AuditEvent.occurred_at)))


@pytest.fixture
async def hygienist(client: Client) -> Client:
    await sign_in(client, HYGIENIST)
    return client


@pytest.fixture
async def event_id(hygienist: Client) -> str:
    """An event of the demo school program with roster_good.csv imported."""
    response = await create_event(hygienist)
    assert response.status_code == 201, response.text
    event = response.json()["id"]
    imported = await import_roster(hygienist, event, ROSTER_GOOD.read_bytes())
    assert imported.status_code == 200, imported.text
    return str(uuid.UUID(event))
