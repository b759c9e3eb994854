"""The billing worklist and its CSV export: reads only, a fixed number of queries.

Rows come from the stored billing rows (made when an evaluation is signed or a live session
recorded, :mod:`reviewer.billing.encounters`); listing never creates or changes one, so the
page costs the same two queries (plus its audit events) for one encounter or a hundred.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.billing.encounters import EDITORS, BillingStatus, require, teledentistry_code
from reviewer.billing.fees import format_fee
from reviewer.coding.rules import ClaimLine, EncounterType
from reviewer.export.csv_safe import csv_text
from storage.audit import AuditContext, record_event
from storage.models import (
    Case,
    ClaimPackage,
    EncounterBilling,
    Evaluation,
    FeeScheduleEntry,
    LiveSession,
    Organization,
    Patient,
    PayerProfileRecord,
    User,
)


@dataclass(frozen=True)
class WorklistRow:
    kind: EncounterType
    encounter_id: uuid.UUID
    patient_name: str
    patient_id: uuid.UUID
    when: dt.datetime
    dentist: str
    status: str
    codes: tuple[str, ...]
    total_cents: int = 0
    """The lines' fees (as stored, else today's schedule)."""
    service_date: dt.date | None = None
    missing_fees: int = 0

    @property
    def total(self) -> str:
        return format_fee(self.total_cents)

    @property
    def teledentistry_code(self) -> str:
        return teledentistry_code(self.kind)

    @property
    def path(self) -> str:
        if self.kind is EncounterType.ASYNCHRONOUS:
            return f"/billing/cases/{self.encounter_id}"
        return f"/billing/live-sessions/{self.encounter_id}"


WORKLIST_LIMIT = 100


@dataclass(frozen=True)
class _Prices:
    """Every fee of the desk's organizations, loaded once (two queries for the worklist)."""

    entries: dict[tuple[uuid.UUID, uuid.UUID | None, str], int]
    profiles: dict[uuid.UUID, list[PayerProfileRecord]]

    def unit(self, organization_id: uuid.UUID, payer_name: str | None, code: str) -> int | None:
        profiles = self.profiles.get(organization_id, [])
        chosen = next((p for p in profiles if payer_name and p.name == payer_name), None) or \
            next((p for p in profiles if p.is_default), None)
        if chosen is not None and (organization_id, chosen.id, code) in self.entries:
            return self.entries[(organization_id, chosen.id, code)]
        return self.entries.get((organization_id, None, code))


async def _prices(db: AsyncSession, organization_ids: frozenset[uuid.UUID]) -> _Prices:
    entries = {
        (e.organization_id, e.payer_profile_id, e.code): e.fee_cents
        for e in (await db.scalars(select(FeeScheduleEntry).where(
            FeeScheduleEntry.organization_id.in_(organization_ids)))).all()
    }
    profiles: dict[uuid.UUID, list[PayerProfileRecord]] = {}
    for p in (await db.scalars(select(PayerProfileRecord).where(
            PayerProfileRecord.organization_id.in_(organization_ids)))).all():
        profiles.setdefault(p.organization_id, []).append(p)
    return _Prices(entries, profiles)


def _row(
    kind: EncounterType, encounter_id: uuid.UUID, when: dt.datetime, dentist: str,
    billing: EncounterBilling, patient: Patient, prices: _Prices,
) -> WorklistRow:
    """One encounter's row, its lines priced (as stored, else today's schedule)."""
    total, missing, day = 0, 0, None
    for raw in billing.lines:
        line = ClaimLine.from_dict(raw)
        day = day or line.date_of_service
        fee = line.fee_cents
        if fee is None:
            unit = prices.unit(billing.organization_id, patient.payer_name, line.code)
            fee = None if unit is None else unit * line.quantity
        if fee is None:
            missing += 1
        else:
            total += fee
    return WorklistRow(
        kind=kind, encounter_id=encounter_id, patient_name=patient.full_name,
        patient_id=patient.id, when=when, dentist=dentist, status=billing.status,
        codes=tuple(str(raw.get("code")) for raw in billing.lines),
        total_cents=total, missing_fees=missing, service_date=day,
    )


def day_totals(rows: Sequence[WorklistRow]) -> list[tuple[dt.date, int, str]]:
    """Per date of service: the number of encounters and their total fees."""
    days: dict[dt.date, list[WorklistRow]] = {}
    for row in rows:
        if row.service_date is not None:
            days.setdefault(row.service_date, []).append(row)
    return [(day, len(group), format_fee(sum(r.total_cents for r in group)))
            for day, group in sorted(days.items())]


def _wanted(statuses: Sequence[str]) -> list[str]:
    return [s for s in statuses if s in BillingStatus.ALL] or list(BillingStatus.OPEN)


