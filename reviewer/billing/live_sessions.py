"""Live (synchronous, D9995) sessions: the dentist records one after it ended.

Its billing row (the proposed lines) is stored with it; its documentation PDF is built after
the commit (:mod:`reviewer.billing.packages`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.billing.encounters import LIVE_SESSIONS, EncounterView, load_view
from reviewer.billing.facts import local_date
from reviewer.billing.packages import rebuild_after_commit
from reviewer.cases.enums import OriginatingSite
from reviewer.errors import Forbidden, Invalid, NotFound
from storage.audit import AuditContext, record_event
from storage.models import Case, License, LiveSession, Patient, Role


def _moment(data: Mapping[str, Any], key: str) -> dt.datetime:
    value = data.get(key)
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(
                f"{key} is not an ISO 8601 date and time", code="invalid_live_session"
            ) from None
    else:
        raise Invalid(f"{key} is required (ISO 8601 date and time)", code="invalid_live_session")
    if moment.tzinfo is None:
        raise Invalid(f"{key} needs a time zone (e.g. Z or +00:00)", code="invalid_live_session")
    return moment.astimezone(dt.UTC)


def _uuid(value: Any, key: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Invalid(f"{key} is not an id", code="invalid_live_session") from None


async def create_live_session(
    db: AsyncSession, actor: Actor, ctx: AuditContext, data: Mapping[str, Any]
) -> EncounterView:
    """Record a live (D9995) session the acting dentist held.

    ``data``: ``patient_id``, ``case_id`` (optional: the case it escalates; that case keeps its
    asynchronous review), ``scheduled_at``, ``started_at``, ``ended_at`` (ISO 8601 with a zone),
    ``participants`` ([{"name", "role"}]), ``platform``, ``notes``; optional ``patient_site``
    (home | school | office | other; default the case's site, else home) and ``evaluation``
    ({"findings", "diagnosis", "advice", "problem_status": "new"|"established",
    "procedures": [{"code", "tooth", "surfaces", "rationale"}]}).
    """
    if actor.role != Role.DENTIST:
        raise Forbidden("Only the dentist who held a live session records it.")
    if "patient_id" not in data:
        raise Invalid("patient_id is required", code="invalid_live_session")
    patient_id = _uuid(data["patient_id"], "patient_id")
    patient = await db.scalar(
        select(Patient).where(
            Patient.id == patient_id, Patient.organization_id.in_(actor.organization_ids)
        )
    ) if actor.organization_ids else None
    if patient is None:
        raise NotFound("No such patient.")
    case: Case | None = None
    if data.get("case_id"):
        case_id = _uuid(data["case_id"], "case_id")
        case = await db.scalar(
            select(Case).where(Case.id == case_id, Case.organization_id == patient.organization_id)
        )
        if case is None or case.patient_id != patient.id:
            raise NotFound("No such case for this patient.")
    scheduled = _moment(data, "scheduled_at")
    started = _moment(data, "started_at")
    ended = _moment(data, "ended_at")
    if ended <= started:
        raise Invalid("ended_at must be after started_at", code="invalid_live_session")
    if ended > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5):
        raise Invalid("a live session is recorded after it ended", code="invalid_live_session")
    participants = data.get("participants") or []
    if not isinstance(participants, list) or not all(
        isinstance(p, Mapping) and isinstance(p.get("name"), str) and p.get("name")
        for p in participants
    ):
        raise Invalid('participants is a list of {"name", "role"}', code="invalid_live_session")
    platform = str(data.get("platform") or "").strip()
    if not platform:
        raise Invalid("platform is required (what the session ran on)",
                      code="invalid_live_session")
    site_text = str(data.get("patient_site") or (case.location_site if case else "home"))
    try:
        site = OriginatingSite(site_text)
    except ValueError:
        raise Invalid("patient_site is home, school, office or other",
                      code="invalid_live_session") from None
    evaluation = data.get("evaluation") or {}
    if not isinstance(evaluation, Mapping):
        raise Invalid("evaluation must be an object", code="invalid_live_session")
    state = case.location_state if case else patient.state
    licensed = await db.scalar(
        select(func.count()).select_from(License).where(
            License.user_id == actor.user_id, License.state == state,
            License.expires_on >= local_date(started, "UTC"),
        )
    )
    if not licensed:
        raise Forbidden(
            f"You hold no current license in {state or 'the patient state'}, where the patient "
            "was.", code="not_licensed",
        )
    session = LiveSession(
        organization_id=patient.organization_id,
        patient_id=patient.id,
        case_id=case.id if case else None,
        dentist_id=actor.user_id,
        scheduled_at=scheduled,
        started_at=started,
        ended_at=ended,
        participants=[
            {"name": str(p["name"])[:200], "role": str(p.get("role", ""))[:100]}
            for p in participants
        ],
        platform=platform[:100],
        notes=str(data.get("notes") or ""),
        evaluation=dict(evaluation),
        patient_site=str(site),
        patient_state=state,
        created_by_id=actor.user_id,
    )
    db.add(session)
    await db.flush()
    await db.refresh(session)
    view = await load_view(db, LIVE_SESSIONS, session, store=True)
    await record_event(
        db, "live_session.created", ctx, organization_id=session.organization_id,
        subject_type="live_session", subject_id=session.id,
        details={"case_id": str(case.id) if case else None},
    )
    rebuild_after_commit(db, LIVE_SESSIONS.encounter_type, session.id, actor)
    return view
