"""Claim lines an auditor accepts (issue 16), through the billing services: the provider is a
user of the organization chosen by id, the dentist's lines stay on the dentist who signed, a
correction after signing has a reason and its before/after, and one teledentistry code per
patient per date of service across encounters."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing import services
from reviewer.billing.jobs import build_package_job
from reviewer.billing.lines import (
    CorrectionReasonRequired,
    ProviderNotSigner,
    override_same_day,
)
from reviewer.billing.providers import ProviderUnknown
from reviewer.coding.rules import EncounterType
from reviewer.errors import Conflict
from storage.blobs import BlobStore
from storage.models import AuditEvent, ClaimPackage, EncounterBilling
from tests.integration.billing.conftest import CTX, actor_for, seed_post_op, seed_school, user
from tests.integration.billing.test_documents import text_of

ASYNC = EncounterType.ASYNCHRONOUS


async def _rows(db: AsyncSession, case_id) -> list[dict]:
    billing = await actor_for(db, "billing@demo.test")
    view = await services.case_encounter(db, billing, CTX, case_id)
    return [line.as_dict() for line in view.lines]


async def test_a_typed_provider_is_refused(demo_db: AsyncSession, blobs: BlobStore):
    seeded = await seed_post_op(demo_db, blobs)
    billing = await actor_for(demo_db, "billing@demo.test")
    rows = await _rows(demo_db, seeded.case_id)
    nobody = {"name": "Dr. Nobody", "npi": "0000000000", "role": "dentist"}
    swapped = [{**r, "provider": nobody} for r in rows]
    with pytest.raises(ProviderUnknown) as refused:
        await services.update_lines(demo_db, billing, CTX, ASYNC, seeded.case_id, swapped,
                                    reason="typed")
    assert refused.value.code == "provider_unknown"
    assert "NPI 0000000000" in refused.value.message


async def test_the_dentists_lines_stay_on_the_signer(demo_db: AsyncSession, blobs: BlobStore):
    seeded = await seed_post_op(demo_db, blobs)
    billing = await actor_for(demo_db, "billing@demo.test")
    second = await user(demo_db, "dentist2@demo.test")
    rows = await _rows(demo_db, seeded.case_id)
    signer = await user(demo_db, "dentist@demo.test")
    assert {r["provider"]["user_id"] for r in rows} == {str(signer.id)}

    swapped = [{**r, "provider": {"user_id": str(second.id)}} for r in rows]
    with pytest.raises(ProviderNotSigner) as refused:
        await services.update_lines(demo_db, billing, CTX, ASYNC, seeded.case_id, swapped,
                                    reason="the other dentist")
    assert refused.value.code == "provider_not_signer"
    assert {v.rule for v in refused.value.violations} == {"provider_not_signer"}
    assert "Dr. Dana Demo" in refused.value.violations[0].message

    # a name sent with a real user's id is replaced by the user's own
    renamed = [{**r, "provider": {"user_id": str(signer.id), "name": "Dr. Nobody"}}
               for r in rows]
    view = await services.update_lines(demo_db, billing, CTX, ASYNC, seeded.case_id, renamed)
    assert {line.provider.name for line in view.lines} == {"Dr. Dana Demo"}
    assert {line.provider.npi for line in view.lines} == {"1326044579"}


async def test_a_correction_needs_a_reason_and_keeps_before_and_after(
    demo_db: AsyncSession, blobs: BlobStore
):
    seeded = await seed_post_op(demo_db, blobs)
    billing = await actor_for(demo_db, "billing@demo.test")
    rows = await _rows(demo_db, seeded.case_id)
    kept = [r for r in rows if r["code"] != "D0391"]
    with pytest.raises(CorrectionReasonRequired):
        await services.update_lines(demo_db, billing, CTX, ASYNC, seeded.case_id, kept)
    with pytest.raises(CorrectionReasonRequired):
        await services.update_lines(demo_db, billing, CTX, ASYNC, seeded.case_id, kept,
                                    reason="   ")
    await services.update_lines(demo_db, billing, CTX, ASYNC, seeded.case_id, kept,
                                reason="X-ray read by the referring dentist")
    await demo_db.commit()
    row = await demo_db.scalar(
        select(EncounterBilling).where(EncounterBilling.case_id == seeded.case_id)
    )
    assert row is not None
    [correction] = row.corrections
    assert correction["reason"] == "X-ray read by the referring dentist"
    assert correction["by"] == "billing@demo.test"
    assert [r["code"] for r in correction["before"]] == [r["code"] for r in rows]
    assert "D0391" not in [r["code"] for r in correction["after"]]
    event = await demo_db.scalar(
        select(AuditEvent).where(AuditEvent.action == "claim_lines.edited")
    )
    assert event is not None
    assert event.details["reason"] == "X-ray read by the referring dentist"
    assert [r["code"] for r in event.details["before"]] == [r["code"] for r in rows]

    # sending the same lines again changes nothing and needs no reason
    await services.update_lines(demo_db, billing, CTX, ASYNC, seeded.case_id, row.lines)
    await demo_db.refresh(row)
    assert len(row.corrections) == 1


async def test_one_teledentistry_code_per_patient_per_day(
    demo_db: AsyncSession, blobs: BlobStore
):
    first = await seed_post_op(demo_db, blobs, package=False)
    second = await seed_post_op(demo_db, blobs, package=False)
    billing = await actor_for(demo_db, "billing@demo.test")

    one = await services.case_encounter(demo_db, billing, CTX, first.case_id)
    assert not [v for v in one.violations if v.rule == "teledentistry_once_per_day"]
    two = await services.case_encounter(demo_db, billing, CTX, second.case_id)
    [problem] = [v for v in two.blocking if v.rule == "teledentistry_once_per_day"]
    assert "D9996 on 2026-11-21" in problem.message
    assert f"case review {first.case_id}" in problem.message

    with pytest.raises(services.LinesRefused) as refused:
        await services.mark_ready(demo_db, billing, CTX, ASYNC, second.case_id)
    assert "teledentistry_once_per_day" in {v.rule for v in refused.value.violations}
    await services.mark_ready(demo_db, billing, CTX, ASYNC, first.case_id)

    with pytest.raises(services.LinesRefused):  # the first being ready changes nothing
        await services.mark_ready(demo_db, billing, CTX, ASYNC, second.case_id)

    overridden = await override_same_day(
        demo_db, billing, CTX, ASYNC, second.case_id, "teledentistry_once_per_day",
        "second emergency the same day; payer approved by phone, ref 4471",
    )
    [warning] = [v for v in overridden.warnings if v.rule == "teledentistry_once_per_day"]
    assert "payer approved by phone" in warning.message
    with pytest.raises(services.LinesRefused) as refused:  # the evaluation is still doubled
        await services.mark_ready(demo_db, billing, CTX, ASYNC, second.case_id)
    assert {v.rule for v in refused.value.violations} == {"evaluation_once_per_day"}
    await override_same_day(
        demo_db, billing, CTX, ASYNC, second.case_id, "evaluation_once_per_day",
        "two separate problems evaluated; payer approved by phone, ref 4471",
    )
    ready = await services.mark_ready(demo_db, billing, CTX, ASYNC, second.case_id)
    assert ready.billing.status == "ready"
    await demo_db.commit()
    event = await demo_db.scalar(
        select(AuditEvent).where(AuditEvent.action == "claim_lines.override")
    )
    assert event is not None and event.details["rule"] == "teledentistry_once_per_day"


async def test_dropping_the_line_clears_the_same_day_problem(
    demo_db: AsyncSession, blobs: BlobStore
):
    first = await seed_post_op(demo_db, blobs, package=False)
    second = await seed_post_op(demo_db, blobs, package=False)
    billing = await actor_for(demo_db, "billing@demo.test")
    rows = await _rows(demo_db, second.case_id)
    # the evaluation by the same dentist on the same date is the second one too
    two = await services.case_encounter(demo_db, billing, CTX, second.case_id)
    assert {"teledentistry_once_per_day", "evaluation_once_per_day"} <= {
        v.rule for v in two.blocking
    }
    # nothing on this encounter is billable that day: nothing to bill
    await services.mark_nothing_to_bill(demo_db, billing, CTX, ASYNC, second.case_id)
    one = await services.case_encounter(demo_db, billing, CTX, first.case_id)
    assert not [v for v in one.violations if v.rule.endswith("_once_per_day")]
    assert rows  # the second encounter had lines to drop


async def test_the_next_package_prints_the_correction_below_the_signed_lines(
    demo_db: AsyncSession, blobs: BlobStore
):
    seeded = await seed_post_op(demo_db, blobs)
    billing = await actor_for(demo_db, "billing@demo.test")
    rows = await _rows(demo_db, seeded.case_id)
    kept = [r for r in rows if r["code"] != "D0391"]
    await services.update_lines(demo_db, billing, CTX, ASYNC, seeded.case_id, kept,
                                reason="X-ray read by the referring dentist")
    await demo_db.commit()
    started = dt.datetime.now(dt.UTC)
    await build_package_job(demo_db, blobs, {"kind": "asynchronous",
                                             "encounter_id": str(seeded.case_id)})
    packages = (await demo_db.scalars(
        select(ClaimPackage).where(ClaimPackage.case_id == seeded.case_id)
        .order_by(ClaimPackage.version)
    )).all()
    assert [p.version for p in packages] == [1, 2]
    pdf = await blobs.read(packages[1].pdf_key)
    text = text_of(pdf)
    signed_part, corrected = text.split("Claim lines corrected", 1)
    assert "Claim lines as signed" in signed_part and "D0391" in signed_part
    assert "billing@demo.test: X-ray read by the referring dentist" in corrected
    assert "D0391" not in corrected and "D9996" in corrected
    # the document is dated when it was made, not at the signature
    made = PdfReader(io.BytesIO(pdf)).metadata.creation_date
    assert made is not None and made >= started.replace(microsecond=0)
    first = text_of(await blobs.read(packages[0].pdf_key))
    assert "Claim lines corrected" not in first


async def test_the_export_traces_each_line_to_what_was_billed(
    demo_db: AsyncSession, blobs: BlobStore
):
    seeded = await seed_post_op(demo_db, blobs)
    billing = await actor_for(demo_db, "billing@demo.test")
    await services.mark_ready(demo_db, billing, CTX, ASYNC, seeded.case_id)
    billed = await services.mark_billed(demo_db, billing, CTX, ASYNC, seeded.case_id)
    assert billed.billing.billed_package_version == 1
    acn = billed.billing.billed_attachment_control_number
    assert acn and acn.startswith("TL") and acn.endswith("V01")
    text = await services.claim_lines_csv(demo_db, billing, CTX, ["billed"])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0])[:14] == [
        "date_of_service", "patient", "date_of_birth", "payer", "member_id", "billing_npi",
        "rendering_npi", "code", "tooth", "surfaces", "place_of_service", "fee",
        "encounter_type", "attachment_control_number",
    ]
    assert [r["code"] for r in rows] == ["D0171", "D0391", "D9996"]
    first = rows[0]
    assert first["date_of_service"] == "2026-11-21" and first["patient"] == "Pat Demo"
    assert first["date_of_birth"] == "1988-04-12" and first["billing_npi"] == "1234567893"
    assert first["rendering_npi"] == "1326044579" and first["encounter_type"] == "asynchronous"
    assert {r["attachment_control_number"] for r in rows} == {acn}
    assert {r["package_version"] for r in rows} == {"1"}


async def test_billing_waits_for_the_current_package(demo_db: AsyncSession, blobs: BlobStore):
    seeded = await seed_post_op(demo_db, blobs, package=False)
    billing = await actor_for(demo_db, "billing@demo.test")
    await services.mark_ready(demo_db, billing, CTX, ASYNC, seeded.case_id)
    with pytest.raises(Conflict) as refused:
        await services.mark_billed(demo_db, billing, CTX, ASYNC, seeded.case_id)
    assert refused.value.code == "package_not_ready"


async def test_a_patient_without_coverage_gets_a_warning(demo_db: AsyncSession, blobs: BlobStore):
    seeded = await seed_school(demo_db, blobs, package=False)  # Zoë: no payer, no member id
    billing = await actor_for(demo_db, "billing@demo.test")
    view = await services.case_encounter(demo_db, billing, CTX, seeded.case_id)
    [warning] = [v for v in view.warnings if v.rule == "coverage_missing"]
    assert "no payer and no member id" in warning.message
    post_op = await seed_post_op(demo_db, blobs, package=False)  # Pat Demo: both on file
    view = await services.case_encounter(demo_db, billing, CTX, post_op.case_id)
    assert not [v for v in view.violations if v.rule == "coverage_missing"]
