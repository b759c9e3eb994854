"""The fee step: the quote before anything is prepared, then paid (D9961 on the patient's
account) or waived."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import Conflict
from reviewer.records import lifecycle
from reviewer.records.lifecycle import RecordsAction
from reviewer.records.policy import (
    quote_fee,
)
from reviewer.records.steps import D9961, RequestView, begin
from storage.audit import AuditContext
from storage.models import (
    LedgerEntry,
    Organization,
    RecordsRequest,
)


async def _selection(db: AsyncSession, req: RecordsRequest, org: Organization) -> list[Any]:
    from reviewer.records.assemble import select_cases

    return await select_cases(db, req, org)


async def quote(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    """Tell the fee before anything is prepared (from the organization's policy).

    A request that costs nothing goes on to ``waived`` at once (no fee to pay).
    """
    step = await begin(db, actor, ctx, request_id, now)
    req, org = step.req, step.org
    policy = step.policy
    step.move(RecordsAction.QUOTE)
    from reviewer.records.assemble import count_items, count_other_records

    items = count_items(await _selection(db, req, org), req.scope)
    items += await count_other_records(db, req)
    fee = quote_fee(
        policy, req.requester_type, req.format, items, own_use=req.scope.get("purpose") == "own_use"
    )
    req.fee_cents, req.fee_basis = fee.cents, fee.basis[:200]
    step.history("fee_quoted", f"{fee.dollars}: {fee.basis}")
    await step.audit("records_request.fee_quoted", fee_cents=fee.cents, items=items)
    if fee.cents == 0:
        step.move(RecordsAction.WAIVE)
        step.history("waived", "no fee")
        await step.audit("records_request.waived", reason="no_fee")
    return await step.view()


async def pay(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    """The fee was paid: D9961 and the fee go on the patient's account."""
    step = await begin(db, actor, ctx, request_id, now)
    req, org, moment = step.req, step.org, step.moment
    if not req.fee_cents:
        raise Conflict("There is no fee to pay on this request.", code="no_fee")
    step.move(RecordsAction.PAY)
    entry = None
    if req.scope.get("purpose") != "own_use":
        entry = LedgerEntry(
            organization_id=req.organization_id,
            patient_id=req.patient_id,
            code=D9961,
            description="Duplicate/copy of patient's records",
            amount=Decimal(req.fee_cents) / 100,
            service_date=lifecycle.local_date(moment, org.time_zone),
            source_type="records_request",
            source_id=req.id,
        )
        db.add(entry)
        await db.flush()
    step.history("paid", f"${req.fee_cents / 100:.2f} paid")
    await step.audit(
        "records_request.paid",
        fee_cents=req.fee_cents,
        ledger_entry_id=str(entry.id) if entry else None,
    )
    return await step.view()


async def waive(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    reason: str = "",
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    step = await begin(db, actor, ctx, request_id, now)
    step.move(RecordsAction.WAIVE)
    step.history("waived", reason.strip()[:500] or "fee waived")
    await step.audit("records_request.waived", reason="waived_by_staff")
    return await step.view()
