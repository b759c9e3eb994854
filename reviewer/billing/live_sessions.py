"""Live (synchronous, D9995) sessions: the dentist records one after it ended, then signs it.

Its billing row (the proposed lines) is stored with it; its documentation PDF is built after
the commit (:mod:`reviewer.billing.packages`). A session is *documented* with at least one
participant, where the patient was (site and state, recorded on the session: a linked case's
are never taken), findings and a duration; only a documented session can be signed, and only a
signed one can be marked ready to bill (:func:`reviewer.billing.lines.mark_ready`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
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
from reviewer.errors import Conflict, Forbidden, Invalid, NotFound, Unprocessable
from reviewer.evaluation.services import AttestationRequired, BadPassword, PasswordCheck
from storage.audit import AuditContext, record_event
from storage.models import Case, License, LiveSession, Patient, Role, User

LIVE_ATTESTATION = (
    "I held this live session with the patient and this record of it is accurate and complete."
)


class SessionUndocumented(Unprocessable):
    """Signing refused: the record lacks what a D9995 claim needs (``missing`` names it)."""

    code = "session_undocumented"

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            "The session record is not complete; record first: " + ", ".join(missing) + "."
        )
        self.missing = missing


def missing_documentation(session: LiveSession) -> list[str]:
    """What the session record still lacks before it can be signed (empty: documented)."""
    findings = str((session.evaluation or {}).get("findings") or "").strip()
    present = {
        "participants": bool(session.participants),
        "patient_site": bool(session.patient_site),
        "patient_state": bool(session.patient_state),
        "findings": bool(findings),
        "duration": session.ended_at > session.started_at,
    }
    return [name for name, ok in present.items() if not ok]


def _state(data: Mapping[str, Any], patient: Patient) -> str:
    """Where the patient was during the session; else the patient's own state."""
    value = data.get("patient_state")
    if value is None or value == "":
        return (patient.state or "").upper()
    text = str(value).strip().upper()
    if len(text) != 2 or not text.isalpha():
        raise Invalid("patient_state is a 2-letter state code, e.g. CA",
                      code="invalid_live_session")
    return text


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
    (home | school | office | other; not recorded when omitted: the session then cannot be
    signed), ``patient_state`` (2 letters, where the patient was; default the patient's own
    state, never a linked case's: the license check uses it) and ``evaluation``
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
    site_text = str(data.get("patient_site") or "")
    try:
        site = str(OriginatingSite(site_text)) if site_text else ""
    except ValueError:
        raise Invalid("patient_site is home, school, office or other",
                      code="invalid_live_session") from None
    evaluation = data.get("evaluation") or {}
    if not isinstance(evaluation, Mapping):
        raise Invalid("evaluation must be an object", code="invalid_live_session")
    state = _state(data, patient)
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
        patient_site=site,
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


def _content_sha256(session: LiveSession, signed_at: dt.datetime) -> str:
    """The hash the signature covers: the documented content, who signed, which session, when."""
    payload = {
        "live_session_id": str(session.id), "dentist_id": str(session.dentist_id),
        "signed_at": signed_at.isoformat(), "attestation": LIVE_ATTESTATION,
        "patient_id": str(session.patient_id), "patient_site": session.patient_site,
        "patient_state": session.patient_state, "scheduled_at": session.scheduled_at.isoformat(),
        "started_at": session.started_at.isoformat(), "ended_at": session.ended_at.isoformat(),
        "participants": session.participants, "platform": session.platform,
        "notes": session.notes, "evaluation": session.evaluation,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def sign_live_session(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    session_id: uuid.UUID,
    *,
    password: str,
    attest: bool,
    check_password: PasswordCheck,
    now: dt.datetime,
) -> EncounterView:
    """The dentist who held the session signs its record: attestation required, password
    re-checked (:class:`BadPassword`, counted by the portal's sign-in throttle), the record
    documented (422 ``session_undocumented`` naming what is missing); once only (409
    ``already_signed``). Audited; the D9995 package with the signature is built after the
    commit."""
    if actor.role != Role.DENTIST or not actor.organization_ids:
        raise Forbidden("Only the dentist who held a live session signs it.")
    session = await db.scalar(
        select(LiveSession).where(
            LiveSession.id == session_id,
            LiveSession.organization_id.in_(actor.organization_ids),
            LiveSession.dentist_id == actor.user_id,
        )
    )
    if session is None:
        raise NotFound("No such live session.")
    if session.signed_at is not None:
        raise Conflict("This live session is signed already.", code="already_signed")
    if not attest:
        raise AttestationRequired(f"Confirm the attestation: {LIVE_ATTESTATION}")
    signer = await db.get(User, actor.user_id)
    stored_hash = signer.password_hash if signer is not None and signer.is_active else None
    if not await check_password(stored_hash, password):  # the same check as evaluations
        raise BadPassword("That password is not right.")
    missing = missing_documentation(session)
    if missing:
        raise SessionUndocumented(missing)
    session.signed_at = now
    session.signed_by_id = actor.user_id
    session.attestation = LIVE_ATTESTATION
    session.content_sha256 = _content_sha256(session, now)
    await db.flush()
    await record_event(
        db, "live_session.signed", ctx, organization_id=session.organization_id,
        subject_type="live_session", subject_id=session.id,
        details={"content_sha256": session.content_sha256},
    )
    rebuild_after_commit(db, LIVE_SESSIONS.encounter_type, session.id, actor)
    return await load_view(db, LIVE_SESSIONS, session, store=True)