async def worklist(
    db: AsyncSession, actor: Actor, ctx: AuditContext, statuses: Sequence[str] = BillingStatus.OPEN
) -> list[WorklistRow]:
    """Encounters of the front desk's organizations, oldest first, with their codes."""
    require(actor, EDITORS)
    if not actor.organization_ids:
        return []
    wanted = _wanted(statuses)
    case_rows = (
        await db.execute(
            select(EncounterBilling, Case, Patient, Evaluation.signed_at, User.display_name)
            .join(Case, Case.id == EncounterBilling.case_id)
            .join(Patient, Patient.id == Case.patient_id)
            .join(Evaluation, Evaluation.case_id == Case.id)
            .join(User, User.id == Evaluation.dentist_id)
            .where(
                EncounterBilling.organization_id.in_(actor.organization_ids),
                EncounterBilling.status.in_(wanted),
            )
            .order_by(Evaluation.signed_at, Case.id)
            .limit(WORKLIST_LIMIT)
        )
    ).all()
    live_rows = (
        await db.execute(
            select(EncounterBilling, LiveSession, Patient, User.display_name)
            .join(LiveSession, LiveSession.id == EncounterBilling.live_session_id)
            .join(Patient, Patient.id == LiveSession.patient_id)
            .join(User, User.id == LiveSession.dentist_id)
            .where(
                EncounterBilling.organization_id.in_(actor.organization_ids),
                EncounterBilling.status.in_(wanted),
            )
            .order_by(LiveSession.ended_at, LiveSession.id)
            .limit(WORKLIST_LIMIT)
        )
    ).all()
    prices = await _prices(db, actor.organization_ids)
    rows = [
        _row(EncounterType.ASYNCHRONOUS, case.id, signed_at, dentist, billing, patient, prices)
        for billing, case, patient, signed_at, dentist in case_rows
    ] + [
        _row(EncounterType.SYNCHRONOUS, session.id, session.ended_at, dentist, billing, patient,
             prices)
        for billing, session, patient, dentist in live_rows
    ]
    rows.sort(key=lambda r: (r.when, str(r.encounter_id)))
    for org_id in sorted(actor.organization_ids):
        await record_event(
            db, "billing_worklist.viewed", ctx, organization_id=org_id,
            subject_type="organization", subject_id=org_id, details={"rows": len(rows)},
        )
    return rows


CSV_HEADER = (
    "date_of_service", "patient", "date_of_birth", "payer", "member_id", "billing_npi",
    "rendering_npi", "code", "tooth", "surfaces", "place_of_service", "fee", "encounter_type",
    "attachment_control_number",
    # what billing needs besides, to find the line again
    "quantity", "rendering_provider", "provider_role", "teledentistry_code", "encounter_id",
    "billing_status", "package_version", "patient_reference",
)
"""The columns of ``/billing/export.csv``: one row per claim line (docs/billing.md)."""


async def _packages_by_encounter(
    db: AsyncSession, billings: Sequence[EncounterBilling]
) -> dict[uuid.UUID, ClaimPackage]:
    """The newest package of each encounter, in one query."""
    case_ids = [b.case_id for b in billings if b.case_id]
    live_ids = [b.live_session_id for b in billings if b.live_session_id]
    if not case_ids and not live_ids:
        return {}
    packages = (await db.scalars(
        select(ClaimPackage)
        .where(or_(ClaimPackage.case_id.in_(case_ids),
                   ClaimPackage.live_session_id.in_(live_ids)))
        .order_by(ClaimPackage.version)
    )).all()
    newest: dict[uuid.UUID, ClaimPackage] = {}
    for package in packages:
        key = package.case_id or package.live_session_id
        assert key is not None
        newest[key] = package
    return newest


async def claim_lines_csv(
    db: AsyncSession, actor: Actor, ctx: AuditContext, statuses: Sequence[str] = BillingStatus.OPEN
) -> str:
    """Every claim line of the worklist as CSV, one row per line, traceable to the package
    (the version billed with, else the newest); no cell can become a spreadsheet formula."""
    require(actor, EDITORS)
    if not actor.organization_ids:
        return csv_text(CSV_HEADER, [])
    wanted = _wanted(statuses)
    result = await db.execute(
        select(EncounterBilling, Patient, Organization)
        .outerjoin(Case, Case.id == EncounterBilling.case_id)
        .outerjoin(LiveSession, LiveSession.id == EncounterBilling.live_session_id)
        .join(
            Patient,
            or_(
                and_(EncounterBilling.case_id.is_not(None), Patient.id == Case.patient_id),
                and_(
                    EncounterBilling.live_session_id.is_not(None),
                    Patient.id == LiveSession.patient_id,
                ),
            ),
        )
        .join(Organization, Organization.id == EncounterBilling.organization_id)
        .where(
            EncounterBilling.organization_id.in_(actor.organization_ids),
            EncounterBilling.status.in_(wanted),
        )
        .order_by(EncounterBilling.created_at, EncounterBilling.id)
    )
    found = result.all()
    packages = await _packages_by_encounter(db, [billing for billing, _, _ in found])
    rows: list[list[object]] = []
    for billing, patient, org in found:
        package = packages.get(billing.case_id or billing.live_session_id)
        version = billing.billed_package_version or (package.version if package else "")
        acn = billing.billed_attachment_control_number or (
            package.attachment_control_number if package else ""
        )
        for raw in billing.lines:
            line = ClaimLine.from_dict(raw)
            rows.append([
                line.date_of_service.isoformat(), patient.full_name,
                patient.date_of_birth.isoformat(), patient.payer_name or "",
                patient.member_id or "", org.npi or "", line.provider.npi, line.code,
                line.tooth or "", line.surfaces or "", line.place_of_service, line.fee or "",
                line.encounter.type, acn,
                line.quantity, line.provider.name, line.provider.role,
                teledentistry_code(line.encounter.type), line.encounter.id, billing.status,
                version, patient.id,
            ])
    for org_id in sorted(actor.organization_ids):
        await record_event(
            db, "claim_lines.exported", ctx, organization_id=org_id,
            subject_type="organization", subject_id=org_id,
            details={"encounters": len(found), "lines": len(rows)},
        )
    return csv_text(CSV_HEADER, rows)
