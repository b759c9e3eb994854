"""Views of PHI are view rows, not chained events: one plain INSERT per view, each row with
its own MAC, no lock (so concurrent views of an image all answer 200, on SQLite too), and an
image still being made (202) is not a view and writes nothing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import current_audit_key, view_mac
from storage.models import Attachment, AuditEvent, ViewEvent
from tests.integration.intake.conftest import GOOD, Client, upload
from tests.support.views import view_rows

PHOTO = (GOOD / "phone_postop_rotated_gps.jpg").read_bytes()
CONCURRENT_VIEWS = 20


@pytest.fixture
def derive_inline() -> bool:
    return True


async def _counts(db: AsyncSession) -> tuple[int, int]:
    db.expire_all()
    events = await db.scalar(select(func.count()).select_from(AuditEvent))
    views = await db.scalar(select(func.count()).select_from(ViewEvent))
    return int(events or 0), int(views or 0)


async def _uploaded(patient: Client, draft: uuid.UUID) -> str:
    response = await upload(patient, f"/api/v1/cases/{draft}/attachments", PHOTO, "a.jpg")
    assert response.status_code == 201, response.text
    return f"/api/v1/cases/{draft}/attachments/{response.json()['id']}"


async def test_a_view_writes_one_view_row_and_no_chained_event(
    patient: Client, draft: uuid.UUID, db: AsyncSession
):
    base = await _uploaded(patient, draft)
    events, views = await _counts(db)
    response = await patient.get(f"{base}/display", headers={"user-agent": "test-agent/1"})
    assert response.status_code == 200, response.text
    assert await _counts(db) == (events, views + 1)

    row = (await view_rows(db))[-1]
    attachment_id = base.rsplit("/", 1)[1]
    case = await db.get(Attachment, uuid.UUID(attachment_id))
    assert case is not None
    assert (row.action, row.subject_type, row.subject_id) == (
        "attachment.viewed", "attachment", attachment_id)
    assert (row.case_id, row.attachment_id) == (draft, uuid.UUID(attachment_id))
    assert row.actor_role == "patient" and row.actor_id is not None
    assert row.organization_id is not None and row.client_address
    assert (row.request_kind, row.user_agent, row.details) == (
        "api", "test-agent/1", {"variant": "display"})
    assert row.mac == view_mac(row, current_audit_key())


async def test_an_image_still_being_made_answers_202_and_writes_nothing(
    patient: Client, draft: uuid.UUID, db: AsyncSession
):
    base = await _uploaded(patient, draft)
    await db.execute(update(Attachment).where(Attachment.id == uuid.UUID(base.rsplit("/", 1)[1]))
                     .values(status="processing", display_key=None, thumbnail_key=None))
    await db.commit()
    before = await _counts(db)
    for _ in range(3):
        polled = await patient.get(f"{base}/thumbnail")
        assert polled.status_code == 202 and polled.headers["retry-after"]
    assert await _counts(db) == before


async def test_concurrent_views_of_an_image_all_answer_200(
    patient: Client, draft: uuid.UUID, db: AsyncSession
):
    """No lock: 20 gathered GETs (on SQLite, one database write lock) are all served, and
    every one is recorded."""
    base = await _uploaded(patient, draft)
    events, views = await _counts(db)
    answers = await asyncio.gather(
        *(patient.get(f"{base}/thumbnail") for _ in range(CONCURRENT_VIEWS)))
    assert [a.status_code for a in answers] == [200] * CONCURRENT_VIEWS
    assert all(a.content[:2] == b"\xff\xd8" for a in answers)
    assert await _counts(db) == (events, views + CONCURRENT_VIEWS)
