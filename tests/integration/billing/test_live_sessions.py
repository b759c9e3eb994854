"""Live (D9995) sessions through the API: documented (participants, where the patient was,
findings, duration) and signed by the dentist who held them before they are billed; the
signature block on the record; the license checked where the patient was."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing.live_sessions import LIVE_ATTESTATION
from storage.models import AuditEvent, Case, LiveSession, LoginFailure
from tests.integration.billing.conftest import Seeded, seed_post_op
from tests.integration.billing.test_documents import assert_has, text_of
from tests.support.portal import DEMO_PASSWORD, csrf_token, sign_in


@pytest.fixture
async def post_op(client: AsyncTestClient[Litestar], app_db: AsyncSession) -> Seeded:
    return await seed_post_op(app_db, client.app.state.blobs)


def _documented(seeded: Seeded, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient_id": str(seeded.patient_id), "case_id": str(seeded.case_id),
        "scheduled_at": "2026-11-22T18:00:00Z", "started_at": "2026-11-22T18:02:00Z",
        "ended_at": "2026-11-22T18:20:00Z", "platform": "Doxy.me",
        "participants": [{"name": "Pat Demo", "role": "patient"},
                         {"name": "Sam Demo", "role": "guardian"}],
        "patient_site": "school", "patient_state": "CA", "notes": "Escalated to a call.",
        "evaluation": {"findings": "Socket closed; gum pink and firm.",
                       "diagnosis": "Healed", "advice": "Brush as usual"},
    }
    body.update(changes)
    return body


async def _record(client: AsyncTestClient[Litestar], body: dict[str, Any]) -> str:
    await sign_in(client, "dentist@demo.test")
    created = await client.post("/api/v1/live-sessions", json=body,
                                headers={"x-csrftoken": await csrf_token(client)})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _sign(client: AsyncTestClient[Litestar], session_id: str, **body: Any) -> Any:
    return await client.post(f"/api/v1/live-sessions/{session_id}/sign",
                             json={"password": DEMO_PASSWORD, "attest": True, **body},
                             headers={"x-csrftoken": await csrf_token(client)})


async def _ready(client: AsyncTestClient[Litestar], session_id: str) -> Any:
    await sign_in(client, "billing@demo.test")
    return await client.post(f"/api/v1/live-sessions/{session_id}/billing-status",
                             json={"status": "ready"},
                             headers={"x-csrftoken": await csrf_token(client)})


async def _count(db: AsyncSession, model: Any, *where: Any) -> int:
    db.expire_all()
    return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_unsigned_refused_then_signed_and_ready(
    client: AsyncTestClient[Litestar], app_db: AsyncSession, post_op: Seeded
):
    session_id = await _record(client, _documented(post_op))
    unsigned = await _ready(client, session_id)
    assert unsigned.status_code == 422 and unsigned.json()["code"] == "session_unsigned"
    await sign_in(client, "billing@demo.test")  # the front desk does not sign
    assert (await _sign(client, session_id)).status_code == 403

    await sign_in(client, "dentist2@demo.test")  # another dentist: not theirs to see
    assert (await _sign(client, session_id)).status_code == 404

    await sign_in(client, "dentist@demo.test")
    not_attested = await _sign(client, session_id, attest=False)
    assert not_attested.status_code == 422
    assert not_attested.json()["code"] == "attestation_required"
    failures = await _count(app_db, LoginFailure)
    wrong = await _sign(client, session_id, password="not-my-password")
    assert wrong.status_code == 403 and wrong.json()["code"] == "bad_password"
    assert await _count(app_db, LoginFailure) == failures + 1  # counted as a sign-in attempt
    still = await _ready(client, session_id)
    assert still.status_code == 422 and still.json()["code"] == "session_unsigned"

    await sign_in(client, "dentist@demo.test")
    signed = await _sign(client, session_id)
    assert signed.status_code == 200, signed.text
    sha = signed.json()["content_sha256"]
    assert len(sha) == 64 and signed.json()["signed_at"]
    again = await _sign(client, session_id)
    assert again.status_code == 409 and again.json()["code"] == "already_signed"
    assert await _count(app_db, AuditEvent, AuditEvent.action == "live_session.signed") == 1
    stored = await app_db.get_one(LiveSession, uuid.UUID(session_id))
    assert stored.signed_by_id is not None and stored.attestation == LIVE_ATTESTATION

    await client.app.state.jobs.drained()  # the package with the signature, after the commit
    doc = await client.get(f"/api/v1/live-sessions/{session_id}/documentation.pdf")
    assert doc.status_code == 200, doc.text
    text = text_of(doc.content)
    assert_has(text, "Signature and attestation", "Dr. Dana Demo", "CA DDS 100001",
               LIVE_ATTESTATION, sha, "18 minutes", "Pat Demo", "Sam Demo", "guardian",
               "Patient was at school", "Patient's state CA",
               "Socket closed; gum pink and firm.")

    ready = await _ready(client, session_id)
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"


async def test_undocumented_session_cannot_be_signed(
    client: AsyncTestClient[Litestar], app_db: AsyncSession, post_op: Seeded
):
    body = _documented(post_op, participants=[], evaluation={"diagnosis": "Healed"})
    del body["patient_site"]  # the linked case was at home: that is not where the call was
    session_id = await _record(client, body)
    stored = await app_db.get_one(LiveSession, uuid.UUID(session_id))
    assert stored.patient_site == ""
    refused = await _sign(client, session_id)
    assert refused.status_code == 422 and refused.json()["code"] == "session_undocumented"
    message = refused.json()["message"]
    assert "participants" in message and "patient_site" in message and "findings" in message
    assert "patient_state" not in message and "duration" not in message
    assert await _count(app_db, AuditEvent, AuditEvent.action == "live_session.signed") == 0
    app_db.expire_all()
    assert (await app_db.get_one(LiveSession, uuid.UUID(session_id))).signed_at is None
    await client.app.state.jobs.drained()
    text = text_of((await client.get(
        f"/api/v1/live-sessions/{session_id}/documentation.pdf")).content)
    assert_has(text, "Patient was at not recorded", "Participants none recorded",
               "Not signed yet")
    unsigned = await _ready(client, session_id)
    assert unsigned.status_code == 422 and unsigned.json()["code"] == "session_unsigned"


async def test_license_checked_where_the_patient_was(
    client: AsyncTestClient[Litestar], app_db: AsyncSession, post_op: Seeded
):
    await sign_in(client, "dentist@demo.test")
    headers = {"x-csrftoken": await csrf_token(client)}
    away = await client.post("/api/v1/live-sessions", headers=headers,
                             json=_documented(post_op, patient_state="NY"))
    assert away.status_code == 403 and away.json()["code"] == "not_licensed"
    assert "NY" in away.json()["message"]
    for wrong in ("California", "C1", ""):
        bad = await client.post("/api/v1/live-sessions", headers=headers,
                                json=_documented(post_op, patient_state=wrong))
        assert bad.status_code == 400, wrong
    lower = await client.post("/api/v1/live-sessions", headers=headers,
                              json=_documented(post_op, patient_state="ca"))
    assert lower.status_code == 201, lower.text
    assert (await app_db.get_one(LiveSession, uuid.UUID(lower.json()["id"]))
            ).patient_state == "CA"

    # omitted: the patient's own state (CA), never the linked case's
    case = await app_db.get_one(Case, post_op.case_id)
    case.location_state = "NY"
    await app_db.commit()
    body = _documented(post_op)
    del body["patient_state"]
    own = await client.post("/api/v1/live-sessions", headers=headers, json=body)
    assert own.status_code == 201, own.text
    app_db.expire_all()
    assert (await app_db.get_one(LiveSession, uuid.UUID(own.json()["id"]))
            ).patient_state == "CA"
    await client.app.state.jobs.drained()
