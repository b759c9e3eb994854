"""The request step: logging a request (D9961) and reading requests — one, the desk's list,
a patient's own."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import patient_visibility
from reviewer.actor import Actor
from reviewer.errors import Forbidden, Invalid, NotFound
from reviewer.records import lifecycle
from reviewer.records.lifecycle import RecordsStatus
from reviewer.records.policy import (
    Format,
    Requester,
)
from reviewer.records.steps import (
    DESK_ROLES,
    RequestView,
    _audit,
    _history,
    _load,
    _now,
    _org,
    _require_desk,
    _utc,
    _view,
    request_visibility,
)
from storage.audit import AuditContext, record_event
from storage.models import (
    Patient,
    RecordsRequest,
    Role,
)

RECEIVED_VIA = frozenset({"in_person", "phone", "letter", "portal"})


# --- logging a request ---------------------------------------------------------------------


@dataclass(frozen=True)
class NewRequest:
    requester: Requester
    records: dict[str, Any]
    """``{"all": true}`` or ``{"from", "to", "case_ids", "include_originals"}`` (+ "purpose")."""
    format: Format
    patient_id: uuid.UUID | None = None
    deliver_to: str = ""
    requester_name: str = ""
    requester_contact: str = ""
    received_via: str | None = None
    received_at: dt.datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NewRequest:
        try:
            requester = Requester(str(data.get("requester", "")))
        except ValueError:
            raise Invalid(
                "requester is patient, representative, provider, payer or legal.",
                code="invalid_requester",
            ) from None
        try:
            fmt = Format(str(data.get("format", "")))
        except ValueError:
            raise Invalid("format is electronic, paper or media.", code="invalid_format") from None
        patient_id = _optional_uuid(data.get("patient_id"), "patient_id")
        received_at = None
        if data.get("received_at"):
            try:
                received_at = _utc(dt.datetime.fromisoformat(str(data["received_at"])))
            except ValueError:
                raise Invalid(
                    "received_at is an ISO date and time.", code="invalid_received_at"
                ) from None
        return cls(
            requester=requester,
            records=_parse_records(data.get("records", "all"), data.get("purpose")),
            format=fmt,
            patient_id=patient_id,
            deliver_to=str(data.get("deliver_to") or "")[:300],
            requester_name=str(data.get("requester_name") or "")[:200],
            requester_contact=str(data.get("requester_contact") or "")[:300],
            received_via=(str(data["received_via"]) if data.get("received_via") else None),
            received_at=received_at,
        )


def _optional_uuid(value: Any, key: str) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Invalid(f"{key} is not an id.", code=f"invalid_{key}") from None


def _day(value: Any, key: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise Invalid(f"records.{key} is a date (YYYY-MM-DD).", code="invalid_records") from None


def _parse_records(value: Any, purpose: Any) -> dict[str, Any]:
    extra = {"purpose": "own_use"} if purpose == "own_use" else {}
    if value == "all" or value is None:
        return {"all": True, **extra}
    if not isinstance(value, Mapping):
        raise Invalid('records is "all" or {"from", "to", "case_ids"}.', code="invalid_records")
    case_ids = value.get("case_ids") or []
    if not isinstance(case_ids, list):
        raise Invalid("records.case_ids is a list of case ids.", code="invalid_records")
    ids = [str(_optional_uuid(c, "case_id")) for c in case_ids if c]
    start, end = _day(value.get("from"), "from"), _day(value.get("to"), "to")
    if start and end and start > end:
        raise Invalid("records.from is after records.to.", code="invalid_records")
    if not (start or end or ids):
        raise Invalid('Say which records: "all", a date range or case ids.', code="invalid_records")
    return {
        "all": False,
        "from": start,
        "to": end,
        "case_ids": ids,
        "include_originals": bool(value.get("include_originals", False)),
        **extra,
    }


async def log_request(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    new: NewRequest,
    *,
    now: dt.datetime | None = None,
) -> RecordsRequest:
    """A patient asks for their own records; the desk logs anyone's request."""
    moment = _now(now)
    if actor.role == Role.PATIENT:
        patient_id = new.patient_id
        if patient_id is None:
            if len(actor.patient_ids) != 1:
                raise Invalid(
                    "Say which of your patients this is for (patient_id).", code="patient_required"
                )
            patient_id = next(iter(actor.patient_ids))
        if new.requester not in {Requester.PATIENT, Requester.REPRESENTATIVE}:
            raise Invalid("A patient asks for their own records.", code="invalid_requester")
        via, received_at = "portal", moment
        records = {k: v for k, v in new.records.items() if k != "purpose"}
        name = new.requester_name or actor.display_name or actor.email
        contact = new.requester_contact or actor.email
        deliver_to = new.deliver_to or "portal"
    elif actor.role in DESK_ROLES:
        if new.patient_id is None:
            raise Invalid(
                "Say which patient the records are of (patient_id).", code="patient_required"
            )
        patient_id = new.patient_id
        via = new.received_via or "in_person"
        if via not in RECEIVED_VIA:
            raise Invalid(
                "received_via is in_person, phone, letter or portal.", code="invalid_received_via"
            )
        received_at = new.received_at or moment
        if received_at > moment:
            raise Invalid("A request cannot be received in the future.", code="invalid_received_at")
        records, name, contact = new.records, new.requester_name, new.requester_contact
        deliver_to = new.deliver_to
        if new.requester is not Requester.PATIENT and not name.strip():
            raise Invalid(
                "Name the person or office asking (requester_name).", code="requester_name_required"
            )
    else:
        raise Forbidden("Your role cannot ask for copies of records.")
    patient = await db.scalar(
        select(Patient).where(Patient.id == patient_id, patient_visibility(actor))
    )
    if patient is None:
        raise NotFound("No such patient.")
    if not records.get("all"):
        await _check_case_ids(db, patient, records.get("case_ids") or [])
    org = await _org(db, patient.organization_id)
    req = RecordsRequest(
        organization_id=patient.organization_id,
        patient_id=patient.id,
        requester_type=str(new.requester),
        requester_name=name or (patient.full_name if new.requester is Requester.PATIENT else ""),
        requester_contact=contact,
        received_via=via,
        received_at=received_at,
        scope=records,
        format=str(new.format),
        deliver_to=deliver_to,
        status=str(RecordsStatus.RECEIVED),
        due_on=lifecycle.due_on(received_at, org.time_zone),
        history=[],
        created_by_id=actor.user_id,
    )
    _history(req, actor, "received", moment, f"received via {via}")
    db.add(req)
    await db.flush()
    await _audit(
        db,
        ctx,
        "records_request.logged",
        req,
        requester=req.requester_type,
        format=req.format,
        received_via=via,
    )
    return req


