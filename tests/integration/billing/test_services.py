"""Billing services on both databases: proposed lines from a signed case, edits under the
rules, ready → billed closes the case, packages versioned after an addendum, live sessions."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing import services
from reviewer.billing.jobs import build_package_job
from reviewer.billing.services import BillingStatus, LinesRefused, PackageNotReady
from reviewer.coding.rules import ClaimLine, EncounterType, validate_lines
from reviewer.errors import Conflict, Forbidden, NotFound
from storage.blobs import BlobStore
from storage.models import Addendum, AuditEvent, Case, ClaimPackage, EncounterBilling
from tests.integration.billing.conftest import (
    CTX,
    actor_for,
    seed_post_op,
    seed_school,
    user,
)

ASYNC = EncounterType.ASYNCHRONOUS
SYNC = EncounterType.SYNCHRONOUS


async def _audit(db: AsyncSession, action: str) -> int:
    return int(
        await db.scalar(select(func.count()).where(AuditEvent.action == action)) or 0
    )


async def test_post_op_lines_are_proposed_for_the_dentist(demo_db: AsyncSession, blobs: BlobStore):
    seeded = await seed_post_op(demo_db, blobs)
    billing = await actor_for(demo_db, "billing@demo.test")
    view = await services.case_encounter(demo_db, billing, CTX, seeded.case_id)
    codes = [line.code for line in view.lines]
    assert codes == ["D0171", "D0391", "D9996"]
    assert {line.provider.npi for line in view.lines} == {"1326044579"}
    assert {line.date_of_service for line in view.lines} == {dt.date(2026, 11, 21)}
    assert {line.place_of_service for line in view.lines} == {"10"}  # home → 10
    assert view.blocking == []
    assert "D2740" not in codes  # recommended treatment is a plan, never a line
    row = await demo_db.scalar(
        select(EncounterBilling).where(EncounterBilling.case_id == seeded.case_id)
    )
    assert row is not None and row.status == "proposed" and len(row.lines) == 3
    assert await _audit(demo_db, "claim_lines.viewed") == 1


async def test_school_lines_put_services_on_the_hygienist(demo_db: AsyncSession, blobs: BlobStore):
    seeded = await seed_school(demo_db, blobs)
    billing = await actor_for(demo_db, "billing@demo.test")
    view = await services.case_encounter(demo_db, billing, CTX, seeded.case_id)
    by_code = {line.code: line for line in view.lines}
    assert list(by_code) == ["D0191", "D1206", "D1351", "D0708", "D0140", "D0391", "D9996"]
    for code in ("D0191", "D1206", "D1351", "D0708"):
        assert by_code[code].provider.role == "hygienist"
        assert by_code[code].date_of_service == dt.date(2026, 11, 18)
    assert by_code["D1351"].tooth == "3"
    assert by_code["D9996"].provider.role == "dentist"
    assert by_code["D9996"].date_of_service == dt.date(2026, 11, 21)
    assert view.blocking == []


async def test_edits_are_refused_with_the_rule_and_why(demo_db: AsyncSession, blobs: BlobStore):
    seeded = await seed_post_op(demo_db, blobs)
    billing = await actor_for(demo_db, "billing@demo.test")
    view = await services.case_encounter(demo_db, billing, CTX, seeded.case_id)
    rows = [line.as_dict() for line in view.lines]

    alone = [r for r in rows if r["code"] == "D9996"]
    with pytest.raises(LinesRefused) as refused:
        await services.update_lines(demo_db, billing, CTX, ASYNC, seeded.case_id, alone)
    assert "teledentistry_not_alone" in {v.rule for v in refused.value.violations}
    assert "never billed alone" in refused.value.message

    both = [*rows, {**rows[-1], "code": "D9995"}]
    with pytest.raises(LinesRefused) as refused:
        await services.update_lines(demo_db, billing, CTX, ASYNC, seeded.case_id, both)
    assert "teledentistry_one_mode" in {v.rule for v in refused.value.violations}

    # a line of another encounter never joins this one
    foreign = [*rows, {**rows[0], "encounter": {"type": "synchronous", "id": "other"}}]
    with pytest.raises(LinesRefused) as refused:
        await services.update_lines(demo_db, billing, CTX, ASYNC, seeded.case_id, foreign)
    assert "line_encounter" in {v.rule for v in refused.value.violations}

    # an accepted edit: drop D0391
    kept = [r for r in rows if r["code"] != "D0391"]
    edited = await services.update_lines(demo_db, billing, CTX, ASYNC, seeded.case_id, kept,
                                         reason="X-ray read elsewhere")
    assert [line.code for line in edited.lines] == ["D0171", "D9996"]
    await demo_db.commit()
    row = await demo_db.scalar(
        select(EncounterBilling).where(EncounterBilling.case_id == seeded.case_id)
    )
    assert row is not None and [r["code"] for r in row.lines] == ["D0171", "D9996"]
    assert await _audit(demo_db, "claim_lines.edited") == 1


async def test_ready_then_billed_closes_the_case(demo_db: AsyncSession, blobs: BlobStore):
    seeded = await seed_post_op(demo_db, blobs)
    billing = await actor_for(demo_db, "billing@demo.test")
    with pytest.raises(Conflict):
        await services.mark_billed(demo_db, billing, CTX, ASYNC, seeded.case_id)
    await services.mark_ready(demo_db, billing, CTX, ASYNC, seeded.case_id)
    await services.mark_billed(demo_db, billing, CTX, ASYNC, seeded.case_id)
    await demo_db.commit()
    case = await demo_db.get_one(Case, seeded.case_id)
    await demo_db.refresh(case)
    assert case.status == "closed" and case.closed_at is not None
    row = await demo_db.scalar(
        select(EncounterBilling).where(EncounterBilling.case_id == seeded.case_id)
    )
    assert row is not None and row.status == "billed" and row.billed_at is not None
    with pytest.raises(Conflict):
        await services.update_lines(demo_db, billing, CTX, ASYNC, seeded.case_id, row.lines)


async def test_nothing_to_bill_closes_a_reviewed_case(demo_db: AsyncSession, blobs: BlobStore):
    seeded = await seed_post_op(demo_db, blobs)
    billing = await actor_for(demo_db, "billing@demo.test")
    dentist = await actor_for(demo_db, "dentist@demo.test")
    with pytest.raises(Forbidden):
        await services.mark_nothing_to_bill(demo_db, dentist, CTX, ASYNC, seeded.case_id)
    await services.mark_nothing_to_bill(demo_db, billing, CTX, ASYNC, seeded.case_id)
    await demo_db.commit()
    case = await demo_db.get_one(Case, seeded.case_id)
    await demo_db.refresh(case)
    assert case.status == "closed"
    rows = await services.worklist(demo_db, billing, CTX)
    assert all(r.encounter_id != seeded.case_id for r in rows)


async def test_access_dentist_own_signed_cases_only(demo_db: AsyncSession, blobs: BlobStore):
    seeded = await seed_post_op(demo_db, blobs)
    own = await actor_for(demo_db, "dentist@demo.test")
    other = await actor_for(demo_db, "dentist2@demo.test")
    coordinator = await actor_for(demo_db, "coordinator@demo.test")
    view = await services.case_encounter(demo_db, own, CTX, seeded.case_id)
    assert view.lines
    with pytest.raises(NotFound):
        await services.case_encounter(demo_db, other, CTX, seeded.case_id)
    with pytest.raises(Forbidden):
        await services.case_encounter(demo_db, coordinator, CTX, seeded.case_id)
    with pytest.raises(Forbidden):
        await services.update_lines(demo_db, own, CTX, ASYNC, seeded.case_id, [])


async def test_package_versions_after_an_addendum(demo_db: AsyncSession, blobs: BlobStore):
    seeded = await seed_post_op(demo_db, blobs)
    billing = await actor_for(demo_db, "billing@demo.test")
    first = await services.download_case_document(
        demo_db, blobs, billing, CTX, seeded.case_id, "zip"
    )
    again = await services.download_case_document(
        demo_db, blobs, billing, CTX, seeded.case_id, "record"
    )
    assert first.package.id == again.package.id and first.package.version == 1
    await demo_db.commit()

    dentist = await user(demo_db, "dentist@demo.test")
    demo_db.add(
        Addendum(
            evaluation_id=seeded.evaluation_id, author_id=dentist.id,
            text="Patient called: pain gone.", signed_at=dt.datetime.now(dt.UTC),
        )
    )
    await demo_db.commit()
    # Until the job the addendum queued has run, the current version is not there yet.
    with pytest.raises(PackageNotReady):
        await services.download_case_document(demo_db, blobs, billing, CTX, seeded.case_id, "zip")
    await build_package_job(demo_db, blobs, {"kind": "asynchronous",
                                             "encounter_id": str(seeded.case_id)})
    second = await services.download_case_document(
        demo_db, blobs, billing, CTX, seeded.case_id, "zip"
    )
    await demo_db.commit()
    assert second.package.version == 2
    assert second.package.attachment_control_number != first.package.attachment_control_number
    packages = (
        await demo_db.scalars(
            select(ClaimPackage).where(ClaimPackage.case_id == seeded.case_id)
        )
    ).all()
    assert sorted(p.version for p in packages) == [1, 2]
    old = await blobs.read(first.key)  # the old version is kept
    new = await blobs.read(second.key)
    with zipfile.ZipFile(io.BytesIO(new)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["version"] == 2
    assert old != new
    assert await _audit(demo_db, "claim_package.downloaded") == 2
    assert await _audit(demo_db, "documentation.downloaded") == 1
    assert await _audit(demo_db, "claim_package.generated") == 2


async def test_live_session_and_review_stay_two_encounters(
    demo_db: AsyncSession, blobs: BlobStore
):
    seeded = await seed_post_op(demo_db, blobs)
    dentist = await actor_for(demo_db, "dentist@demo.test")
    billing = await actor_for(demo_db, "billing@demo.test")
    live = await services.create_live_session(
        demo_db, dentist, CTX,
        {
            "patient_id": str(seeded.patient_id), "case_id": str(seeded.case_id),
            "scheduled_at": "2026-11-22T18:00:00Z", "started_at": "2026-11-22T18:02:00Z",
            "ended_at": "2026-11-22T18:17:00Z",
            "participants": [{"name": "Pat Demo", "role": "patient"}],
            "platform": "Doxy.me", "notes": "Escalated from the asynchronous review.",
            "evaluation": {"findings": "Swelling gone", "diagnosis": "Healing",
                           "advice": "Carry on", "problem_status": "established"},
        },
    )
    await demo_db.commit()
    review = await services.case_encounter(demo_db, billing, CTX, seeded.case_id)
    assert [line.code for line in live.lines] == ["D0171", "D9995"]
    assert {line.encounter.type for line in live.lines} == {SYNC}
    assert "D9995" not in [line.code for line in review.lines]
    everything: list[ClaimLine] = [*review.lines, *live.lines]
    assert not [v for v in validate_lines(everything) if v.rule == "teledentistry_one_mode"]
    live_id = live.billing.live_session_id
    assert live_id is not None
    with pytest.raises(LinesRefused):
        rows = [line.as_dict() for line in review.lines]
        await services.update_lines(demo_db, billing, CTX, SYNC, live_id, rows)
    with pytest.raises(PackageNotReady):  # built by the job its recording queued
        await services.download_live_document(demo_db, blobs, billing, CTX, live_id)
    await build_package_job(demo_db, blobs, {"kind": "synchronous", "encounter_id": str(live_id)})
    doc = await services.download_live_document(demo_db, blobs, billing, CTX, live_id)
    assert doc.filename.startswith("D9995")
    other = await actor_for(demo_db, "dentist2@demo.test")
    with pytest.raises(NotFound):
        await services.live_encounter(demo_db, other, CTX, live_id)


async def test_worklist_and_csv(demo_db: AsyncSession, blobs: BlobStore):
    post_op = await seed_post_op(demo_db, blobs)
    school = await seed_school(demo_db, blobs)
    billing = await actor_for(demo_db, "billing@demo.test")
    rows = await services.worklist(demo_db, billing, CTX)
    assert {r.encounter_id for r in rows} == {post_op.case_id, school.case_id}
    assert all(r.status == BillingStatus.PROPOSED for r in rows)
    text = await services.claim_lines_csv(demo_db, billing, CTX)
    lines = text.strip().split("\r\n")
    assert lines[0].startswith("date_of_service,patient,date_of_birth,payer,member_id")
    assert len(lines) == 1 + 3 + 7
    assert "Zoë Nguyễn" in text
    await demo_db.commit()
