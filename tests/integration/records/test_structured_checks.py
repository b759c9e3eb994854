"""Issue 17, records desk: the identity check as structured fields (document type, last four
characters, who checked, when), the delivery method required at release, and "all records"
holding the patient's live-session records (D9995) and coordination documentation (D9992)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import uuid
import zipfile

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing.live_sessions import create_live_session, sign_live_session
from reviewer.coordination import services as coordination
from reviewer.coordination.services import NewActivity
from reviewer.errors import Unprocessable
from reviewer.records import services
from reviewer.records.services import NewRequest, Verification
from storage.blobs import BlobStore
from storage.models import CoordinationActivity, LiveSession, Patient, RecordsRequest
from tests.integration.records.seeding import (
    BASE,
    CTX,
    actor_for,
    demo_patient,
    other_org_patient,
    signed_case,
    user,
)
from tests.support.portal import csrf_token, sign_in

RECEIVED = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)


def pdf_text(pdf: bytes) -> str:
    raw = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", raw)


async def _yes(_stored: str | None, _password: str) -> bool:
    return True


async def _signed_session(db: AsyncSession, patient: Patient, notes: str) -> LiveSession:
    """A live session recorded and signed through the billing services (the password check
    is the test's)."""
    dentist = await actor_for(db, "dentist@demo.test")
    view = await create_live_session(db, dentist, CTX, {
        "patient_id": str(patient.id), "scheduled_at": "2026-11-22T18:00:00Z",
        "started_at": "2026-11-22T18:00:00Z", "ended_at": "2026-11-22T18:20:00Z",
        "participants": [{"name": patient.full_name, "role": "patient"}],
        "platform": "Doxy.me", "notes": notes, "patient_site": "home",
        "evaluation": {"findings": f"Findings {notes}", "diagnosis": "gingivitis"},
    })
    assert view.live_facts is not None
    session = view.live_facts.session
    await sign_live_session(db, dentist, CTX, session.id, password="x", attest=True,
                            check_password=_yes, now=RECEIVED - dt.timedelta(days=2))
    await db.commit()
    return session


async def _coordination(db: AsyncSession, patient: Patient, description: str) -> None:
    coordinator = await actor_for(db, "coordinator@demo.test")
    await coordination.log_activity(db, coordinator, CTX, patient.id, NewActivity.from_dict({
        "kind": "care_coordination", "counterpart": "family", "minutes": 20,
        "necessity": "surgery planning", "performed_on": "2026-11-20",
        "description": description}), now=RECEIVED - dt.timedelta(days=3))
    await db.commit()


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def _released_copy(db: AsyncSession, blobs: BlobStore, patient: Patient,
                         records: object) -> dict[str, bytes]:
    desk = await actor_for(db, "billing@demo.test")
    req = await services.log_request(db, desk, CTX, NewRequest.from_dict(
        {"requester": "patient", "records": records, "format": "electronic",
         "patient_id": str(patient.id), "deliver_to": "portal"}), now=RECEIVED)
    await services.verify(db, desk, CTX, req.id,
                          Verification("in_person_photo_id", "passport", "X9Z1", "self"),
                          now=RECEIVED)
    await services.quote(db, desk, CTX, req.id, now=RECEIVED)
    await services.waive(db, desk, CTX, req.id, now=RECEIVED)
    view = await services.prepare(db, blobs, desk, CTX, req.id, base_url=BASE, now=RECEIVED)
    assert view.request.package_key
    await db.commit()
    return _files(await blobs.read(view.request.package_key))


async def test_all_records_hold_live_sessions_and_coordination(
    demo_db: AsyncSession, blobs: BlobStore
):
    patient = await demo_patient(demo_db)
    await signed_case(demo_db, blobs, patient, collected_on=dt.date(2026, 11, 3))
    await _signed_session(demo_db, patient, "Live follow-up of Pat")
    await _coordination(demo_db, patient, "Sent Pat's images to the oral surgeon")
    # Another patient of the same clinic: never in Pat's copy.
    neighbour = Patient(organization_id=patient.organization_id, first_name="Nina",
                        last_name="Neighbour", date_of_birth=dt.date(1990, 5, 5),
                        state=patient.state)
    demo_db.add(neighbour)
    await demo_db.commit()
    await _signed_session(demo_db, neighbour, "Live visit of Nina")
    await _coordination(demo_db, neighbour, "Called Nina's physician")
    # Another organization's rows about this patient id (no service of ours would write
    # them: inserted to prove the tenant filter): never in the copy.
    outsider = await other_org_patient(demo_db)
    dentist = await user(demo_db, "dentist@demo.test")
    moment = RECEIVED - dt.timedelta(days=5)
    demo_db.add(LiveSession(
        organization_id=outsider.organization_id, patient_id=patient.id, dentist_id=dentist.id,
        scheduled_at=moment, started_at=moment, ended_at=moment + dt.timedelta(minutes=10),
        participants=[{"name": "x", "role": "patient"}], platform="Elsewhere video",
        notes="Elsewhere session", evaluation={"findings": "elsewhere"}, patient_state="NY",
        created_by_id=dentist.id, signed_at=moment, signed_by_id=dentist.id))
    demo_db.add(CoordinationActivity(
        organization_id=outsider.organization_id, patient_id=patient.id,
        kind="care_coordination", description="Elsewhere coordination", minutes=15,
        performed_on=moment.date(), performed_by_id=dentist.id))
    await demo_db.commit()

    files = await _released_copy(demo_db, blobs, patient, "all")
    names = sorted(files)
    live = [n for n in names if n.startswith("live-sessions/")]
    assert live == ["live-sessions/01-2026-11-22/D9995-record.pdf"]
    assert "coordination/D9992-coordination.pdf" in names
    assert any(n.startswith("cases/") and n.endswith("D9996-record.pdf") for n in names)
    live_text = pdf_text(files[live[0]])
    assert "D9995" in live_text and "Live follow-up of Pat" in live_text
    assert "Nina" not in live_text and "Elsewhere" not in live_text
    coordination_text = pdf_text(files["coordination/D9992-coordination.pdf"])
    assert "Sent Pat's images to the oral surgeon" in coordination_text
    assert "Nina" not in coordination_text and "Elsewhere" not in coordination_text
    index = json.loads(files["index.json"])
    listed = {entry["name"]: entry["description"] for entry in index["files"]}
    assert "D9995" in listed[live[0]] and "D9992" in listed["coordination/D9992-coordination.pdf"]
    cover = pdf_text(files["cover-sheet.pdf"]).replace(" ", "")
    assert "1live-sessionrecord(s),1care-coordinationdocument(s)" in cover
    assert "D9995-record.pdf" in cover and "D9992-coordination.pdf" in cover
    everything = b"".join(files.values())
    assert b"Elsewhere" not in everything

    # A date range is cases only (the selection names what it holds).
    some = await _released_copy(demo_db, blobs, patient, {"from": "2026-11-01"})
    assert not any(n.startswith(("live-sessions/", "coordination/")) for n in some)


async def test_identity_check_is_structured(demo_db: AsyncSession):
    patient = await demo_patient(demo_db)
    desk = await actor_for(demo_db, "billing@demo.test")
    req = await services.log_request(demo_db, desk, CTX, NewRequest.from_dict(
        {"requester": "patient", "records": "all", "format": "paper",
         "patient_id": str(patient.id)}), now=RECEIVED)
    for check, code in (
        (Verification("in_person_photo_id", "library_card", "1234", "self"),
         "id_document_type_invalid"),
        (Verification("in_person_photo_id", "passport", "123", "self"),
         "id_document_last4_invalid"),
        (Verification("in_person_photo_id", "passport", "D1234567", "self"),
         "id_document_last4_invalid"),
        (Verification("in_person_photo_id", "passport", "12-4", "self"),
         "id_document_last4_invalid"),
        (Verification.from_dict({"identity_method": "in_person_photo_id",
                                 "document_type": "driver's license", "authority": "self"}),
         "id_document_type_invalid"),
    ):
        with pytest.raises(Unprocessable) as refused:
            await services.verify(demo_db, desk, CTX, req.id, check, now=RECEIVED)
        assert refused.value.code == code
    view = await services.verify(
        demo_db, desk, CTX, req.id, Verification("in_person_photo_id", "tribal_id", "ab12", "self"),
        now=RECEIVED)
    r = view.request
    assert (r.id_document_type, r.id_document_last4) == ("tribal_id", "AB12")
    assert r.verified_by_id == desk.user_id and r.verified_at == RECEIVED
    assert r.identity_document_type is None
    body = view.as_dict()
    assert body["id_document_type"] == "tribal_id" and body["id_document_last4"] == "AB12"
    assert body["verified_by_id"] == str(desk.user_id)
    assert body["verified_at"] == RECEIVED.isoformat()


async def _login(client: AsyncTestClient[Litestar], email: str) -> None:
    await sign_in(client, email)
    client.headers["x-csrftoken"] = await csrf_token(client)


async def test_routes_check_identity_and_delivery(
    client: AsyncTestClient[Litestar], app_db: AsyncSession
):
    patient = await demo_patient(app_db)
    await signed_case(app_db, client.app.state.blobs, patient, collected_on=dt.date(2026, 11, 3))
    await _login(client, "billing@demo.test")
    logged = await client.post("/api/v1/records-requests", json={
        "requester": "patient", "records": "all", "format": "paper",
        "patient_id": str(patient.id)})
    assert logged.status_code == 201, logged.text
    rid = logged.json()["id"]
    base = f"/api/v1/records-requests/{rid}"
    good = {"identity_method": "in_person_photo_id", "id_document_type": "drivers_license",
            "authority": "self"}
    old = await client.post(f"{base}/verify", json={
        "identity_method": "in_person_photo_id", "document_type": "license", "authority": "self"})
    assert old.status_code == 422 and old.json()["code"] == "id_document_type_invalid"
    whole = await client.post(f"{base}/verify", json={**good, "id_document_last4": "D1234567"})
    assert whole.status_code == 422 and whole.json()["code"] == "id_document_last4_invalid"
    kind = await client.post(f"{base}/verify", json={**good, "id_document_type": "Passport!",
                                                       "id_document_last4": "4567"})
    assert kind.status_code == 422 and kind.json()["code"] == "id_document_type_invalid"
    forged = await client.post(f"{base}/verify", json={**good, "id_document_last4": "4567",
                                                         "verified_by_id": str(uuid.uuid4())})
    assert forged.status_code == 400  # who checked is the server's, never the body's
    row = await app_db.scalar(select(RecordsRequest).where(RecordsRequest.id == uuid.UUID(rid)))
    assert row is not None and row.id_document_last4 is None and row.status == "received"

    # The page's form: who checked is the signed-in user even when the form says otherwise.
    coordinator = await user(app_db, "coordinator@demo.test")
    desk = await user(app_db, "billing@demo.test")
    desk_id, desk_name = desk.id, desk.display_name or desk.email
    page = await client.get(f"/records/{rid}")
    assert 'name="id_document_type"' in page.text and 'name="id_document_last4"' in page.text
    assert "Tribal ID" in page.text and 'name="document_type"' not in page.text
    verified = await client.post(f"/records/{rid}/verify", data={
        **good, "id_document_last4": "4567", "verified_by_id": str(coordinator.id)},
        follow_redirects=False)
    assert verified.status_code == 303
    app_db.expire_all()
    row = await app_db.scalar(select(RecordsRequest).where(RecordsRequest.id == uuid.UUID(rid)))
    assert row is not None and row.verified_by_id == desk_id and row.verified_at is not None
    assert (row.id_document_type, row.id_document_last4) == ("drivers_license", "4567")
    shown = (await client.get(f"/records/{rid}")).text
    assert "Driver&#39;s license ending in 4567" in shown or "Driver's license ending in 4567" \
        in shown
    assert desk_name in shown
    for action in ("quote", "waive", "prepare"):
        assert (await client.post(f"{base}/{action}")).status_code == 200, action

    # Release: the delivery method is required, from the policy's list.
    missing = await client.post(f"{base}/deliver", json={"method": "handed over"})
    assert missing.status_code == 422 and missing.json()["code"] == "delivery_method_required"
    on_page = await client.post(f"/records/{rid}/deliver", data={}, follow_redirects=True)
    assert "Choose how the copy is released" in on_page.text
    assert 'name="delivery_method"' in on_page.text
    released = await client.post(f"/records/{rid}/deliver",
                                 data={"delivery_method": "pickup", "method": "at the desk"})
    assert released.status_code == 200, released.text
    body = (await client.get(base)).json()
    assert body["status"] == "delivered" and body["delivery_method"] == "pickup"
    assert body["verified_by_id"] == str(desk_id)
    assert "pickup: at the desk" in body["history"][-1]["note"]
    assert "Picked up in person" in (await client.get(f"/records/{rid}")).text


async def test_old_checks_show_as_before_structured(
    client: AsyncTestClient[Litestar], app_db: AsyncSession
):
    """A request verified before the structured fields keeps its free text, so marked."""
    patient = await demo_patient(app_db)
    await _login(client, "billing@demo.test")
    logged = await client.post("/api/v1/records-requests", json={
        "requester": "patient", "records": "all", "format": "electronic",
        "patient_id": str(patient.id)})
    rid = uuid.UUID(logged.json()["id"])
    row = await app_db.get_one(RecordsRequest, rid)
    row.status, row.identity_method = "verified", "in_person_photo_id"
    row.identity_document_type, row.authority = "driver's license (old text)", "self"
    await app_db.commit()
    page = await client.get(f"/records/{rid}")
    assert "driver&#39;s license (old text)" in page.text or \
        "driver's license (old text)" in page.text
    assert "recorded before structured checks" in page.text


def test_policy_lists_the_delivery_methods() -> None:
    from reviewer.records.policy import PolicyError, RecordsPolicy

    assert [str(m) for m in RecordsPolicy().delivery_methods] == [
        "portal", "email", "mail", "pickup", "fax"]
    assert [str(m) for m in RecordsPolicy.from_dict(
        {"delivery_methods": ["mail", "pickup"]}).delivery_methods] == ["mail", "pickup"]
    for bad in ([], ["carrier_pigeon"]):
        with pytest.raises(PolicyError):
            RecordsPolicy.from_dict({"delivery_methods": bad})