async def _check_case_ids(db: AsyncSession, patient: Patient, case_ids: Sequence[str]) -> None:
    from storage.models import Case

    if not case_ids:
        return
    wanted = {uuid.UUID(c) for c in case_ids}
    found = set(
        (
            await db.scalars(
                select(Case.id).where(
                    Case.id.in_(wanted),
                    Case.patient_id == patient.id,
                    Case.organization_id == patient.organization_id,
                )
            )
        ).all()
    )
    if found != wanted:
        raise NotFound("No such case for this patient.", code="case_not_found")



async def get_request(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    req = await _load(db, actor, request_id)
    await _audit(db, ctx, "records_request.viewed", req)
    return await _view(db, req, _now(now))


async def desk_list(
    db: AsyncSession,
    actor: Actor,
    *,
    open_only: bool = True,
    now: dt.datetime | None = None,
    limit: int = 200,
) -> list[RequestView]:
    """The desk's list: open requests by time left (overdue first)."""
    _require_desk(actor)
    query = select(RecordsRequest).where(request_visibility(actor))
    if open_only:
        query = query.where(RecordsRequest.status.in_([str(s) for s in lifecycle.OPEN_STATES]))
    rows = (await db.scalars(query.order_by(RecordsRequest.due_on).limit(limit))).all()
    moment = _now(now)
    views = [await _view(db, r, moment) for r in rows]
    return sorted(views, key=lambda v: (not lifecycle.is_open(v.request.status), v.time_left))


async def patient_requests(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    patient_id: uuid.UUID | None = None,
    *,
    now: dt.datetime | None = None,
) -> list[RequestView]:
    """A patient's requests (their page; or the desk's view of one patient's chart)."""
    query = select(RecordsRequest).where(request_visibility(actor))
    if patient_id is not None:
        query = query.where(RecordsRequest.patient_id == patient_id)
    elif actor.role != Role.PATIENT:
        raise Invalid("Say which patient.", code="patient_required")
    rows = (await db.scalars(query.order_by(RecordsRequest.received_at.desc()))).all()
    moment = _now(now)
    if rows:
        await record_event(
            db,
            "records_request.listed",
            ctx,
            organization_id=rows[0].organization_id,
            subject_type="patient",
            subject_id=rows[0].patient_id,
            details={"count": len(rows)},
        )
    return [await _view(db, r, moment) for r in rows]
