"""The records desk (D9961): log, verify, quote, pay or waive, prepare, check, deliver, refuse,
extend; the download links; the patient's own requests.

Every function takes the acting :class:`reviewer.actor.Actor` and scopes its queries at the
source: front desk and coordinators reach their organizations' requests, a patient login the
requests for its own patients; anything else is :class:`NotFound` (another organization's
records are never released). Every step is written to the request's history and audited.
``now`` is injectable so the clock can be tested without waiting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anyio
from sqlalchemy import ColumnElement, false, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import patient_visibility
from reviewer.actor import Actor
from reviewer.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from reviewer.records import lifecycle
from reviewer.records.lifecycle import RecordsAction, RecordsStatus, transition
from reviewer.records.pdf_check import check_pdf
from reviewer.records.policy import (
    THIRD_PARTIES,
    Format,
    RecordsPolicy,
    Requester,
    quote_fee,
)
from storage.audit import AuditContext, record_event
from storage.blobs import BlobStore, new_blob_key
from storage.media import MediaRefused, sniff
from storage.models import (
    DownloadLink,
    LedgerEntry,
    Organization,
    Patient,
    RecordsDocument,
    RecordsRequest,
    Role,
)

__all__ = [
    "DESK_ROLES",
    "Delivery",
    "LinkOutcome",
    "NewRequest",
    "RequestView",
    "add_document",
    "check",
    "deliver",
    "desk_list",
    "extend",
    "get_request",
    "log_request",
    "patient_download",
    "patient_requests",
    "pay",
    "prepare",
    "quote",
    "refuse",
    "use_link",
    "verify",
    "waive",
]

DESK_ROLES = frozenset({Role.FRONT_DESK, Role.COORDINATOR})
RECEIVED_VIA = frozenset({"in_person", "phone", "letter", "portal"})
DOCUMENT_KINDS = frozenset({"authorization", "letter", "identity_note", "other"})
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
IMAGE_DOCUMENTS = frozenset({"jpeg", "png", "tiff", "heif", "webp"})
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
        text = "all records"
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
    return RequestView(
        req, patient, org, policy, tuple(documents), tuple(links), now, tuple(allowed)
    )


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


# --- documents -----------------------------------------------------------------------------


def sniff_document(data: bytes) -> str:
    """The content type of a PDF (by its magic bytes) or an accepted image; else Invalid."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    try:
        kind = sniff(data[:512])
    except MediaRefused as exc:
        raise Invalid(
            "Upload the paper as a PDF or a picture (JPEG, PNG, TIFF, HEIC, WebP).",
            code="unsupported_type",
        ) from exc
    if kind not in IMAGE_DOCUMENTS:
        raise Invalid(
            "Upload the paper as a PDF or a picture (JPEG, PNG, TIFF, HEIC, WebP).",
            code="unsupported_type",
        )
    from storage.media import FORMATS

    return FORMATS[kind].content_type


async def add_document(
    db: AsyncSession,
    blobs: BlobStore,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    data: bytes,
    *,
    kind: str = "authorization",
    expires_on: dt.date | None = None,
    scope: str = "",
) -> RecordsDocument:
    """Keep a paper with the request (a signed authorization with its expiry and scope)."""
    _require_desk(actor)
    req = await _load(db, actor, request_id)
    if kind not in DOCUMENT_KINDS:
        raise Invalid("kind is authorization, letter, identity_note or other.", code="invalid_kind")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise Invalid(
            f"A document is at most {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB.", code="too_large"
        )
    content_type = sniff_document(data)
    if content_type == "application/pdf":
        await anyio.to_thread.run_sync(check_pdf, data)
    key = new_blob_key("records/documents")
    await blobs.put(key, data, content_type=content_type)
    # Blob first, then the row: a crash in between leaves an unreferenced blob (swept).
    document = RecordsDocument(
        request_id=req.id,
        kind=kind,
        blob_key=key,
        content_type=content_type,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        expires_on=expires_on,
        scope=scope[:2000],
        uploaded_by_id=actor.user_id,
    )
    db.add(document)
    await db.flush()
    await _audit(
        db,
        ctx,
        "records_document.uploaded",
        req,
        document_id=str(document.id),
        kind=kind,
        content_type=content_type,
    )
    return document


