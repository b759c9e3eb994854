"""Screening events (a school screening day) and their class rosters.

Who may do what (the routes' guards check the role; these services check it again and scope
every query to the actor's organizations — anything else is NotFound):

* hygienists and front-desk staff of the program create events and import rosters;
* hygienists screen the children (``reviewer.screening.children``);
* hygienists, coordinators and front-desk staff read an event and its class list;
* hygienists and coordinators read the reports (``reviewer.screening.reports``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.accounts.validation import check_state, clean
from reviewer.actor import Actor
from reviewer.clock import today_in
from reviewer.consent_forms import TELEDENTISTRY, current_form
from reviewer.errors import Forbidden, Invalid, NotFound, Unprocessable
from reviewer.intake.consents import ConsentRequest, accept_consent, current_consent
from reviewer.screening.roster import RosterRow, RosterUnreadable, parse_roster
from storage.audit import AuditContext, record_event
from storage.models import (
    Organization,
    OrganizationKind,
    Patient,
    Role,
    ScreeningEnrollment,
    ScreeningEvent,
)

EVENT_WRITERS = frozenset({Role.HYGIENIST, Role.FRONT_DESK})
"""Create events and import rosters (registering the children)."""
SCREENERS = frozenset({Role.HYGIENIST})
"""Record findings, photos, "not screened"; send the cases."""
EVENT_READERS = frozenset({Role.HYGIENIST, Role.FRONT_DESK, Role.COORDINATOR})
# docs/access.md: "screening reports, referral outcome counts" for hygienist, front desk
# and coordinator of the program.
REPORT_READERS = frozenset({Role.HYGIENIST, Role.FRONT_DESK, Role.COORDINATOR})
MAX_ROSTER_BYTES = 2_000_000


def require_role(actor: Actor, roles: frozenset[Role]) -> None:
    if actor.role not in roles:
        raise Forbidden("Your role cannot do this.")


@dataclass(frozen=True, slots=True)
class NewEvent:
    site: str
    event_date: date
    state: str | None = None
    """Two-letter state; defaults to the organization's."""
    organization_id: uuid.UUID | None = None
    """Needed only when the actor belongs to several school programs."""


async def _organization_for(
    db: AsyncSession, actor: Actor, requested: uuid.UUID | None
) -> Organization:
    if requested is not None:
        if not actor.in_org(requested):
            raise NotFound("No such organization.")
        return await db.get_one(Organization, requested)
    orgs = list(
        await db.scalars(
            select(Organization)
            .where(Organization.id.in_(actor.organization_ids))
            .order_by(Organization.name)
        )
    )
    if len(orgs) == 1:
        return orgs[0]
    programs = [org for org in orgs if org.kind == OrganizationKind.SCHOOL_PROGRAM]
    if len(programs) == 1:
        return programs[0]
    raise Invalid("Say which organization runs this event (organization_id).",
                  code="organization_required")


async def create_event(
    db: AsyncSession, actor: Actor, ctx: AuditContext, new: NewEvent
) -> ScreeningEvent:
    """A screening day at a school (site); its cases default to the event's state and the
    originating site ``school``."""
    require_role(actor, EVENT_WRITERS)
    org = await _organization_for(db, actor, new.organization_id)
    site = clean(new.site, limit=200, field="site", required=True)
    state = check_state(new.state or org.state)
    today = today_in(org.time_zone)
    if abs((new.event_date - today).days) > 366 * 2:
        raise Unprocessable("The event date is more than two years away.", code="invalid_date")
    event = ScreeningEvent(
        organization_id=org.id,
        site=site,
        event_date=new.event_date,
        state=state,
        hygienist_id=actor.user_id if actor.role == Role.HYGIENIST else None,
    )
    db.add(event)
    await db.flush()
    await record_event(
        db, "screening_event.created", ctx, organization_id=org.id,
        subject_type="screening_event", subject_id=event.id,
        details={"state": state, "date": new.event_date.isoformat()},
    )
    return event


async def get_event(
    db: AsyncSession, actor: Actor, event_id: uuid.UUID,
    roles: frozenset[Role] = EVENT_READERS,
) -> ScreeningEvent:
    """An event of one of the actor's organizations (NotFound otherwise)."""
    require_role(actor, roles)
    event = await db.scalar(
        select(ScreeningEvent).where(
            ScreeningEvent.id == event_id,
            ScreeningEvent.organization_id.in_(actor.organization_ids),
        )
    )
    if event is None:
        raise NotFound("No such screening event.")
    return event


async def list_events(db: AsyncSession, actor: Actor, limit: int = 100) -> list[ScreeningEvent]:
    """The events of the actor's organizations, latest day first."""
    require_role(actor, EVENT_READERS)
    if not actor.organization_ids:
        return []
    rows = await db.scalars(
        select(ScreeningEvent)
        .where(ScreeningEvent.organization_id.in_(actor.organization_ids))
        .order_by(ScreeningEvent.event_date.desc(), ScreeningEvent.created_at.desc())
        .limit(limit)
    )
    return list(rows)


# --------------------------------------------------------------------------- roster


