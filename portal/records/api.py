"""The records desk's JSON API (mounted under ``/api/v1``; routes in docs/records.md). Thin:
parse, one service call, convert."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody

from portal.records import shared
from portal.records.schemas import (
    DeliverIn,
    NewRequestIn,
    StepNoteIn,
    VerificationIn,
    delivery_json,
    desk_row,
    document_json,
    request_json,
)
from portal.requests import ActorDep, AnyRequest, AuditDep, BlobsDep, DbDep
from reviewer.records import services


class RecordsRequestApiController(Controller):
    """What a patient may call too: ask for a copy, read a request."""

    path = "/records-requests"
    tags = ["records"]
    guards = [shared.ASKERS]

    @post("/", status_code=201)
    async def create(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, data: JSONBody[NewRequestIn],
    ) -> dict[str, Any]:
        """Log a request (a patient asks for their own records); 201 with the request."""
        req = await services.log_request(db_session, who, audit, data.new_request())
        return request_json(who, await services.get_request(db_session, who, audit, req.id))

    @get("/{request_id:uuid}")
    async def read(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, request_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """One request (the read is audited)."""
        return request_json(who, await services.get_request(db_session, who, audit, request_id))


def _step_route(step: shared.Step) -> HTTPRouteHandler:
    """``POST /records-requests/{id}/<action>`` for one of ``shared.STEPS``: 200 + the request."""

    async def with_text(
        self: Controller, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep, request_id: FromPath[uuid.UUID],
        data: JSONBody[StepNoteIn | None] = None,
    ) -> dict[str, Any]:
        on = shared.OnRequest(db_session, blobs, who, audit, request_id,
                              shared.public_url(request))
        return request_json(who, await step.run(on, data.text if data else ""))

    async def without_body(
        self: Controller, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep, request_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        on = shared.OnRequest(db_session, blobs, who, audit, request_id,
                              shared.public_url(request))
        return request_json(who, await step.run(on, ""))

    handler = with_text if step.text else without_body
    handler.__name__ = handler.__qualname__ = step.action  # the OpenAPI operation's id
    return post(shared.STEP_PATH + step.action, status_code=200, summary=step.summary)(handler)


class RecordsDeskApiController(Controller):
    """The desk's work on requests (front desk and coordinators): the list and every step."""

    path = "/records-requests"
    tags = ["records"]
    guards = [shared.STAFF]

    @get("/")
    async def desk(
        self, db_session: DbDep, who: ActorDep,
        status: FromQuery[str] = "open",
    ) -> dict[str, Any]:
        """Open requests by time left, overdue first (``?status=all``: finished ones too)."""
        views = await services.desk_list(db_session, who, open_only=status != "all")
        return {"requests": [desk_row(v) for v in views]}

    @post("/{request_id:uuid}/verify", status_code=200)
    async def verify(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, request_id: FromPath[uuid.UUID],
        data: JSONBody[VerificationIn],
    ) -> dict[str, Any]:
        """Record the identity check and the requester's authority."""
        view = await services.verify(db_session, who, audit, request_id, data.verification())
        return request_json(who, view)

    @post("/{request_id:uuid}/documents", status_code=201, request_max_body_size=shared.MAX_UPLOAD)
    async def upload(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep, request_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """Keep a paper with the request (multipart: file, kind, expires_on, scope)."""
        on = shared.OnRequest(db_session, blobs, who, audit, request_id)
        return document_json(await shared.add_document_from_form(request, on))

    @post("/{request_id:uuid}/deliver", status_code=200)
    async def deliver(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        request_id: FromPath[uuid.UUID], data: JSONBody[DeliverIn | None] = None,
    ) -> dict[str, Any]:
        """Release the copy: an electronic one gets a download link (its secret is in this
        answer only); paper and media are recorded by hand."""
        delivery = await services.deliver(
            db_session, who, audit, request_id,
            delivery_method=(data.delivery_method if data else None) or "",
            method=(data.method if data else None) or "")
        return delivery_json(shared.download_url(request, delivery.token), delivery)


RecordsStepApiController = type("RecordsStepApiController", (Controller,), {
    "__doc__": "One route per desk step (shared.STEPS): POST /records-requests/{id}/<action>.",
    "path": "/records-requests", "tags": ["records"], "guards": [shared.STAFF],
    **{action: _step_route(step) for action, step in shared.STEPS.items()},
})


class PatientRecordsApiController(Controller):
    path = "/patients"
    tags = ["records"]

    @get("/{patient_id:uuid}/records-requests", guards=[shared.ASKERS])
    async def chart(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, patient_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """A patient's requests (the patient's own, or the desk's view of the chart)."""
        views = await services.patient_requests(db_session, who, audit, patient_id)
        return {"requests": [request_json(who, v) for v in views]}


API_CONTROLLERS: list[type] = [
    RecordsRequestApiController, RecordsDeskApiController, RecordsStepApiController,
    PatientRecordsApiController,
]
