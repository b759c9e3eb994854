"""Closed-loop referrals: from a signed evaluation (or a school screening with urgent need) to
the specialist's report.

Who: a dentist creates and updates referrals from the evaluations they signed; a coordinator
does it for their organizations; the front desk reads. Hygienists and coordinators see, per
screening event, how many children with urgent needs were seen by a dentist (counts only).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.cases.enums import Urgency
from reviewer.clock import as_utc
from reviewer.errors import Conflict, Forbidden, Invalid, NotFound
from reviewer.referrals.lifecycle import (
    OPEN,
    SEEN_BY_DENTIST,
    ReferralStatus,
    needs_news,
    transition,
)
from storage.audit import AuditContext, record_event, record_view
from storage.models import Case, Evaluation, Referral, Role, ScreeningEvent

__all__ = [
    "ScreeningSummary",
    "create_referral",
    "get_referral",
    "list_referrals",
    "referral_json",
    "screening_summary",
    "update_status",
]

WRITERS = frozenset({Role.DENTIST, Role.COORDINATOR})
READERS = frozenset({Role.DENTIST, Role.COORDINATOR, Role.FRONT_DESK})


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


def referral_visibility(actor: Actor) -> ColumnElement[bool]:
    if not actor.organization_ids:
        return false()
    in_org = Referral.organization_id.in_(actor.organization_ids)
    if actor.role in {Role.COORDINATOR, Role.FRONT_DESK}:
        return in_org
    if actor.role == Role.DENTIST:
        own_review = Referral.case_id.in_(
            select(Evaluation.case_id).where(Evaluation.dentist_id == actor.user_id)
        )
        return in_org & or_(Referral.created_by_id == actor.user_id, own_review)
    return false()


def _urgent_screening(case: Case) -> bool:
    screening = case.screening or {}
    return case.kind == "school_screening" and (
        screening.get("treatment_urgency") == "urgent" or case.urgency == Urgency.URGENT
    )


async def create_referral(
    db: AsyncSession, actor: Actor, ctx: AuditContext, data: Mapping[str, Any],
    *, now: dt.datetime | None = None,
) -> Referral:
    if actor.role not in WRITERS:
        raise Forbidden("Only a dentist or a coordinator makes referrals.")
    moment = _now(now)
    try:
        case_id = uuid.UUID(str(data.get("case_id")))
    except ValueError:
        raise Invalid("Name the case the referral comes from (case_id).",
                      code="case_required") from None
    case = await db.scalar(
        select(Case).where(Case.id == case_id, Case.organization_id.in_(actor.organization_ids))
    )
    if case is None:
        raise NotFound("No such case.")
    evaluation = await db.scalar(select(Evaluation).where(Evaluation.case_id == case.id))
    signed = evaluation is not None and evaluation.status == "signed"
    if actor.role == Role.DENTIST and not (signed and evaluation and
                                           evaluation.dentist_id == actor.user_id):
        raise NotFound("No such case among your signed reviews.")
    if not signed and not _urgent_screening(case):
        raise Conflict(
            "A referral comes from a signed evaluation or a school screening with urgent need.",
            code="not_signed",
        )
    suggested = (evaluation.referral or {}) if evaluation is not None and signed else {}
    to_provider = str(data.get("to_provider") or "").strip()
    if not to_provider:
        raise Invalid("Say to whom the patient is referred (to_provider).",
                      code="to_provider_required")
    urgency = str(data.get("urgency") or case.urgency or "routine")
    if urgency not in {u.value for u in Urgency}:
        raise Invalid("urgency is urgent, soon or routine.", code="invalid_urgency")
    reason = str(data.get("reason") or suggested.get("reason") or "").strip()
    if not reason:
        raise Invalid("Say why the patient is referred (reason).", code="reason_required")
    referral = Referral(
        organization_id=case.organization_id, patient_id=case.patient_id, case_id=case.id,
        screening_event_id=case.screening_event_id,
        to_provider=to_provider[:200],
        specialty=str(data.get("specialty") or suggested.get("specialty") or "")[:64],
        reason=reason[:4000], urgency=urgency, status=str(ReferralStatus.SENT),
        last_news_at=moment,
        history=[{"at": moment.isoformat(), "by": str(actor.user_id), "status": "sent",
                  "note": str(data.get("note") or "")[:500]}],
        created_by_id=actor.user_id,
    )
    db.add(referral)
    await db.flush()
    await record_event(
        db, "referral.created", ctx, organization_id=referral.organization_id,
        subject_type="referral", subject_id=referral.id,
        details={"case_id": str(case.id), "urgency": urgency, "from": "evaluation" if signed
                 else "urgent_screening"},
    )
    return referral


async def get_referral(
    db: AsyncSession, actor: Actor, ctx: AuditContext, referral_id: uuid.UUID
) -> Referral:
    if actor.role not in READERS:
        raise Forbidden("Your role cannot read referrals.")
    referral = await db.scalar(
        select(Referral).where(Referral.id == referral_id, referral_visibility(actor))
    )
    if referral is None:
        raise NotFound("No such referral.")
    record_view(
        db, "referral.viewed", ctx, organization_id=referral.organization_id,
        subject_type="referral", subject_id=referral.id, case_id=referral.case_id,
    )
    return referral


async def update_status(
    db: AsyncSession, actor: Actor, ctx: AuditContext, referral_id: uuid.UUID,
    status: str, note: str = "", *, now: dt.datetime | None = None,
) -> Referral:
    if actor.role not in WRITERS:
        raise Forbidden("Only a dentist or a coordinator updates referrals.")
    moment = _now(now)
    referral = await db.scalar(
        select(Referral).where(Referral.id == referral_id, referral_visibility(actor))
    )
    if referral is None:
        raise NotFound("No such referral.")
    new = transition(referral.status, status)
    referral.status = str(new)
    referral.last_news_at = moment
    referral.history = [
        *(referral.history or []),
        {"at": moment.isoformat(), "by": str(actor.user_id), "status": str(new),
         "note": note.strip()[:500]},
    ]
    await record_event(
        db, "referral.updated", ctx, organization_id=referral.organization_id,
        subject_type="referral", subject_id=referral.id, details={"status": str(new)},
    )
    return referral


async def list_referrals(
    db: AsyncSession, actor: Actor, *, only_needing_news: bool = False,
    status: str | None = None, patient_id: uuid.UUID | None = None,
    now: dt.datetime | None = None, limit: int = 200,
) -> list[Referral]:
    """Referrals the actor may read; ``only_needing_news``: the reminder query (open ones with
    no news for longer than their urgency allows), oldest news first."""
    if actor.role not in READERS:
        raise Forbidden("Your role cannot read referrals.")
    moment = _now(now)
    query = select(Referral).where(referral_visibility(actor))
    if status:
        query = query.where(Referral.status == status)
    if patient_id is not None:
        query = query.where(Referral.patient_id == patient_id)
    if only_needing_news:
        query = query.where(Referral.status.in_([str(s) for s in OPEN]))
    rows = (await db.scalars(query.order_by(Referral.last_news_at).limit(limit))).all()
    if only_needing_news:
        rows = [r for r in rows if needs_news(r.status, r.urgency, r.last_news_at, moment)]
    return list(rows)


@dataclass(frozen=True)
class ScreeningSummary:
    event_id: uuid.UUID
    children_screened: int
    urgent_children: int
    referred: int
    seen_by_dentist: int

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": str(self.event_id), "children_screened": self.children_screened,
                "urgent_children": self.urgent_children, "referred": self.referred,
                "seen_by_dentist": self.seen_by_dentist}


async def screening_summary(
    db: AsyncSession, actor: Actor, event_id: uuid.UUID
) -> ScreeningSummary:
    """Per screening event: children with urgent needs and how many a dentist saw. Counts only."""
    if actor.role not in {Role.HYGIENIST, Role.COORDINATOR}:
        raise Forbidden("Screening follow-up counts are for the program's staff.")
    event = await db.scalar(
        select(ScreeningEvent).where(
            ScreeningEvent.id == event_id,
            ScreeningEvent.organization_id.in_(actor.organization_ids),
        )
    )
    if event is None:
        raise NotFound("No such screening event.")
    cases = (
        await db.scalars(select(Case).where(Case.screening_event_id == event.id,
                                            Case.status != "draft"))
    ).all()
    urgent = {c.patient_id for c in cases if _urgent_screening(c)}
    referrals = (
        await db.scalars(select(Referral).where(Referral.screening_event_id == event.id))
    ).all()
    referred = {r.patient_id for r in referrals if r.patient_id in urgent}
    seen = {
        r.patient_id for r in referrals
        if r.patient_id in urgent and (
            r.status in SEEN_BY_DENTIST
            or (r.status == ReferralStatus.CLOSED
                and any(h.get("status") in SEEN_BY_DENTIST for h in r.history or []))
        )
    }
    screened = len({c.patient_id for c in cases})
    return ScreeningSummary(event.id, screened, len(urgent), len(referred), len(seen))


def referral_json(referral: Referral, now: dt.datetime | None = None) -> dict[str, Any]:
    moment = _now(now)
    return {
        "id": str(referral.id),
        "patient_id": str(referral.patient_id),
        "case_id": str(referral.case_id) if referral.case_id else None,
        "screening_event_id": (
            str(referral.screening_event_id) if referral.screening_event_id else None
        ),
        "to_provider": referral.to_provider,
        "specialty": referral.specialty,
        "reason": referral.reason,
        "urgency": referral.urgency,
        "status": referral.status,
        "last_news_at": as_utc(referral.last_news_at).isoformat(),
        "needs_news": needs_news(referral.status, referral.urgency, referral.last_news_at,
                                 moment),
        "history": referral.history or [],
    }


async def count_open(db: AsyncSession, actor: Actor) -> int:
    return int(
        await db.scalar(
            select(func.count()).select_from(Referral)
            .where(referral_visibility(actor), Referral.status.in_([str(s) for s in OPEN]))
        ) or 0
    )
