"""Fee schedules (issue 16): an organization's fees, a payer profile's overrides, the CSV
import, and the fee each claim line carries."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing import services
from reviewer.billing.fees import (
    InvalidFeeSchedule,
    parse_fee,
    parse_fee_csv,
    replace_fee_schedule,
)
from reviewer.coding.rules import EncounterType
from reviewer.errors import Forbidden
from storage.blobs import BlobStore
from storage.models import AuditEvent, EncounterBilling, Patient, PayerProfileRecord
from tests.integration.billing.conftest import CTX, actor_for, seed_post_op

CSV = "code,fee\r\nD0171,65.00\r\nD9996,40\r\nD0391,$1,025.5\r\n"


def test_parse_fee_and_csv() -> None:
    assert parse_fee("95") == 9500 and parse_fee("$1,095.50") == 109550
    for bad in ("-1", "12.345", "abc", "NaN", "1000000.01"):
        with pytest.raises(InvalidFeeSchedule):
            parse_fee(bad)
    assert parse_fee_csv(CSV.replace("$1,025.5", '"$1,025.5"')) == {
        "D0171": 6500, "D9996": 4000, "D0391": 102550,
    }
    with pytest.raises(InvalidFeeSchedule, match="header"):
        parse_fee_csv("D0171,65\n")
    with pytest.raises(InvalidFeeSchedule) as refused:
        parse_fee_csv("code,fee\nD0171,65\nD0171,70\nX9999,1\nD0140,-3\n")
    message = refused.value.message
    assert "line 3: D0171 appears twice" in message
    assert "line 4: 'X9999' is not a CDT code" in message
    assert "line 5:" in message


async def test_lines_carry_the_schedule_fee_and_keep_it_once_ready(
    demo_db: AsyncSession, blobs: BlobStore
):
    seeded = await seed_post_op(demo_db, blobs)
    admin = await actor_for(demo_db, "admin@demo.test")
    billing = await actor_for(demo_db, "billing@demo.test")
    with pytest.raises(Forbidden):
        await replace_fee_schedule(demo_db, billing, CTX, seeded.organization_id, None,
                                   {"D0171": 1})
    await replace_fee_schedule(demo_db, admin, CTX, seeded.organization_id, None,
                               parse_fee_csv("code,fee\nD0171,65.00\nD9996,40\n"))
    view = await services.case_encounter(demo_db, billing, CTX, seeded.case_id)
    fees = {line.code: line.fee for line in view.lines}
    assert fees == {"D0171": "65.00", "D0391": None, "D9996": "40.00"}
    assert view.total_cents == 10500 and view.missing_fees == ["D0391"]

    # a payer profile's override wins for that payer's patients
    profile = PayerProfileRecord(organization_id=seeded.organization_id, name="Delta Test",
                                 rules={})
    demo_db.add(profile)
    patient = await demo_db.get_one(Patient, seeded.patient_id)
    patient.payer_name = "Delta Test"
    await demo_db.flush()
    await replace_fee_schedule(demo_db, admin, CTX, seeded.organization_id, profile.id,
                               {"D9996": 3500})
    view = await services.case_encounter(demo_db, billing, CTX, seeded.case_id)
    assert {line.code: line.fee for line in view.lines}["D9996"] == "35.00"

    # ready keeps the fees it was made ready with; a later schedule change does not touch them
    await services.mark_ready(demo_db, billing, CTX, EncounterType.ASYNCHRONOUS, seeded.case_id)
    await replace_fee_schedule(demo_db, admin, CTX, seeded.organization_id, profile.id,
                               {"D9996": 9900})
    await demo_db.commit()
    row = await demo_db.scalar(
        select(EncounterBilling).where(EncounterBilling.case_id == seeded.case_id)
    )
    assert row is not None
    assert {r["code"]: r["fee"] for r in row.lines} == {
        "D0171": "65.00", "D0391": None, "D9996": "35.00",
    }
    events = (await demo_db.scalars(
        select(AuditEvent).where(AuditEvent.action == "fee_schedule.replaced")
    )).all()
    assert len(events) == 3 and events[0].details["fees"] == {"D0171": "65.00", "D9996": "40.00"}
