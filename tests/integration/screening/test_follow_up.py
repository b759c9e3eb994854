"""The urgent follow-up list: a child screened with urgent need stays on it until a referral
reaches "seen"; coordinators and hygienists read it, front desk cannot."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, ViewEvent
from tests.integration.screening.conftest import (
    COORDINATOR,
    FRONT_DESK,
    HYGIENIST,
    Client,
    children,
    headers,
)
from tests.integration.screening.test_letters import _class_event
from tests.support.portal import sign_in


async def _switch(client: Client, email: str) -> None:
    await client.post("/logout", headers=await headers(client))
    client.cookies.clear()
    await sign_in(client, email)


async def test_urgent_children_stay_until_the_referral_is_seen(
    client: Client, db: AsyncSession
) -> None:
    await sign_in(client, HYGIENIST)
    event_id, _ = await _class_event(client)  # L-1 Muñoz, L-2 Brown urgent; L-3 Peña none
    kids = await children(client, event_id)
    listed = await client.get("/screening/follow-up")
    assert listed.status_code == 200
    assert "Muñoz, Sofía" in listed.text and "Brown, Oliver" in listed.text
    assert "Peña" not in listed.text and "not referred yet" in listed.text

    await _switch(client, COORDINATOR)
    referral = await client.post("/api/v1/referrals", json={
        "case_id": kids["L-1"]["case_id"], "to_provider": "Valley Kids Dental",
        "reason": "Untreated decay, urgent need at school screening"},
        headers=await headers(client))
    assert referral.status_code == 201, referral.text
    url = f"/api/v1/referrals/{referral.json()['id']}"
    page = (await client.get("/screening/follow-up")).text
    assert "Muñoz, Sofía" in page and "sent (Valley Kids Dental)" in page
    for status in ("scheduled", "seen"):
        moved = await client.patch(url, json={"status": status}, headers=await headers(client))
        assert moved.status_code == 200, moved.text
    page = (await client.get("/screening/follow-up")).text
    assert "Muñoz" not in page and "Brown, Oliver" in page

    db.expire_all()
    viewed = list(await db.scalars(select(ViewEvent).where(
        ViewEvent.action == "screening_follow_up.viewed")))
    assert len(viewed) == 3 and "Muñoz" not in str([v.details for v in viewed])
    assert await db.scalar(select(AuditEvent.id).where(
        AuditEvent.action == "referral.created")) is not None

    await _switch(client, FRONT_DESK)
    assert (await client.get("/screening/follow-up")).status_code == 403
