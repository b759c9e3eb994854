"""The records desk's services with a fixed clock: every state both ways, identity and
authority before release, other organizations' records, the 30-day clock and its extension,
the package holding exactly what was asked, links that expire or run out, the ledger."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unprocessable
from reviewer.records import services
from reviewer.records.ledger import records_ledger
from reviewer.records.services import NewRequest, Verification
from storage.blobs import BlobStore
from storage.models import AuditEvent, DownloadLink, LedgerEntry, RecordsRequest
from tests.integration.records.seeding import (
    BASE,
    CTX,
    actor_for,
    demo_patient,
    org,
    other_org_patient,
    signed_case,
)
from tests.support.pdfs import real_pdf

# 2026-03-07 23:30 in Los Angeles (PST) is already 2026-03-08 in UTC.
RECEIVED = dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.UTC)
PDF = real_pdf()


def _new(patient_id, requester="patient", records="all", fmt="electronic", **extra):
    return NewRequest.from_dict({"requester": requester, "records": records, "format": fmt,
                                 "patient_id": str(patient_id), "requester_name": "Someone",
                                 "received_at": RECEIVED.isoformat(), **extra})


async def _count(db: AsyncSession, action: str) -> int:
    return int(await db.scalar(select(func.count()).where(AuditEvent.action == action)) or 0)


def _zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def test_clock_in_org_time_zone_and_one_extension(demo_db: AsyncSession):
    desk = await actor_for(demo_db, "billing@demo.test")
    patient = await demo_patient(demo_db)
    later = RECEIVED + dt.timedelta(days=1)
    req = await services.log_request(demo_db, desk, CTX, _new(patient.id), now=later)
    # Received on March 7 local time: due at the end of April 6 (30th day after), local.
    assert req.due_on == dt.date(2026, 4, 6)
    end_local = dt.datetime(2026, 4, 7, 7, 0, tzinfo=dt.UTC)  # midnight PDT
    view = await services.get_request(demo_db, desk, CTX, req.id, now=end_local
                                      - dt.timedelta(seconds=1))
    assert not view.overdue and view.time_left == dt.timedelta(seconds=1)
    view = await services.get_request(demo_db, desk, CTX, req.id, now=end_local)
    assert view.overdue
    # The extension must come before the first due date runs out...
    with pytest.raises(Conflict) as late:
        await services.extend(demo_db, desk, CTX, req.id, "backlog", now=end_local)
    assert late.value.code == "extension_not_allowed"
    with pytest.raises(Invalid):
        await services.extend(demo_db, desk, CTX, req.id, "  ", now=later)
    view = await services.extend(demo_db, desk, CTX, req.id, "Records in off-site storage",
                                 now=later)
    assert view.request.extended_due_on == dt.date(2026, 5, 6)
    assert view.effective_due_on == dt.date(2026, 5, 6) and not view.overdue
    # ... and only once.
    with pytest.raises(Conflict):
        await services.extend(demo_db, desk, CTX, req.id, "again", now=later)
    assert [h["action"] for h in view.request.history] == ["received", "extended"]


async def test_full_walk_with_fee_paid_second_check_and_link(
    demo_db: AsyncSession, blobs: BlobStore
):
    clinic = await org(demo_db, "Demo Dental Clinic")
    clinic.records_policy = {"second_check": True, "link_days": 7, "link_uses": 2}
    await demo_db.commit()
    patient = await demo_patient(demo_db)
    first = await signed_case(demo_db, blobs, patient, collected_on=dt.date(2026, 1, 10))
    await signed_case(demo_db, blobs, patient, collected_on=dt.date(2026, 2, 20))
    desk = await actor_for(demo_db, "billing@demo.test")
    other_desk = await actor_for(demo_db, "coordinator@demo.test")
    now = RECEIVED + dt.timedelta(hours=1)
    req = await services.log_request(demo_db, desk, CTX, _new(patient.id), now=now)
    assert req.status == "received"

    # Not yet: no release, no quote, no preparing before identity and authority.
    with pytest.raises(Conflict) as early:
        await services.deliver(demo_db, desk, CTX, req.id, delivery_method="portal", now=now)
    assert early.value.code == "not_verified"
    for step in (services.quote, services.pay):
        with pytest.raises(Conflict) as wrong:
            await step(demo_db, desk, CTX, req.id, now=now)
        assert wrong.value.code in {"invalid_transition", "no_fee"}
    with pytest.raises(Unprocessable) as no_type:
        await services.verify(demo_db, desk, CTX, req.id,
                              Verification("in_person_photo_id", "", "1234", "self"), now=now)
    assert no_type.value.code == "id_document_type_invalid"

    view = await services.verify(demo_db, desk, CTX, req.id,
                                 Verification("in_person_photo_id", "drivers_license", "D123",
                                              "self"),
                                 now=now)
    assert view.request.status == "verified"
    with pytest.raises(Conflict) as not_ready:
        await services.deliver(demo_db, desk, CTX, req.id, delivery_method="portal", now=now)
    assert not_ready.value.code == "invalid_transition"

    view = await services.quote(demo_db, desk, CTX, req.id, now=now)
    assert view.request.status == "fee_quoted" and view.request.fee_cents == 650
    view = await services.pay(demo_db, desk, CTX, req.id, now=now)
    assert view.request.status == "paid"
    ledger = (await demo_db.scalars(select(LedgerEntry))).all()
    assert [(e.code, float(e.amount), e.service_date) for e in ledger] == [
        ("D9961", 6.5, dt.date(2026, 3, 8))
    ]
    # the front desk reads it on the D9961 ledger (issue 16); a coordinator does not
    [row] = await records_ledger(demo_db, desk, CTX)
    assert (row.state, row.quoted, row.code, row.amount) == ("paid", "6.50", "D9961", "6.50")
    assert row.by and row.service_date == dt.date(2026, 3, 8)
    with pytest.raises(Forbidden):
        await records_ledger(demo_db, other_desk, CTX)

    view = await services.prepare(demo_db, blobs, desk, CTX, req.id, base_url=BASE, now=now)
    assert view.request.status == "prepared"
    # The organization asks for a second check: not released before it, not by the preparer.
    with pytest.raises(Conflict) as unchecked:
        await services.deliver(demo_db, desk, CTX, req.id, delivery_method="portal", now=now)
    assert unchecked.value.code == "invalid_transition"
    with pytest.raises(Conflict) as same:
        await services.check(demo_db, desk, CTX, req.id, now=now)
    assert same.value.code == "same_staff_member"
    view = await services.check(demo_db, other_desk, CTX, req.id, "index matches", now=now)
    assert view.request.status == "checked"

    delivery = await services.deliver(demo_db, desk, CTX, req.id, delivery_method="portal", now=now)
    assert delivery.view.request.status == "delivered"
    assert delivery.uses_left == 2 and delivery.expires_at == now + dt.timedelta(days=7)
    assert delivery.token
    stored = await demo_db.scalar(select(DownloadLink))
    assert stored is not None and stored.token_hash == hashlib.sha256(
        delivery.token.encode()).hexdigest()
    await demo_db.commit()

    # Everything is in the package, and the index matches its files.
    outcome = await services.use_link(demo_db, CTX, delivery.token, now=now)
    assert outcome.refusal is None and outcome.uses_left == 1
    package = _zip(await blobs.read(outcome.key or ""))
    index = json.loads(package.pop("index.json"))
    assert {f["name"] for f in index["files"]} == set(package)
    for entry in index["files"]:
        assert hashlib.sha256(package[entry["name"]]).hexdigest() == entry["sha256"]
        assert len(package[entry["name"]]) == entry["size"]
    assert sum(1 for n in package if n.endswith("D9996-record.pdf")) == 2
    assert sum(1 for n in package if "/images/" in n) == 4
    assert not any("/originals/" in n for n in package)
    assert package["cover-sheet.pdf"].startswith(b"%PDF")
    displays = {hashlib.sha256(package[n]).hexdigest() for n in package if "/images/" in n}
    assert set(first.display_sha256) <= displays

    # The last use, then refused; every use audited.
    assert (await services.use_link(demo_db, CTX, delivery.token, now=now)).uses_left == 0
    refused = await services.use_link(demo_db, CTX, delivery.token, now=now)
    assert isinstance(refused.refusal, Conflict) and refused.refusal.code == "link_used_up"
    assert await _count(demo_db, "records_package.downloaded") == 2
    assert await _count(demo_db, "records_link.refused") == 1
    unknown = await services.use_link(demo_db, CTX, "nope", now=now)
    assert isinstance(unknown.refusal, NotFound)

    # Finished: nothing more moves.
    for step in (services.quote, services.waive):
        with pytest.raises(Conflict):
            await step(demo_db, desk, CTX, req.id, now=now)
    with pytest.raises(Conflict):
        await services.refuse(demo_db, desk, CTX, req.id, "late", now=now)
    actions = [h["action"] for h in delivery.view.request.history]
    assert actions == ["received", "verified", "fee_quoted", "paid", "prepared", "checked",
                       "delivered"]


async def test_expired_link_refused(demo_db: AsyncSession, blobs: BlobStore):
    patient = await demo_patient(demo_db)
    await signed_case(demo_db, blobs, patient, collected_on=dt.date(2026, 1, 10))
    desk = await actor_for(demo_db, "billing@demo.test")
    now = RECEIVED
    req = await services.log_request(demo_db, desk, CTX, _new(patient.id), now=now)
    await services.verify(demo_db, desk, CTX, req.id,
                          Verification("portal_login", "state_id", "4821", "self"), now=now)
    await services.quote(demo_db, desk, CTX, req.id, now=now)
    await services.waive(demo_db, desk, CTX, req.id, "hardship", now=now)
    await services.prepare(demo_db, blobs, desk, CTX, req.id, base_url=BASE, now=now)
    delivery = await services.deliver(demo_db, desk, CTX, req.id, delivery_method="portal", now=now)
    assert delivery.token
    assert (await demo_db.scalars(select(LedgerEntry))).all() == []  # waived: nothing billed
    ok = await services.use_link(demo_db, CTX, delivery.token,
                                 now=now + dt.timedelta(days=7, seconds=-1))
    assert ok.refusal is None
    late = await services.use_link(demo_db, CTX, delivery.token, now=now + dt.timedelta(days=7))
    assert isinstance(late.refusal, Conflict) and late.refusal.code == "link_expired"


async def test_exactly_what_was_asked(demo_db: AsyncSession, blobs: BlobStore):
    patient = await demo_patient(demo_db)
    wanted = await signed_case(demo_db, blobs, patient, collected_on=dt.date(2026, 1, 10))
    await signed_case(demo_db, blobs, patient, collected_on=dt.date(2026, 2, 20))
    desk = await actor_for(demo_db, "coordinator@demo.test")
    req = await services.log_request(
        demo_db, desk, CTX,
        _new(patient.id, records={"case_ids": [str(wanted.case_id)], "include_originals": True}),
        now=RECEIVED,
    )
    await services.verify(demo_db, desk, CTX, req.id,
                          Verification("in_person_photo_id", "passport", "X9Z1", "self"),
                          now=RECEIVED)
    await services.quote(demo_db, desk, CTX, req.id, now=RECEIVED)
    await services.waive(demo_db, desk, CTX, req.id, now=RECEIVED)
    view = await services.prepare(demo_db, blobs, desk, CTX, req.id, base_url=BASE,
                                  now=RECEIVED)
    package = _zip(await blobs.read(view.request.package_key or ""))
    index = json.loads(package.pop("index.json"))
    cases = {f["case_id"] for f in index["files"] if f["case_id"]}
    assert cases == {str(wanted.case_id)}
    originals = {hashlib.sha256(package[n]).hexdigest() for n in package if "/originals/" in n}
    assert originals == set(wanted.original_sha256)
    # A date range picks the other case only.
    req2 = await services.log_request(
        demo_db, desk, CTX, _new(patient.id, records={"from": "2026-02-01", "to": "2026-02-28"}),
        now=RECEIVED,
    )
    await services.verify(demo_db, desk, CTX, req2.id,
                          Verification("in_person_photo_id", "passport", "X9Z1", "self"),
                          now=RECEIVED)
    await services.quote(demo_db, desk, CTX, req2.id, now=RECEIVED)
    await services.waive(demo_db, desk, CTX, req2.id, now=RECEIVED)
    view2 = await services.prepare(demo_db, blobs, desk, CTX, req2.id, base_url=BASE,
                                   now=RECEIVED)
    index2 = json.loads(_zip(await blobs.read(view2.request.package_key or ""))["index.json"])
    assert {f["case_id"] for f in index2["files"] if f["case_id"]} - {None} != cases
    assert len({f["case_id"] for f in index2["files"] if f["case_id"]}) == 1


async def test_third_party_needs_authorization_and_refusal(
    demo_db: AsyncSession, blobs: BlobStore
):
    patient = await demo_patient(demo_db)
    desk = await actor_for(demo_db, "billing@demo.test")
    req = await services.log_request(demo_db, desk, CTX, _new(patient.id, requester="legal"),
                                     now=RECEIVED)
    with pytest.raises(Conflict) as missing:
        await services.verify(demo_db, desk, CTX, req.id,
                              Verification("letter", "other", "B042", "patient's attorney"),
                              now=RECEIVED)
    assert missing.value.code == "authorization_required"
    with pytest.raises(Invalid) as bad_type:
        await services.add_document(demo_db, blobs, desk, CTX, req.id, b"MZ\x90\x00program")
    assert bad_type.value.code == "unsupported_type"
    expired = await services.add_document(demo_db, blobs, desk, CTX, req.id, PDF,
                                          expires_on=dt.date(2026, 1, 1), scope="all records")
    assert expired.content_type == "application/pdf"
    with pytest.raises(Conflict) as old:
        await services.verify(demo_db, desk, CTX, req.id,
                              Verification("letter", "other", "B042", "attorney", expired.id),
                              now=RECEIVED)
    assert old.value.code == "authorization_expired"
    photo = (await _fixture("phone_postop_upright.jpg"))
    good = await services.add_document(demo_db, blobs, desk, CTX, req.id, photo,
                                       expires_on=dt.date(2027, 1, 1))
    assert good.content_type == "image/jpeg"
    view = await services.verify(demo_db, desk, CTX, req.id,
                                 Verification("letter", "other", "B042", "attorney", good.id),
                                 now=RECEIVED)
    assert view.request.authorization_document_id == good.id
    view = await services.quote(demo_db, desk, CTX, req.id, now=RECEIVED)
    # Cost-based for a lawyer: with no records on file there is nothing to copy, no fee.
    assert view.request.status == "waived" and view.request.fee_cents == 0
    with pytest.raises(Invalid):
        await services.refuse(demo_db, desk, CTX, req.id, "", now=RECEIVED)
    view = await services.refuse(demo_db, desk, CTX, req.id, "Authorization does not name us",
                                 now=RECEIVED)
    assert view.request.status == "refused" and view.request.refused_reason
    with pytest.raises(Conflict):
        await services.deliver(demo_db, desk, CTX, req.id, delivery_method="portal", now=RECEIVED)


async def _fixture(name: str) -> bytes:
    from tests.integration.records.seeding import GOOD

    return (GOOD / name).read_bytes()


async def test_other_organization_never_released(demo_db: AsyncSession, blobs: BlobStore):
    outsider = await other_org_patient(demo_db)
    desk = await actor_for(demo_db, "billing@demo.test")
    with pytest.raises(NotFound):
        await services.log_request(demo_db, desk, CTX, _new(outsider.id), now=RECEIVED)
    # A request of that organization (logged there) is out of reach for every step.
    foreign = RecordsRequest(
        organization_id=outsider.organization_id, patient_id=outsider.id,
        requester_type="patient", received_at=RECEIVED, scope={"all": True},
        format="electronic", status="checked", due_on=dt.date(2026, 4, 7),
        identity_method="x", identity_document_type="y", authority="self", package_key="k",
        history=[],
    )
    demo_db.add(foreign)
    await demo_db.commit()
    with pytest.raises(NotFound):
        await services.get_request(demo_db, desk, CTX, foreign.id)
    with pytest.raises(NotFound):
        await services.deliver(demo_db, desk, CTX, foreign.id, delivery_method="portal",
                               now=RECEIVED)
    # A case id of another patient is refused too.
    patient = await demo_patient(demo_db)
    with pytest.raises(NotFound):
        await services.log_request(
            demo_db, desk, CTX,
            _new(patient.id, records={"case_ids": [str(foreign.id)]}), now=RECEIVED,
        )


async def test_patient_asks_for_own_and_provider_pays_nothing(
    demo_db: AsyncSession, blobs: BlobStore
):
    me = await actor_for(demo_db, "patient@demo.test")
    patient = await demo_patient(demo_db)
    mine = await services.log_request(
        demo_db, me, CTX, NewRequest.from_dict({"requester": "patient", "records": "all",
                                                "format": "electronic"}), now=RECEIVED,
    )
    assert mine.patient_id == patient.id and mine.received_via == "portal"
    with pytest.raises(DomainError):
        await services.verify(demo_db, me, CTX, mine.id,
                              Verification("a", "b", "1234", "c"), now=RECEIVED)
    outsider = await other_org_patient(demo_db)
    with pytest.raises(NotFound):
        await services.log_request(
            demo_db, me, CTX, NewRequest.from_dict({"requester": "patient", "records": "all",
                                                    "format": "electronic",
                                                    "patient_id": str(outsider.id)}),
        )
    desk = await actor_for(demo_db, "billing@demo.test")
    req = await services.log_request(demo_db, desk, CTX, _new(patient.id, requester="provider"),
                                     now=RECEIVED)
    auth = await services.add_document(demo_db, blobs, desk, CTX, req.id, PDF)
    await services.verify(demo_db, desk, CTX, req.id,
                          Verification("letter", "other", "L001", "treating dentist", auth.id),
                          now=RECEIVED)
    view = await services.quote(demo_db, desk, CTX, req.id, now=RECEIVED)
    assert view.request.fee_cents == 0 and view.request.status == "waived"
    own = await services.log_request(
        demo_db, desk, CTX, _new(patient.id, fmt="paper", purpose="own_use"), now=RECEIVED)
    await services.verify(demo_db, desk, CTX, own.id,
                          Verification("staff", "other", "0000", "practice"), now=RECEIVED)
    assert (await services.quote(demo_db, desk, CTX, own.id, now=RECEIVED)).request.fee_cents == 0
    assert (await demo_db.scalars(select(LedgerEntry))).all() == []
