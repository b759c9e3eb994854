"""Screening reports in the shape school dental programs report: the ASTDD Basic Screening
Survey (BSS) indicators — children screened, caries experience, untreated decay, sealants
present, treatment urgency (early care, urgent care) — per event (by grade) and per school.

Two CSV exports, both formula-injection safe (``reviewer.export.csv_safe``):

* the indicator table (:func:`indicators_csv`): one row per event and grade, or per school;
* the BSS data sheet of one event (:func:`data_sheet_csv`): one row per child, findings coded
  as on the paper form (0 = no, 1 = yes; treatment urgency 0 none, 1 early, 2 urgent).

Referral outcomes are not counted yet (no referrals exist for screening cases).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.export.csv_safe import csv_text
from reviewer.screening.children import Child, load_children
from reviewer.screening.events import REPORT_READERS, get_event, require_role
from reviewer.screening.findings import BSS_URGENCY_CODE, reason_label
from reviewer.screening.progress import ChildState
from reviewer.vocabulary import FLUORIDE_VARNISH, SEALANT
from storage.audit import AuditContext, record_event
from storage.models import ScreeningEvent

ALL_GRADES = "all"


@dataclass(frozen=True, slots=True)
class Indicators:
    enrolled: int = 0
    screened: int = 0
    not_screened: int = 0
    caries_experience: int = 0
    untreated_decay: int = 0
    sealants_present: int = 0
    early_care: int = 0
    urgent_care: int = 0
    fluoride_varnish: int = 0
    sealants_placed: int = 0
    """Children who received at least one sealant at school."""
    submitted: int = 0
    reviewed: int = 0

    def percent(self, count: int) -> str:
        """Share of the children screened, one decimal ("" when none were screened)."""
        return f"{100 * count / self.screened:.1f}" if self.screened else ""


def _screened(child: Child) -> bool:
    return child.state not in {ChildState.PENDING, ChildState.NOT_SCREENED} and bool(
        child.findings
    )


def indicators(children: Iterable[Child]) -> Indicators:
    counts: dict[str, int] = defaultdict(int)
    for child in children:
        counts["enrolled"] += 1
        if child.state is ChildState.NOT_SCREENED:
            counts["not_screened"] += 1
            continue
        if not _screened(child):
            continue
        f = child.findings
        counts["screened"] += 1
        counts["caries_experience"] += bool(f.get("caries_experience"))
        counts["untreated_decay"] += bool(f.get("untreated_decay"))
        counts["sealants_present"] += bool(f.get("sealants_present"))
        counts["early_care"] += f.get("treatment_urgency") == "early"
        counts["urgent_care"] += f.get("treatment_urgency") == "urgent"
        codes = {str(s.get("code")) for s in f.get("services") or []}
        counts["fluoride_varnish"] += FLUORIDE_VARNISH in codes
        counts["sealants_placed"] += SEALANT in codes
        counts["submitted"] += child.state in {
            ChildState.SUBMITTED, ChildState.NEEDS_INFO, ChildState.REVIEWED
        }
        counts["reviewed"] += child.state is ChildState.REVIEWED
    return Indicators(**counts)


@dataclass(frozen=True, slots=True)
class ReportRow:
    school: str
    event_date: date | None
    grade: str
    events: int
    values: Indicators


@dataclass(frozen=True, slots=True)
class EventReport:
    event: ScreeningEvent
    children: list[Child]
    total: Indicators
    by_grade: list[ReportRow]

    @property
    def rows(self) -> list[ReportRow]:
        total = ReportRow(self.event.site, self.event.event_date, ALL_GRADES, 1, self.total)
        return [*self.by_grade, total]


def _grade_key(grade: str) -> tuple[int, str]:
    return (int(grade), "") if grade.isdigit() else (99, grade)


async def event_report(
    db: AsyncSession, actor: Actor, ctx: AuditContext, event_id: uuid.UUID,
    *, action: str = "screening_report.viewed",
) -> EventReport:
    """The BSS indicators of one event, in total and by grade (the read is audited)."""
    event = await get_event(db, actor, event_id, REPORT_READERS)
    children = await load_children(db, event)
    grades: dict[str, list[Child]] = defaultdict(list)
    for child in children:
        grades[(child.patient.grade or "").strip() or "unknown"].append(child)
    by_grade = [
        ReportRow(event.site, event.event_date, grade, 1, indicators(grades[grade]))
        for grade in sorted(grades, key=_grade_key)
    ]
    await record_event(
        db, action, ctx, organization_id=event.organization_id,
        subject_type="screening_event", subject_id=event.id,
    )
    return EventReport(event, children, indicators(children), by_grade)


async def school_report(
    db: AsyncSession, actor: Actor, ctx: AuditContext,
    date_from: date | None = None, date_to: date | None = None,
) -> list[ReportRow]:
    """The BSS indicators per school (events' site) over the actor's organizations'
    events between the two dates (inclusive), the last row being all schools together."""
    require_role(actor, REPORT_READERS)
    query = select(ScreeningEvent).where(
        ScreeningEvent.organization_id.in_(actor.organization_ids)
    )
    if date_from is not None:
        query = query.where(ScreeningEvent.event_date >= date_from)
    if date_to is not None:
        query = query.where(ScreeningEvent.event_date <= date_to)
    events = list(await db.scalars(query.order_by(ScreeningEvent.site,
                                                  ScreeningEvent.event_date)))
    by_school: dict[str, list[Child]] = defaultdict(list)
    event_count: dict[str, int] = defaultdict(int)
    everyone: list[Child] = []
    for event in events:
        children = await load_children(db, event)
        by_school[event.site].extend(children)
        event_count[event.site] += 1
        everyone.extend(children)
    rows = [
        ReportRow(school, None, ALL_GRADES, event_count[school], indicators(children))
        for school, children in sorted(by_school.items(), key=lambda item: item[0].lower())
    ]
    rows.append(ReportRow("All schools", None, ALL_GRADES, len(events), indicators(everyone)))
    for org_id in {event.organization_id for event in events} or set(actor.organization_ids):
        await record_event(
            db, "screening_report.viewed", ctx, organization_id=org_id,
            subject_type="screening_report", subject_id=None,
            details={"scope": "schools", "events": len(events)},
        )
    return rows


INDICATOR_HEADER = (
    "school", "event_date", "grade", "events", "children_enrolled", "children_screened",
    "not_screened", "caries_experience", "caries_experience_pct", "untreated_decay",
    "untreated_decay_pct", "sealants_present", "sealants_present_pct", "early_dental_care",
    "urgent_care", "treatment_needed_pct", "fluoride_varnish_applied", "sealants_placed",
    "cases_submitted", "cases_reviewed",
)


def indicators_csv(rows: Sequence[ReportRow]) -> str:
    """The indicator table, one row per report row."""
    out = []
    for row in rows:
        v = row.values
        out.append((
            row.school, row.event_date.isoformat() if row.event_date else "", row.grade,
            row.events, v.enrolled, v.screened, v.not_screened,
            v.caries_experience, v.percent(v.caries_experience),
            v.untreated_decay, v.percent(v.untreated_decay),
            v.sealants_present, v.percent(v.sealants_present),
            v.early_care, v.urgent_care, v.percent(v.early_care + v.urgent_care),
            v.fluoride_varnish, v.sealants_placed, v.submitted, v.reviewed,
        ))
    return csv_text(INDICATOR_HEADER, out)


DATA_SHEET_HEADER = (
    "student_id", "last_name", "first_name", "grade", "age", "school", "screening_date",
    "status", "caries_experience", "untreated_decay", "sealants_present",
    "treatment_urgency", "fluoride_varnish", "sealant_teeth", "not_screened_reason",
)


def _yes_no(value: object) -> str:
    return "1" if value else "0"


def data_sheet_csv(report: EventReport) -> str:
    """One row per child, coded as on the BSS data sheet (blank when not screened)."""
    event = report.event
    out = []
    for child in report.children:
        p = child.patient
        f = child.findings
        screened = _screened(child)
        services = f.get("services") or []
        out.append((
            p.student_id or "", p.last_name, p.first_name, p.grade or "",
            child.age_on(event), event.site, event.event_date.isoformat(),
            child.state.value,
            _yes_no(f.get("caries_experience")) if screened else "",
            _yes_no(f.get("untreated_decay")) if screened else "",
            _yes_no(f.get("sealants_present")) if screened else "",
            BSS_URGENCY_CODE.get(str(f.get("treatment_urgency")), "") if screened else "",
            _yes_no(any(s.get("code") == FLUORIDE_VARNISH for s in services)) if screened else "",
            " ".join(str(s.get("tooth")) for s in services
                     if s.get("code") == SEALANT and s.get("tooth")),
            reason_label(child.enrollment.not_screened_reason)
            if child.state is ChildState.NOT_SCREENED else "",
        ))
    return csv_text(DATA_SHEET_HEADER, out)