@dataclass(frozen=True, slots=True)
class RosterLineError:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int
    """Children added to this event's roster."""
    updated: int
    """Children already on it whose details were refreshed."""
    errors: tuple[RosterLineError, ...]
    consents_recorded: int = 0

    def payload(self) -> dict[str, object]:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "errors": [{"line": e.line, "reason": e.reason} for e in self.errors],
        }


def _apply_row(patient: Patient, row: RosterRow, event: ScreeningEvent) -> None:
    patient.first_name = row.first_name[:100]
    patient.last_name = row.last_name[:100]
    patient.date_of_birth = row.date_of_birth
    patient.school = event.site
    patient.grade = row.grade[:16] or patient.grade
    patient.guardian_name = row.guardian_name or patient.guardian_name
    patient.guardian_phone = row.guardian_phone[:32] or patient.guardian_phone
    patient.preferred_language = row.language or patient.preferred_language
    patient.guardian_email = row.guardian_email or patient.guardian_email
    if not patient.state:
        patient.state = event.state


async def _record_roster_consent(
    db: AsyncSession, actor: Actor, ctx: AuditContext, patient: Patient, row: RosterRow
) -> bool:
    """Consent yes: the guardian's consent, recorded from the roster, unless one is on file.
    Consent no: a consent this program took from an earlier roster is withdrawn (a consent
    given another way — on paper, in the portal — is left alone). True when one was added."""
    existing = await current_consent(db, patient.id, TELEDENTISTRY)
    if row.consent:
        if existing is not None:
            return False
        await accept_consent(
            db, actor, ctx,
            ConsentRequest(
                form=TELEDENTISTRY, version=current_form(TELEDENTISTRY).version,
                patient_id=patient.id, method="roster", given_by="guardian",
                given_by_name=row.guardian_name or None,
            ),
        )
        return True
    if existing is not None and existing.method == "roster":
        existing.revoked_at = datetime.now(UTC)
        await db.flush()
        await record_event(
            db, "consent.revoked", ctx, organization_id=patient.organization_id,
            subject_type="patient", subject_id=patient.id,
            details={"form": existing.form, "version": existing.version, "source": "roster",
                     "consent_id": str(existing.id)},
        )
    return False


async def import_roster(
    db: AsyncSession, actor: Actor, ctx: AuditContext, event_id: uuid.UUID, data: bytes
) -> ImportResult:
    """Put the class roster on the event: every good line adds (or refreshes) a child, every
    bad line is reported by its line number and reason. Re-importing the same file adds
    nothing: each child is matched by student id within the organization."""
    event = await get_event(db, actor, event_id, EVENT_WRITERS)
    if len(data) > MAX_ROSTER_BYTES:
        raise Unprocessable(f"A roster is at most {MAX_ROSTER_BYTES // 1_000_000} MB.",
                            code="roster_too_large")
    org = await db.get(Organization, event.organization_id)
    today = today_in(org.time_zone if org else None)  # the school's day, not the server's
    try:
        parsed = parse_roster(data, today=today)
    except RosterUnreadable as exc:
        raise Unprocessable(str(exc), code="roster_unreadable") from None
    imported = updated = consents = 0
    ids = [row.student_id for row in parsed.rows]
    patients = {
        p.student_id: p
        for p in await db.scalars(
            select(Patient).where(
                Patient.organization_id == event.organization_id, Patient.student_id.in_(ids)
            )
        )
    } if ids else {}
    enrolled = {
        e.patient_id: e
        for e in await db.scalars(
            select(ScreeningEnrollment).where(ScreeningEnrollment.event_id == event.id)
        )
    }
    for row in parsed.rows:
        patient = patients.get(row.student_id)
        if patient is None:
            patient = Patient(
                organization_id=event.organization_id, student_id=row.student_id[:64],
                first_name="", last_name="", date_of_birth=row.date_of_birth,
                state=event.state,
            )
            _apply_row(patient, row, event)
            db.add(patient)
            await db.flush()
            await record_event(
                db, "patient.registered", ctx, organization_id=event.organization_id,
                subject_type="patient", subject_id=patient.id,
                details={"source": "roster", "screening_event_id": str(event.id)},
            )
        else:
            _apply_row(patient, row, event)
        enrollment = enrolled.get(patient.id)
        if enrollment is None:
            enrollment = ScreeningEnrollment(
                event_id=event.id, patient_id=patient.id, roster_line=row.line,
                status="pending", roster_date=today,
            )
            db.add(enrollment)
            enrolled[patient.id] = enrollment
            imported += 1
        else:
            enrollment.roster_line = row.line
            enrollment.roster_date = today
            updated += 1
        await db.flush()
        if await _record_roster_consent(db, actor, ctx, patient, row):
            consents += 1
    result = ImportResult(
        imported=imported,
        updated=updated,
        errors=tuple(RosterLineError(e.line, e.reason) for e in parsed.errors),
        consents_recorded=consents,
    )
    await record_event(
        db, "roster.imported", ctx, organization_id=event.organization_id,
        subject_type="screening_event", subject_id=event.id,
        details={"imported": imported, "updated": updated, "refused_lines": len(parsed.errors),
                 "consents_recorded": consents},
    )
    return result
