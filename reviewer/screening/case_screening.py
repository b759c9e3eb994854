"""A school-screening case's findings: checked when intake creates the case, stored on it, and
shown in its JSON. Intake calls these (``reviewer.intake.cases``); this module must not import
intake's case services (they import the screening services the other way round)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.cases.enums import CaseKind
from reviewer.clock import age_on
from reviewer.errors import Unprocessable
from reviewer.screening.events import SCREENERS, get_event
from reviewer.screening.findings import Findings, parse_findings
from storage.models import Case, Patient, Role, ScreeningEnrollment, ScreeningEvent

CaseScreening = tuple[Findings, ScreeningEvent, ScreeningEnrollment]


def apply_findings(case: Case, event: ScreeningEvent, findings: Findings) -> None:
    """Store the findings on a school-screening case and set its urgency from them."""
    urgency = findings.case_urgency
    case.screening = findings.as_json(str(event.id))
    case.screening_event_id = event.id
    case.urgency = urgency.value
    case.urgency_rank = urgency.queue_rank


async def screening_for_new_case(
    db: AsyncSession, actor: Actor, patient: Patient, kind: str, raw: Mapping[str, Any] | None
) -> CaseScreening | None:
    """For ``POST /api/v1/cases``: check the ``screening`` object of a new case.

    None when there is none (a school-screening draft may get its findings later, from the
    screening page). Only a ``school_screening`` case sent by a hygienist carries one; its
    event must belong to the actor's organizations, the child must be on the event's roster,
    and the findings are checked by :func:`reviewer.screening.findings.parse_findings`.
    """
    if raw is None:
        return None
    if kind != CaseKind.SCHOOL_SCREENING:
        raise Unprocessable("Only a school_screening case carries screening findings.",
                            code="invalid_screening")
    if actor.role != Role.HYGIENIST:
        raise Unprocessable("School screening findings are recorded by the hygienist.",
                            code="invalid_kind")
    try:
        event_id = uuid.UUID(str(raw.get("event_id")))
    except ValueError:
        raise Unprocessable("screening.event_id is the screening event's id.",
                            code="invalid_screening") from None
    event = await get_event(db, actor, event_id, SCREENERS)
    enrollment = await db.scalar(
        select(ScreeningEnrollment).where(
            ScreeningEnrollment.event_id == event.id,
            ScreeningEnrollment.patient_id == patient.id,
        )
    )
    if enrollment is None:
        raise Unprocessable("This child is not on the event's roster.", code="not_enrolled")
    fields = {k: v for k, v in raw.items() if k != "event_id"}
    findings = parse_findings(fields, age_years=age_on(patient.date_of_birth, event.event_date))
    return findings, event, enrollment


async def link_new_case(
    db: AsyncSession, case: Case,
    screening: CaseScreening | None,
) -> None:
    """After intake created the case: store the findings on it and tie it to the child's
    enrollment (a child already given a case keeps the first one)."""
    if screening is None:
        return
    findings, event, enrollment = screening
    apply_findings(case, event, findings)
    if enrollment.case_id is None:
        enrollment.case_id = case.id
        enrollment.status = "screened"
        enrollment.not_screened_reason = ""
    await db.flush()


def screening_payload(case: Case) -> dict[str, Any] | None:
    """The ``screening`` member of a case's JSON (None for other kinds)."""
    if case.kind != CaseKind.SCHOOL_SCREENING or case.screening is None:
        return None
    data = dict(case.screening)
    return {
        "event_id": data.get("event_id"),
        "caries_experience": data.get("caries_experience"),
        "untreated_decay": data.get("untreated_decay"),
        "sealants_present": data.get("sealants_present"),
        "treatment_urgency": data.get("treatment_urgency"),
        "services": list(data.get("services") or []),
    }
