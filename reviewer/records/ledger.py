"""The D9961 ledger, for the front desk: every records request with a fee — quoted, paid (the
D9961 line on the patient's account) or waived (who, why) — read from the requests' own history
and the ledger entries, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import Forbidden
from storage.audit import AuditContext, record_event
from storage.models import LedgerEntry, Patient, RecordsRequest, Role

LEDGER_READERS = frozenset({Role.FRONT_DESK})
LEDGER_LIMIT = 200


@dataclass(frozen=True)
class LedgerRow:
    request_id: uuid.UUID
    patient: str
    patient_id: uuid.UUID
    received_at: dt.datetime
    quoted_cents: int
    basis: str
    state: str
    """quoted (not paid or waived yet) | paid | waived"""
    when: str
    """When it was paid or waived (ISO time), else ''."""
    by: str
    note: str
    """The waiver's reason, or what was paid."""
    code: str | None
    """D9961 on the patient's account when paid (not for the patient's own use)."""
    amount: str | None
    service_date: dt.date | None

    @property
    def quoted(self) -> str:
        return f"{self.quoted_cents // 100}.{self.quoted_cents % 100:02d}"


def _state(history: list[dict[str, str]]) -> tuple[str, dict[str, str]]:
    for entry in reversed(history or []):
        if entry.get("action") in {"paid", "waived"}:
            return str(entry["action"]), entry
    return "quoted", {}


async def records_ledger(db: AsyncSession, actor: Actor, ctx: AuditContext) -> list[LedgerRow]:
    """The fees of the front desk's organizations' records requests, newest first."""
    if actor.role not in LEDGER_READERS:
        raise Forbidden("The front desk reads the D9961 ledger.")
    if not actor.organization_ids:
        return []
    found = (await db.execute(
        select(RecordsRequest, Patient)
        .join(Patient, Patient.id == RecordsRequest.patient_id)
        .where(RecordsRequest.organization_id.in_(actor.organization_ids),
               RecordsRequest.fee_cents.is_not(None))
        .order_by(RecordsRequest.received_at.desc())
        .limit(LEDGER_LIMIT)
    )).all()
    ids = [req.id for req, _ in found]
    entries = {
        e.source_id: e for e in (await db.scalars(
            select(LedgerEntry).where(LedgerEntry.source_type == "records_request",
                                      LedgerEntry.source_id.in_(ids))
        )).all()
    } if ids else {}
    rows: list[LedgerRow] = []
    for req, patient in found:
        state, event = _state(req.history)
        entry = entries.get(req.id)
        rows.append(LedgerRow(
            request_id=req.id, patient=patient.full_name, patient_id=patient.id,
            received_at=req.received_at, quoted_cents=req.fee_cents or 0,
            basis=req.fee_basis or "", state=state, when=event.get("at", ""),
            by=event.get("by_name", ""), note=event.get("note", ""),
            code=entry.code if entry else None,
            amount=f"{entry.amount:.2f}" if entry else None,
            service_date=entry.service_date if entry else None,
        ))
    for org_id in sorted(actor.organization_ids):
        await record_event(
            db, "records_ledger.viewed", ctx, organization_id=org_id,
            subject_type="organization", subject_id=org_id, details={"rows": len(rows)},
        )
    return rows
