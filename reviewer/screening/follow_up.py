"""The follow-up list: screened children with an urgent need whose care is not confirmed yet.

A child is on the list from the day the hygienist records treatment urgency *urgent care*
until a referral of that child's screening case reaches ``seen`` (or ``report_received``, or
was closed after being seen): then care is confirmed and the child drops off. A child with
no referral yet is at the top — the coordinator refers first. The guardian's reminders are the
referral sweep's ``referral_reminder`` notifications
(:mod:`reviewer.notifications.reminders`, by the referral's urgency); the list is the
coordinator's reminder: each row says whether the referral has gone without news past its
time (``reviewer.referrals.lifecycle.needs_news``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.cases.enums import CaseKind
from reviewer.clock import now_utc
from reviewer.referrals.lifecycle import SEEN_BY_DENTIST, ReferralStatus, needs_news
from reviewer.screening.events import require_role
from storage.audit import AuditContext, record_view
from storage.models import Case, Patient, Referral, Role, ScreeningEvent

__all__ = ["FOLLOW_UP_READERS", "FollowUp", "care_confirmed", "follow_up_list"]

FOLLOW_UP_READERS = frozenset({Role.HYGIENIST, Role.COORDINATOR})
LIMIT = 500
SCAN = 2000
"""Urgent cases read per request, newest first, so old history never crowds out today's."""


@dataclass(frozen=True, slots=True)
class FollowUp:
    case_id: uuid.UUID
    patient: Patient
    event: ScreeningEvent
    referral: Referral | None
    """The latest referral of the case (None: not referred yet)."""
    reminder_due: bool
    """No referral yet, or the referral went without news past its time."""

    @property
    def days_waiting(self) -> int:
        return (now_utc().date() - self.event.event_date).days


def care_confirmed(referral: Referral) -> bool:
    """The child was seen by a dentist on this referral (now or before it was closed)."""
    return referral.status in SEEN_BY_DENTIST or any(
        entry.get("status") in SEEN_BY_DENTIST for entry in referral.history or []
    )


async def follow_up_list(
    db: AsyncSession, actor: Actor, ctx: AuditContext, *, now: dt.datetime | None = None
) -> list[FollowUp]:
    """The children of the actor's programs waiting for confirmed urgent care, the longest
    waiting first (the read is audited with the children's ids)."""
    require_role(actor, FOLLOW_UP_READERS)
    moment = now or now_utc()
    if not actor.organization_ids:
        return []
    seen = (
        select(Referral.id)
        .where(Referral.case_id == Case.id,
               Referral.status.in_([status.value for status in SEEN_BY_DENTIST]))
        .exists()
    )
    rows = (await db.execute(
        select(Case, Patient, ScreeningEvent)
        .join(Patient, Patient.id == Case.patient_id)
        .join(ScreeningEvent, ScreeningEvent.id == Case.screening_event_id)
        .where(Case.kind == CaseKind.SCHOOL_SCREENING.value,
               Case.organization_id.in_(actor.organization_ids),
               Case.screening["treatment_urgency"].as_string() == "urgent",
               ~seen)
        .order_by(ScreeningEvent.event_date.desc(), Case.id)
        .limit(SCAN)
    )).all()
    # the newest SCAN cases without a seen referral; closed-after-seen ones are dropped below
    urgent = sorted(
        ((case, patient, event) for case, patient, event in rows
         if (case.screening or {}).get("treatment_urgency") == "urgent"),
        key=lambda row: (row[2].event_date, row[1].last_name, row[1].first_name),
    )
    by_case: dict[uuid.UUID, list[Referral]] = {}
    if urgent:
        for referral in await db.scalars(
            select(Referral).where(Referral.case_id.in_([c.id for c, _, _ in urgent]))
            .order_by(Referral.created_at)
        ):
            by_case.setdefault(referral.case_id or uuid.UUID(int=0), []).append(referral)
    items: list[FollowUp] = []
    for case, patient, event in urgent:
        referrals = by_case.get(case.id, [])
        if any(care_confirmed(r) for r in referrals):
            continue
        latest = referrals[-1] if referrals else None
        due = (latest is None or latest.status == ReferralStatus.LOST_TO_FOLLOW_UP
               or needs_news(latest.status, latest.urgency, latest.last_news_at, moment))
        items.append(FollowUp(case.id, patient, event, latest, due))
    items = items[:LIMIT]
    record_view(
        db, "screening_follow_up.viewed", ctx, organization_id=None,
        subject_type="screening_follow_up", subject_id=str(actor.user_id),
        details={"children": len(items),
                 "patient_ids": [str(item.patient.id) for item in items]},
    )
    return items