# --- verify, fee, pay, waive ----------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    identity_method: str
    document_type: str
    authority: str
    authorization_document_id: uuid.UUID | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verification:
        return cls(
            identity_method=str(data.get("identity_method") or "").strip()[:64],
            document_type=str(data.get("document_type") or "").strip()[:64],
            authority=str(data.get("authority") or "").strip()[:200],
            authorization_document_id=_optional_uuid(
                data.get("authorization_document_id"), "authorization_document_id"
            ),
        )


async def verify(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    check: Verification,
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    """Record the identity check and the requester's authority."""
    _require_desk(actor)
    moment = _now(now)
    req = await _load(db, actor, request_id)
    org = await _org(db, req.organization_id)
    missing = [
        k
        for k, v in (
            ("identity_method", check.identity_method),
            ("document_type", check.document_type),
            ("authority", check.authority),
        )
        if not v
    ]
    if missing:
        raise Invalid(f"Record {', '.join(missing)}.", code="verification_incomplete")
    if req.requester_type in THIRD_PARTIES and check.authorization_document_id is None:
        raise Conflict(
            "A third party needs the patient's signed authorization on file: upload it and "
            "name it (authorization_document_id).",
            code="authorization_required",
        )
    if check.authorization_document_id is not None:
        document = await db.scalar(
            select(RecordsDocument).where(
                RecordsDocument.id == check.authorization_document_id,
                RecordsDocument.request_id == req.id,
            )
        )
        if document is None or document.kind != "authorization":
            raise NotFound("No such authorization for this request.", code="document_not_found")
        today = lifecycle.local_date(moment, org.time_zone)
        if document.expires_on is not None and document.expires_on < today:
            raise Conflict("The authorization has expired.", code="authorization_expired")
    _move(req, RecordsAction.VERIFY, policy_of(org))
    req.identity_method = check.identity_method
    req.identity_document_type = check.document_type
    req.authority = check.authority
    req.authorization_document_id = check.authorization_document_id
    _history(
        req,
        actor,
        "verified",
        moment,
        f"identity: {check.identity_method} ({check.document_type}); authority: {check.authority}",
    )
    await _audit(
        db,
        ctx,
        "records_request.verified",
        req,
        identity_method=check.identity_method,
        authorization=bool(check.authorization_document_id),
    )
    return await _view(db, req, moment)


async def _selection(db: AsyncSession, req: RecordsRequest, org: Organization) -> list[Any]:
    from reviewer.records.assemble import select_cases

    return await select_cases(db, req, org)


async def quote(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    """Tell the fee before anything is prepared (from the organization's policy).

    A request that costs nothing goes on to ``waived`` at once (no fee to pay).
    """
    _require_desk(actor)
    moment = _now(now)
    req = await _load(db, actor, request_id)
    org = await _org(db, req.organization_id)
    policy = policy_of(org)
    _move(req, RecordsAction.QUOTE, policy)
    from reviewer.records.assemble import count_items

    items = count_items(await _selection(db, req, org), req.scope)
    fee = quote_fee(
        policy, req.requester_type, req.format, items, own_use=req.scope.get("purpose") == "own_use"
    )
    req.fee_cents, req.fee_basis = fee.cents, fee.basis[:200]
    _history(req, actor, "fee_quoted", moment, f"{fee.dollars}: {fee.basis}")
    await _audit(db, ctx, "records_request.fee_quoted", req, fee_cents=fee.cents, items=items)
    if fee.cents == 0:
        _move(req, RecordsAction.WAIVE, policy)
        _history(req, actor, "waived", moment, "no fee")
        await _audit(db, ctx, "records_request.waived", req, reason="no_fee")
    return await _view(db, req, moment)


async def pay(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    """The fee was paid: D9961 and the fee go on the patient's account."""
    _require_desk(actor)
    moment = _now(now)
    req = await _load(db, actor, request_id)
    org = await _org(db, req.organization_id)
    if not req.fee_cents:
        raise Conflict("There is no fee to pay on this request.", code="no_fee")
    _move(req, RecordsAction.PAY, policy_of(org))
    entry = None
    if req.scope.get("purpose") != "own_use":
        entry = LedgerEntry(
            organization_id=req.organization_id,
            patient_id=req.patient_id,
            code=D9961,
            description="Duplicate/copy of patient's records",
            amount=Decimal(req.fee_cents) / 100,
            service_date=lifecycle.local_date(moment, org.time_zone),
            source_type="records_request",
            source_id=req.id,
        )
        db.add(entry)
        await db.flush()
    _history(req, actor, "paid", moment, f"${req.fee_cents / 100:.2f} paid")
    await _audit(
        db,
        ctx,
        "records_request.paid",
        req,
        fee_cents=req.fee_cents,
        ledger_entry_id=str(entry.id) if entry else None,
    )
    return await _view(db, req, moment)


async def waive(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    reason: str = "",
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    _require_desk(actor)
    moment = _now(now)
    req = await _load(db, actor, request_id)
    org = await _org(db, req.organization_id)
    _move(req, RecordsAction.WAIVE, policy_of(org))
    _history(req, actor, "waived", moment, reason.strip()[:500] or "fee waived")
    await _audit(db, ctx, "records_request.waived", req, reason="waived_by_staff")
    return await _view(db, req, moment)


# --- prepare, check ------------------------------------------------------------------------


async def prepare(
    db: AsyncSession,
    blobs: BlobStore,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    """Assemble the package from the stored records: exactly what was asked, every file
    with its sha256, a cover sheet and an index."""
    from reviewer.records.assemble import assemble

    _require_desk(actor)
    moment = _now(now)
    req = await _load(db, actor, request_id)
    org = await _org(db, req.organization_id)
    _move(req, RecordsAction.PREPARE, policy_of(org))
    patient = await db.get_one(Patient, req.patient_id)
    built = await assemble(db, blobs, req, org, patient, moment, describe_scope(req.scope))
    key = new_blob_key("records/packages")
    await blobs.put(key, built.zip_bytes, content_type="application/zip")
    # A package prepared before stays in the store until this change has committed: the
    # sweep (storage.blobs.sweep) removes it then. Deleting it here would leave the row
    # pointing at nothing if this transaction rolled back.
    req.package_key, req.package_sha256 = key, built.sha256
    req.package_size = len(built.zip_bytes)
    req.prepared_by_id = actor.user_id
    files = len(built.index["files"])
    _history(req, actor, "prepared", moment, f"{files} file(s), sha256 {built.sha256}")
    await _audit(db, ctx, "records_request.prepared", req, files=files, sha256=built.sha256)
    return await _view(db, req, moment)


async def check(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    note: str = "",
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    """The second check, by another staff member than the one who prepared the package."""
    _require_desk(actor)
    moment = _now(now)
    req = await _load(db, actor, request_id)
    org = await _org(db, req.organization_id)
    if req.prepared_by_id == actor.user_id:
        raise Conflict(
            "The second check is done by another staff member.", code="same_staff_member"
        )
    _move(req, RecordsAction.CHECK, policy_of(org))
    req.checked_by_id = actor.user_id
    _history(req, actor, "checked", moment, note.strip()[:500])
    await _audit(db, ctx, "records_request.checked", req)
    return await _view(db, req, moment)


# --- deliver, refuse, extend ---------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    view: RequestView
    token: str | None
    """The download link's secret (shown once); None for paper and media."""
    expires_at: dt.datetime | None
    uses_left: int | None


async def deliver(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    *,
    method: str = "",
    now: dt.datetime | None = None,
) -> Delivery:
    """Release the copy: a download link (electronic) or a record of paper/media sent.

    Conflict ``not_verified`` until identity and authority are recorded; Conflict
    ``invalid_transition`` before the package is ready (prepared, and checked where asked).
    """
    _require_desk(actor)
    moment = _now(now)
    req = await _load(db, actor, request_id)
    org = await _org(db, req.organization_id)
    policy = policy_of(org)
    if not (req.identity_method and req.identity_document_type and req.authority):
        raise Conflict(
            "Identity and authority must be verified before anything is released.",
            code="not_verified",
        )
    if req.requester_type in THIRD_PARTIES and req.authorization_document_id is None:
        raise Conflict(
            "A third party needs the patient's signed authorization on file.", code="not_verified"
        )
    _move(req, RecordsAction.DELIVER, policy)
    if req.package_key is None:  # cannot happen through the state machine
        raise Conflict("The package is not prepared.", code="invalid_transition")
    token: str | None = None
    expires_at: dt.datetime | None = None
    uses: int | None = None
    if req.format == Format.ELECTRONIC:
        token = secrets.token_urlsafe(32)
        expires_at = moment + dt.timedelta(days=policy.link_days)
        uses = policy.link_uses
        link = DownloadLink(
            request_id=req.id, token_hash=_hash(token), expires_at=expires_at, uses_left=uses
        )
        db.add(link)
        await db.flush()
        note = f"download link, {uses} use(s) until {expires_at.isoformat()}"
        details: dict[str, Any] = {"link_id": str(link.id), "uses": uses}
    else:
        note = method.strip()[:300] or (
            "printed and handed over" if req.format == Format.PAPER else "media mailed"
        )
        details = {"format": req.format}
    _history(req, actor, "delivered", moment, note)
    await _audit(db, ctx, "records_request.delivered", req, **details)
    return Delivery(await _view(db, req, moment), token, expires_at, uses)


async def refuse(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    _require_desk(actor)
    moment = _now(now)
    if not reason.strip():
        raise Invalid("Give the reason for the refusal, in writing.", code="reason_required")
    req = await _load(db, actor, request_id)
    org = await _org(db, req.organization_id)
    _move(req, RecordsAction.REFUSE, policy_of(org))
    req.refused_reason = reason.strip()[:4000]
    _history(req, actor, "refused", moment, req.refused_reason)
    await _audit(db, ctx, "records_request.refused", req)
    return await _view(db, req, moment)


async def extend(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    """The one 30-day extension, with a written reason, before the first due date passes."""
    _require_desk(actor)
    moment = _now(now)
    if not reason.strip():
        raise Invalid("Give the reason for the extension, in writing.", code="reason_required")
    req = await _load(db, actor, request_id)
    org = await _org(db, req.organization_id)
    why_not = lifecycle.can_extend(
        req.status, req.due_on, req.extended_due_on, org.time_zone, moment
    )
    if why_not:
        raise Conflict(why_not, code="extension_not_allowed")
    req.extended_due_on = lifecycle.extended_due_on(req.due_on)
    req.extension_reason = reason.strip()[:4000]
    _history(
        req,
        actor,
        "extended",
        moment,
        f"due {req.extended_due_on.isoformat()}: {req.extension_reason}",
    )
    await _audit(db, ctx, "records_request.extended", req, due_on=req.extended_due_on.isoformat())
    return await _view(db, req, moment)


# --- download links ------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _usable(link: DownloadLink, now: dt.datetime) -> bool:
    return link.revoked_at is None and link.uses_left > 0 and _utc(link.expires_at) > now


class LinkRefused(DomainError):
    code = "link_refused"
    kind = "not_found"


@dataclass(frozen=True)
class LinkOutcome:
    """A download allowed (``key`` set) or refused (``refusal`` set, already audited: the
    caller commits before answering so the refusal stays in the audit trail)."""

    key: str | None = None
    size: int | None = None
    filename: str = ""
    uses_left: int | None = None
    refusal: DomainError | None = None


async def _consume(
    db: AsyncSession,
    ctx: AuditContext,
    link: DownloadLink | None,
    req: RecordsRequest | None,
    now: dt.datetime,
    via: str,
) -> LinkOutcome:
    reason = None
    if link is None or req is None:
        reason = "unknown"
    elif link.revoked_at is not None:
        reason = "revoked"
    elif _utc(link.expires_at) <= now:
        reason = "expired"
    elif link.uses_left <= 0:
        reason = "used_up"
    elif req.status != RecordsStatus.DELIVERED or req.package_key is None:
        reason = "not_delivered"
    if reason is None:
        assert link is not None and req is not None
        # One guarded statement: two simultaneous uses of the last one cannot both win.
        result = await db.execute(
            update(DownloadLink)
            .where(
                DownloadLink.id == link.id,
                DownloadLink.uses_left > 0,
                DownloadLink.expires_at > now,
                DownloadLink.revoked_at.is_(None),
            )
            .values(uses_left=DownloadLink.uses_left - 1)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            reason = "used_up"
    if reason is not None:
        await record_event(
            db,
            "records_link.refused",
            ctx,
            organization_id=req.organization_id if req else None,
            subject_type="records_request" if req else None,
            subject_id=req.id if req else None,
            details={"reason": reason, "via": via, "link_id": str(link.id) if link else None},
        )
        message = {
            "unknown": "This download link is not valid.",
            "revoked": "This download link was withdrawn.",
            "expired": "This download link has expired. Ask the practice for a new one.",
            "used_up": "This download link was used as many times as allowed. Ask the "
            "practice for a new one.",
            "not_delivered": "These records are not released.",
        }[reason]
        error: DomainError = (
            NotFound(message, code="link_not_found")
            if reason == "unknown"
            else Conflict(message, code=f"link_{reason}")
        )
        return LinkOutcome(refusal=error)
    assert link is not None and req is not None
    await db.refresh(link)
    await record_event(
        db,
        "records_package.downloaded",
        ctx,
        organization_id=req.organization_id,
        subject_type="records_request",
        subject_id=req.id,
        details={
            "link_id": str(link.id),
            "uses_left": link.uses_left,
            "via": via,
            "sha256": req.package_sha256,
        },
    )
    assert req.package_key is not None
    return LinkOutcome(
        key=req.package_key,
        size=req.package_size,
        filename=f"records-{str(req.id)[:8]}.zip",
        uses_left=link.uses_left,
    )


async def use_link(
    db: AsyncSession, ctx: AuditContext, token: str, *, now: dt.datetime | None = None
) -> LinkOutcome:
    """The public download by token: every use, allowed or refused, is audited."""
    moment = _now(now)
    link = await db.scalar(select(DownloadLink).where(DownloadLink.token_hash == _hash(token)))
    req = await db.get(RecordsRequest, link.request_id) if link else None
    return await _consume(db, ctx, link, req, moment, "link")


async def patient_download(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    *,
    now: dt.datetime | None = None,
) -> LinkOutcome:
    """The patient downloads their copy from their own page: it uses the request's link."""
    if actor.role != Role.PATIENT:
        raise Forbidden("This download is for the patient.")
    moment = _now(now)
    req = await _load(db, actor, request_id)
    if req.requester_type not in {Requester.PATIENT, Requester.REPRESENTATIVE}:
        raise NotFound("No such records request.")
    link = await db.scalar(
        select(DownloadLink)
        .where(DownloadLink.request_id == req.id)
        .order_by(DownloadLink.created_at.desc())
        .limit(1)
    )
    return await _consume(db, ctx, link, req, moment, "patient_page")
