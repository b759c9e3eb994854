"""The records desk (D9961): the API, the desk's pages, the patient's page and the public
download link. Thin: parse, one service call, convert. Routes are listed in docs/records.md.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.guards import require_roles
from portal.rendering import flash, page, redirect
from reviewer.access import patient_visibility
from reviewer.actor import Actor
from reviewer.errors import Invalid
from reviewer.records import services
from reviewer.records.services import Delivery, LinkOutcome, NewRequest, RequestView, Verification
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.models import Patient, Role

DESK = require_roles(Role.FRONT_DESK, Role.COORDINATOR)
PATIENT = require_roles(Role.PATIENT)
ASKERS = require_roles(Role.PATIENT, Role.FRONT_DESK, Role.COORDINATOR)
MAX_UPLOAD = services.MAX_DOCUMENT_BYTES + 64 * 1024
BACK_TO_REQUEST = {"back": "/records/{request_id}"}
"""Where a refused desk step goes back to (portal/errors.py)."""
ACTIONS = ("quote", "pay", "waive", "prepare", "check", "refuse", "extend")


def _json(who: Actor, view: RequestView) -> dict[str, Any]:
    return view.as_dict(staff=who.role != Role.PATIENT)


def _download_url(request: Request[Any, Any, Any], token: str) -> str:
    """Built from ``TOOTHLINE_PUBLIC_URL``, never from the request's Host: a forged Host
    would otherwise send the patient's link (and its token) to another site."""
    public_url: str = request.app.state.settings.server.public_url
    return f"{public_url}/records/download/{token}"


def _delivery_json(request: Request[Any, Any, Any], delivery: Delivery) -> dict[str, Any]:
    return {
        "download_url": _download_url(request, delivery.token) if delivery.token else None,
        "expires_at": delivery.expires_at.isoformat() if delivery.expires_at else None,
        "uses_left": delivery.uses_left,
        "request": delivery.view.as_dict(),
    }


