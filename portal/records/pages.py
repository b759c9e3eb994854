"""The records desk's pages, the patient's page and the public download link (routes in
docs/records.md). A refused step goes back to the request's page with the message flashed
(``opt={"back": ...}``, portal/errors.py)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery
from litestar.response import Stream, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.records import shared
from portal.rendering import flash, page, redirect
from portal.requests import ActorDep, AnyRequest, AuditDep, BlobsDep, DbDep
from reviewer.access import patient_visibility
from reviewer.actor import Actor
from reviewer.labels import DELIVERY_METHODS, ID_DOCUMENT_TYPES
from reviewer.records import services
from reviewer.records.services import Delivery, LinkOutcome, NewRequest
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.models import Patient

BACK_TO_REQUEST = {"back": "/records/{request_id}"}
"""Where a refused desk step goes back to (portal/errors.py)."""


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


async def _desk_detail(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext,
    request_id: uuid.UUID, *, delivery: Delivery | None = None,
) -> Template:
    view = await services.get_request(db, who, audit, request_id)
    return page(
        request, "records/request.html",
        {"view": view, "scope_text": services.describe_scope(view.request.scope),
         "id_document_types": list(ID_DOCUMENT_TYPES.items()),
         "delivery_methods": [(str(m), DELIVERY_METHODS[m]) for m in view.policy.delivery_methods],
         "download_url": shared.download_url(request, delivery.token) if delivery else None},
        fragments={"records-history": "records/_records-history.html"},
    )


def _step_page(step: shared.Step) -> HTTPRouteHandler:
    """``POST /records/{id}/<action>`` for one of ``shared.STEPS``: 303 back to the request."""

    async def handler(
        self: Controller, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep, request_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        text = ""
        if step.text:
            form = await request.form()
            text = str(form.get("reason") or form.get("note") or "")
        await step.run(shared.OnRequest(db_session, blobs, who, audit, request_id,
                                        shared.public_url(request)), text)
        flash(request, step.done, "success")
        return redirect(request, f"/records/{request_id}")

    handler.__name__ = handler.__qualname__ = step.action
    return post(shared.STEP_PATH + step.action, status_code=303, opt=BACK_TO_REQUEST)(handler)


class RecordsDeskPageController(Controller):
    path = "/records"
    include_in_schema = False

    @get("/", guards=[shared.STAFF])
    async def desk(
        self, request: AnyRequest, db_session: DbDep,
        who: ActorDep, status: FromQuery[str] = "open",
    ) -> Template:
        views = await services.desk_list(db_session, who, open_only=status != "all")
        return page(request, "records/desk.html", {"views": views, "status": status},
                    fragments={"records-list": "records/_records-list.html"})

    @get("/new", guards=[shared.STAFF])
    async def new(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
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

    @post("/", guards=[shared.STAFF], status_code=303, opt={"back": "/records/new"})
    async def log(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
    ) -> Response[Any]:
        form = await request.form()
        req = await services.log_request(db_session, who, audit,
                                         NewRequest.from_dict(_form_payload(form)))
        flash(request, "Request logged. The 30-day clock has started.", "success")
        return redirect(request, f"/records/{req.id}")

    @get("/{request_id:uuid}", guards=[shared.STAFF])
    async def detail(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        request_id: FromPath[uuid.UUID],
    ) -> Template:
        return await _desk_detail(request, db_session, who, audit, request_id)

    @post("/{request_id:uuid}/verify", guards=[shared.STAFF], status_code=303, opt=BACK_TO_REQUEST)
    async def verify(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        request_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await request.form()
        await services.verify(db_session, who, audit, request_id,
                              services.Verification.from_dict(dict(form)))
        flash(request, "Identity and authority recorded.", "success")
        return redirect(request, f"/records/{request_id}")

    @post("/{request_id:uuid}/documents", guards=[shared.STAFF], status_code=303,
          request_max_body_size=shared.MAX_UPLOAD, opt=BACK_TO_REQUEST)
    async def upload(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep, request_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        on = shared.OnRequest(db_session, blobs, who, audit, request_id)
        await shared.add_document_from_form(request, on)
        flash(request, "Document kept with the request.", "success")
        return redirect(request, f"/records/{request_id}")

    @post("/{request_id:uuid}/deliver", guards=[shared.STAFF], status_code=200, opt=BACK_TO_REQUEST)
    async def deliver(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        request_id: FromPath[uuid.UUID],
    ) -> Template:
        form = await request.form()
        delivery = await services.deliver(
            db_session, who, audit, request_id,
            delivery_method=str(form.get("delivery_method") or ""),
            method=str(form.get("method") or ""))
        flash(request, "Released.", "success")
        # The link's secret is shown on this answer only (only its hash is kept).
        return await _desk_detail(request, db_session, who, audit, request_id,
                                  delivery=delivery)

    @get("/download/{token:str}", opt={"public": True})
    async def download(
        self, db_session: DbDep, audit: AuditDep, blobs: BlobsDep, token: FromPath[str],
    ) -> Stream:
        """Public by token: the link itself is the credential (expiring, use-limited)."""
        outcome = await services.use_link(db_session, audit, token[:200])
        return await _stream(db_session, blobs, outcome)


RecordsStepPageController = type("RecordsStepPageController", (Controller,), {
    "__doc__": "One route per desk step (shared.STEPS): POST /records/{id}/<action>.",
    "path": "/records", "include_in_schema": False, "guards": [shared.STAFF],
    **{action: _step_page(step) for action, step in shared.STEPS.items()},
})


class PatientRecordsPageController(Controller):
    path = "/patient/records"
    include_in_schema = False
    guards = [shared.PATIENT]

    @get("/")
    async def mine(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
    ) -> Template:
        views = await services.patient_requests(db_session, who, audit)
        return page(request, "records/patient.html", {"views": views},
                    fragments={"patient-requests": "records/_patient-requests.html"})

    @post("/", status_code=303, opt={"back": "/patient/records"})
    async def ask(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
    ) -> Response[Any]:
        form = await request.form()
        await services.log_request(
            db_session, who, audit,
            NewRequest.from_dict({**_form_payload(form), "requester": "patient",
                                  "patient_id": None, "deliver_to": "portal"}),
        )
        flash(request, gettext("Your request was sent. The practice answers within 30 days."),
              "success")
        return redirect(request, "/patient/records")

    @get("/{request_id:uuid}/download")
    async def download(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, blobs: BlobsDep,
        request_id: FromPath[uuid.UUID],
    ) -> Stream:
        outcome = await services.patient_download(db_session, who, audit, request_id)
        return await _stream(db_session, blobs, outcome)


PAGE_CONTROLLERS: list[type] = [
    RecordsDeskPageController, RecordsStepPageController, PatientRecordsPageController,
]
