"""What every records-desk step shares: who may act, loading the request in the actor's scope,
its history, its audit events, the state machine — and :func:`begin`, the one helper for the
"load request, check who acts, transition, record, answer the view" pattern of every step."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import Forbidden, NotFound
from reviewer.records import lifecycle
from reviewer.records.lifecycle import RecordsAction, RecordsStatus, transition
from reviewer.records.policy import (
    Format,
    RecordsPolicy,
    Requester,
)
from storage.audit import AuditContext, record_event
from storage.models import (
    DownloadLink,
    Organization,
    Patient,
    RecordsDocument,
    RecordsRequest,
    Role,
    User,
)

DESK_ROLES = frozenset({Role.FRONT_DESK, Role.COORDINATOR})
D9961 = "D9961"


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


# --- scope ---------------------------------------------------------------------------------


def request_visibility(actor: Actor) -> ColumnElement[bool]:
    """Requests the actor may read."""
    if actor.role == Role.PATIENT:
        return RecordsRequest.patient_id.in_(actor.patient_ids) if actor.patient_ids else false()
    if actor.role in DESK_ROLES and actor.organization_ids:
        return RecordsRequest.organization_id.in_(actor.organization_ids)
    return false()


def _require_desk(actor: Actor) -> None:
    if actor.role not in DESK_ROLES:
        raise Forbidden("Only the front desk or a coordinator works the records desk.")


async def _load(db: AsyncSession, actor: Actor, request_id: uuid.UUID) -> RecordsRequest:
    found = await db.scalar(
        select(RecordsRequest).where(RecordsRequest.id == request_id, request_visibility(actor))
    )
    if found is None:
        raise NotFound("No such records request.")
    return found


async def _org(db: AsyncSession, organization_id: uuid.UUID) -> Organization:
    return await db.get_one(Organization, organization_id)


def policy_of(org: Organization) -> RecordsPolicy:
    return RecordsPolicy.from_dict(org.records_policy)


def _history(
    req: RecordsRequest, actor: Actor, action: str, now: dt.datetime, note: str = ""
) -> None:
    req.history = [
        *(req.history or []),
        {
            "at": _utc(now).isoformat(),
            "by": str(actor.user_id),
            "by_name": actor.display_name or actor.email,
            "role": actor.role,
            "action": action,
            "status": req.status,
            "note": note,
        },
    ]


async def _audit(
    db: AsyncSession, ctx: AuditContext, action: str, req: RecordsRequest, **details: Any
) -> None:
    await record_event(
        db,
        action,
        ctx,
        organization_id=req.organization_id,
        subject_type="records_request",
        subject_id=req.id,
        details={"status": req.status, **details},
    )


def _move(req: RecordsRequest, action: RecordsAction, policy: RecordsPolicy) -> None:
    req.status = str(transition(req.status, action, second_check=policy.second_check))



# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestView:
    request: RecordsRequest
    patient: Patient
    organization: Organization
    policy: RecordsPolicy
    documents: tuple[RecordsDocument, ...]
    links: tuple[DownloadLink, ...]
    now: dt.datetime
    allowed: tuple[str, ...] = field(default_factory=tuple)
    verified_by_name: str = ""
    """Who checked identity (the desk user's name), "" before or for old checks."""

    @property
    def effective_due_on(self) -> dt.date:
        return lifecycle.effective_due_on(self.request.due_on, self.request.extended_due_on)

    @property
    def time_left(self) -> dt.timedelta:
        return lifecycle.time_left(
            self.request.due_on, self.request.extended_due_on, self.organization.time_zone, self.now
        )

    @property
    def overdue(self) -> bool:
        return lifecycle.is_overdue(
            self.request.status,
            self.request.due_on,
            self.request.extended_due_on,
            self.organization.time_zone,
            self.now,
        )

    @property
    def days_left(self) -> int:
        return int(self.time_left.total_seconds() // 86400)

    @property
    def can_extend(self) -> bool:
        return (
            lifecycle.can_extend(
                self.request.status,
                self.request.due_on,
                self.request.extended_due_on,
                self.organization.time_zone,
                self.now,
            )
            is None
        )

    @property
    def downloadable(self) -> bool:
        """The patient may download the copy from their own page."""
        return (
            self.request.status == RecordsStatus.DELIVERED
            and self.request.format == Format.ELECTRONIC
            and self.request.requester_type in {Requester.PATIENT, Requester.REPRESENTATIVE}
            and any(_usable(link, self.now) for link in self.links)
        )

    def as_dict(self, *, staff: bool = True) -> dict[str, Any]:
        r = self.request
        out: dict[str, Any] = {
            "id": str(r.id),
            "patient_id": str(r.patient_id),
            "organization_id": str(r.organization_id),
            "status": r.status,
            "requester": r.requester_type,
            "requester_name": r.requester_name,
            "received_via": r.received_via,
            "received_at": _utc(r.received_at).isoformat(),
            "records": _records_out(r.scope),
            "format": r.format,
            "deliver_to": r.deliver_to,
            "due_on": r.due_on.isoformat(),
            "extended_due_on": r.extended_due_on.isoformat() if r.extended_due_on else None,
            "extension_reason": r.extension_reason,
            "effective_due_on": self.effective_due_on.isoformat(),
            "overdue": self.overdue,
            "fee_cents": r.fee_cents,
            "fee_basis": r.fee_basis,
            "refused_reason": r.refused_reason,
            "allowed_actions": list(self.allowed),
            "downloadable": self.downloadable,
        }
        if staff:
            out.update(
                {
                    "requester_contact": r.requester_contact,
                    "identity_method": r.identity_method,
                    "identity_document_type": r.identity_document_type,
                    "id_document_type": r.id_document_type,
                    "id_document_last4": r.id_document_last4,
                    "verified_by_id": str(r.verified_by_id) if r.verified_by_id else None,
                    "verified_by_name": self.verified_by_name or None,
                    "verified_at": _utc(r.verified_at).isoformat() if r.verified_at else None,
                    "delivery_method": r.delivery_method,
                    "authority": r.authority,
                    "authorization_document_id": (
                        str(r.authorization_document_id) if r.authorization_document_id else None
                    ),
                    "package": (
                        {"sha256": r.package_sha256, "size": r.package_size}
                        if r.package_key
                        else None
                    ),
                    "documents": [
                        {
                            "id": str(d.id),
                            "kind": d.kind,
                            "content_type": d.content_type,
                            "sha256": d.sha256,
                            "size": d.size,
                            "expires_on": d.expires_on.isoformat() if d.expires_on else None,
                            "scope": d.scope,
                        }
                        for d in self.documents
                    ],
                    "links": [
                        {
                            "id": str(link.id),
                            "expires_at": _utc(link.expires_at).isoformat(),
                            "uses_left": link.uses_left,
                            "revoked": link.revoked_at is not None,
                        }
                        for link in self.links
                    ],
                    "history": r.history or [],
                }
            )
        return out


def _records_out(scope: Mapping[str, Any]) -> Any:
    if scope.get("all"):
        return "all"
    return {k: scope.get(k) for k in ("from", "to", "case_ids", "include_originals")}


def describe_scope(scope: Mapping[str, Any]) -> str:
    if scope.get("all"):
        text = "all records (case reviews, live-session records and care coordination)"
    else:
        parts = []
        if scope.get("from") or scope.get("to"):
            parts.append(
                f"from {scope.get('from') or 'the first record'} to {scope.get('to') or 'today'}"
            )
        if scope.get("case_ids"):
            parts.append(f"{len(scope['case_ids'])} named case(s)")
        text = "records " + " and ".join(parts)
    if scope.get("include_originals"):
        text += ", with the original image files"
    if scope.get("purpose") == "own_use":
        text += " (for the practice's own use)"
    return text


async def _view(db: AsyncSession, req: RecordsRequest, now: dt.datetime) -> RequestView:
    org = await _org(db, req.organization_id)
    policy = policy_of(org)
    patient = await db.get_one(Patient, req.patient_id)
    documents = (
        await db.scalars(
            select(RecordsDocument)
            .where(RecordsDocument.request_id == req.id)
            .order_by(RecordsDocument.created_at)
        )
    ).all()
    links = (
        await db.scalars(
            select(DownloadLink)
            .where(DownloadLink.request_id == req.id)
            .order_by(DownloadLink.created_at.desc())
        )
    ).all()
    allowed = [
        str(a) for a in lifecycle.allowed_actions(req.status, second_check=policy.second_check)
    ]
    if req.fee_cents == 0 and "pay" in allowed:
        allowed.remove("pay")
    checker = await db.get(User, req.verified_by_id) if req.verified_by_id else None
    return RequestView(
        req, patient, org, policy, tuple(documents), tuple(links), now, tuple(allowed),
        (checker.display_name or checker.email) if checker else "",
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _usable(link: DownloadLink, now: dt.datetime) -> bool:
    return link.revoked_at is None and link.uses_left > 0 and _utc(link.expires_at) > now


# --- the step helper -------------------------------------------------------------------------


@dataclass
class Step:
    """One desk step on one request: loaded in the actor's scope, with its organization's
    policy and the step's moment; :meth:`move` transitions it, :meth:`history` and
    :meth:`audit` record it, :meth:`view` answers."""

    db: AsyncSession
    actor: Actor
    ctx: AuditContext
    req: RecordsRequest
    org: Organization
    moment: dt.datetime

    @property
    def policy(self) -> RecordsPolicy:
        return policy_of(self.org)

    def move(self, action: RecordsAction) -> None:
        _move(self.req, action, self.policy)

    def history(self, action: str, note: str = "") -> None:
        _history(self.req, self.actor, action, self.moment, note)

    async def audit(self, action: str, **details: Any) -> None:
        await _audit(self.db, self.ctx, action, self.req, **details)

    async def view(self) -> RequestView:
        return await _view(self.db, self.req, self.moment)


async def begin(
    db: AsyncSession, actor: Actor, ctx: AuditContext, request_id: uuid.UUID,
    now: dt.datetime | None,
) -> Step:
    """The start of every desk step: desk roles only, the request in scope, its organization."""
    _require_desk(actor)
    moment = _now(now)
    req = await _load(db, actor, request_id)
    return Step(db, actor, ctx, req, await _org(db, req.organization_id), moment)