async def _stream(db: AsyncSession, blobs: BlobStore, outcome: LinkOutcome) -> Stream:
    if outcome.refusal is not None:
        # The refusal is in the audit trail: keep it, even though the answer is an error.
        await db.commit()
        raise outcome.refusal
    assert outcome.key is not None
    reader = await blobs.open(outcome.key)
    headers = {
        "Content-Disposition": f'attachment; filename="{outcome.filename}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if outcome.size is not None:
        headers["Content-Length"] = str(outcome.size)
    return Stream(reader, media_type="application/zip", headers=headers)


def _date(value: Any, key: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"{key} is a date (YYYY-MM-DD).", code=f"invalid_{key}") from None


async def _document_from_form(
    request: Request[Any, Any, Any], db: AsyncSession, blobs: BlobStore, who: Actor,
    audit: AuditContext, request_id: uuid.UUID,
) -> Any:
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise Invalid("Send the paper as the multipart field 'file'.", code="file_required")
    data = await upload.read(services.MAX_DOCUMENT_BYTES + 1)
    return await services.add_document(
        db, blobs, who, audit, request_id, data,
        kind=str(form.get("kind") or "authorization"),
        expires_on=_date(form.get("expires_on"), "expires_on"),
        scope=str(form.get("scope") or ""),
    )


async def _step(
    db: AsyncSession, blobs: BlobStore, who: Actor, ctx: AuditContext, request_id: uuid.UUID,
    action: str, data: dict[str, Any],
) -> RequestView:
    text = str(data.get("reason") or data.get("note") or "")
    if action == "quote":
        return await services.quote(db, who, ctx, request_id)
    if action == "pay":
        return await services.pay(db, who, ctx, request_id)
    if action == "waive":
        return await services.waive(db, who, ctx, request_id, text)
    if action == "prepare":
        return await services.prepare(db, blobs, who, ctx, request_id)
    if action == "check":
        return await services.check(db, who, ctx, request_id, text)
    if action == "refuse":
        return await services.refuse(db, who, ctx, request_id, text)
    if action == "extend":
        return await services.extend(db, who, ctx, request_id, text)
    raise Invalid("Unknown step.", code="not_found")


# --- API -----------------------------------------------------------------------------------


class RecordsRequestApiController(Controller):
    path = "/records-requests"
    tags = ["records"]

    @post("/", guards=[ASKERS], status_code=201)
    async def create(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        data: JSONBody[dict[str, Any]],
    ) -> dict[str, Any]:
        req = await services.log_request(
            db_session, who, audit, NewRequest.from_dict(data)
        )
        view = await services.get_request(db_session, who, audit,
                                          req.id)
        return _json(who, view)

    @get("/", guards=[DESK])
    async def desk(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor],
        status: FromQuery[str] = "open",
    ) -> dict[str, Any]:
        views = await services.desk_list(db_session, who,
                                         open_only=status != "all")
        return {"requests": [
            {"id": str(v.request.id), "patient_id": str(v.request.patient_id),
             "status": v.request.status, "requester": v.request.requester_type,
             "effective_due_on": v.effective_due_on.isoformat(), "overdue": v.overdue,
             "days_left": v.days_left}
            for v in views
        ]}

    @get("/{request_id:uuid}", guards=[ASKERS])
    async def read(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        request_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        view = await services.get_request(db_session, who, audit,
                                          request_id)
        return _json(who, view)

    @post("/{request_id:uuid}/verify", guards=[DESK], status_code=200)
    async def verify(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        request_id: FromPath[uuid.UUID], data: JSONBody[dict[str, Any]],
    ) -> dict[str, Any]:
        view = await services.verify(db_session, who, audit,
                                     request_id, Verification.from_dict(data))
        return _json(who, view)

    @post("/{request_id:uuid}/documents", guards=[DESK], status_code=201,
          request_max_body_size=MAX_UPLOAD)
    async def upload(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        blobs: NamedDependency[BlobStore], request_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        document = await _document_from_form(request, db_session, blobs, who, audit, request_id)
        return {"id": str(document.id), "kind": document.kind,
                "content_type": document.content_type, "sha256": document.sha256,
                "size": document.size,
                "expires_on": document.expires_on.isoformat() if document.expires_on else None}

    @post("/{request_id:uuid}/deliver", guards=[DESK], status_code=200)
    async def deliver(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        request_id: FromPath[uuid.UUID], data: JSONBody[dict[str, Any] | None] = None,
    ) -> dict[str, Any]:
        delivery = await services.deliver(
            db_session, who, audit, request_id,
            method=str((data or {}).get("method") or ""),
        )
        return _delivery_json(request, delivery)

    @post("/{request_id:uuid}/{action:str}", guards=[DESK], status_code=200)
    async def step(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        blobs: NamedDependency[BlobStore], request_id: FromPath[uuid.UUID],
        action: FromPath[str],
        data: JSONBody[dict[str, Any] | None] = None,
    ) -> dict[str, Any]:
        view = await _step(db_session, blobs, who, audit, request_id, action, data or {})
        return _json(who, view)


class PatientRecordsApiController(Controller):
    path = "/patients"
    tags = ["records"]

    @get("/{patient_id:uuid}/records-requests", guards=[ASKERS])
    async def chart(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        patient_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        views = await services.patient_requests(db_session, who,
                                                audit, patient_id)
        return {"requests": [_json(who, v) for v in views]}


# --- pages ---------------------------------------------------------------------------------


def _form_payload(form: Any) -> dict[str, Any]:
    records: Any = "all"
    if form.get("records") == "selection":
        case_ids = [c for c in form.getall("case_ids") if c] if hasattr(form, "getall") else []
        records = {"from": form.get("from") or None, "to": form.get("to") or None,
                   "case_ids": case_ids,
                   "include_originals": bool(form.get("include_originals"))}
    return {
        "requester": form.get("requester") or "patient",
        "records": records,
        "format": form.get("format") or "electronic",
        "patient_id": form.get("patient_id") or None,
        "deliver_to": form.get("deliver_to") or "",
        "requester_name": form.get("requester_name") or "",
        "requester_contact": form.get("requester_contact") or "",
        "received_via": form.get("received_via") or None,
        "purpose": form.get("purpose") or None,
    }


async def _desk_detail(
    request: Request[Any, Any, Any], db: AsyncSession, who: Actor, audit: AuditContext,
    request_id: uuid.UUID, *, delivery: Delivery | None = None,
) -> Template:
    view = await services.get_request(db, who, audit, request_id)
    return page(
        request, "records/request.html",
        {"view": view, "scope_text": services.describe_scope(view.request.scope),
         "download_url": _download_url(request, delivery.token)
         if delivery and delivery.token else None},
        fragments={"records-history": "records/_records-history.html"},
    )


class RecordsDeskPageController(Controller):
    path = "/records"
    include_in_schema = False

    @get("/", guards=[DESK])
    async def desk(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor],
        status: FromQuery[str] = "open",
    ) -> Template:
        views = await services.desk_list(db_session, who,
                                         open_only=status != "all")
        return page(request, "records/desk.html", {"views": views, "status": status},
                    fragments={"records-list": "records/_records-list.html"})

    @get("/new", guards=[DESK])
    async def new(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor],
        patient_id: FromQuery[uuid.UUID | None] = None,
    ) -> Template:
        patients = (
            await db_session.scalars(
                select(Patient).where(patient_visibility(who))
                .order_by(Patient.last_name, Patient.first_name).limit(300)
            )
        ).all()
        return page(request, "records/new.html",
                    {"patients": patients, "patient_id": str(patient_id or "")})

    @post("/", guards=[DESK], status_code=303, opt={"back": "/records/new"})
    async def log(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
    ) -> Response[Any]:
        form = await request.form()
        req = await services.log_request(db_session, who, audit,
                                         NewRequest.from_dict(_form_payload(form)))
        flash(request, "Request logged. The 30-day clock has started.", "success")
        return redirect(request, f"/records/{req.id}")

    @get("/{request_id:uuid}", guards=[DESK])
    async def detail(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        request_id: FromPath[uuid.UUID],
    ) -> Template:
        return await _desk_detail(request, db_session, who, audit, request_id)

    @post("/{request_id:uuid}/verify", guards=[DESK], status_code=303, opt=BACK_TO_REQUEST)
    async def verify(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        request_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await request.form()
        await services.verify(db_session, who, audit, request_id,
                              Verification.from_dict(dict(form)))
        flash(request, "Identity and authority recorded.", "success")
        return redirect(request, f"/records/{request_id}")

    @post("/{request_id:uuid}/documents", guards=[DESK], status_code=303,
          request_max_body_size=MAX_UPLOAD, opt=BACK_TO_REQUEST)
    async def upload(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        blobs: NamedDependency[BlobStore], request_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await _document_from_form(request, db_session, blobs, who, audit, request_id)
        flash(request, "Document kept with the request.", "success")
        return redirect(request, f"/records/{request_id}")

    @post("/{request_id:uuid}/deliver", guards=[DESK], status_code=200, opt=BACK_TO_REQUEST)
    async def deliver(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        request_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await request.form()
        delivery = await services.deliver(db_session, who, audit, request_id,
                                          method=str(form.get("method") or ""))
        flash(request, "Released.", "success")
        # The link's secret is shown on this answer only (only its hash is kept).
        return await _desk_detail(request, db_session, who, audit, request_id,
                                  delivery=delivery)

    @post("/{request_id:uuid}/{action:str}", guards=[DESK], status_code=303,
          opt=BACK_TO_REQUEST)
    async def step(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        blobs: NamedDependency[BlobStore], request_id: FromPath[uuid.UUID],
        action: FromPath[str],
    ) -> Response[Any]:
        form = await request.form()
        await _step(db_session, blobs, who, audit, request_id, action, dict(form))
        flash(request, _DONE.get(action, "Done."), "success")
        return redirect(request, f"/records/{request_id}")

    @get("/download/{token:str}", opt={"public": True})
    async def download(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        audit: NamedDependency[AuditContext], blobs: NamedDependency[BlobStore],
        token: FromPath[str],
    ) -> Stream:
        """Public by token: the link itself is the credential (expiring, use-limited)."""
        outcome = await services.use_link(db_session, audit, token[:200])
        return await _stream(db_session, blobs, outcome)


_DONE = {
    "quote": "Fee told to the requester.",
    "pay": "Payment recorded; D9961 is on the patient's account.",
    "waive": "Fee waived.",
    "prepare": "Package prepared.",
    "check": "Package checked.",
    "refuse": "Request refused; the reason is on record.",
    "extend": "Extended by 30 days; the reason is on record.",
}


class PatientRecordsPageController(Controller):
    path = "/patient/records"
    include_in_schema = False

    @get("/", guards=[PATIENT])
    async def mine(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
    ) -> Template:
        views = await services.patient_requests(db_session, who,
                                                audit)
        return page(request, "records/patient.html", {"views": views},
                    fragments={"patient-requests": "records/_patient-requests.html"})

    @post("/", guards=[PATIENT], status_code=303, opt={"back": "/patient/records"})
    async def ask(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
    ) -> Response[Any]:
        form = await request.form()
        await services.log_request(
            db_session, who, audit,
            NewRequest.from_dict({**_form_payload(form), "requester": "patient",
                                  "patient_id": None, "deliver_to": "portal"}),
        )
        flash(request, "Your request was sent. The practice answers within 30 days.",
              "success")
        return redirect(request, "/patient/records")

    @get("/{request_id:uuid}/download", guards=[PATIENT])
    async def download(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        blobs: NamedDependency[BlobStore], request_id: FromPath[uuid.UUID],
    ) -> Stream:
        outcome = await services.patient_download(db_session, who,
                                                  audit, request_id)
        return await _stream(db_session, blobs, outcome)


PAGE_CONTROLLERS: list[type] = [RecordsDeskPageController, PatientRecordsPageController]
API_CONTROLLERS: list[type] = [RecordsRequestApiController, PatientRecordsApiController]
