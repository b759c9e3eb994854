"""What the records API (``api.py``) and the desk's pages (``pages.py``) share: who may call
them, the desk's steps as one table, the upload form and the download link's address."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from litestar.datastructures import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.guards import require_roles
from portal.params import optional_date
from portal.requests import AnyRequest
from reviewer.actor import Actor
from reviewer.errors import Invalid
from reviewer.records import services
from reviewer.records.services import RequestView
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.models import RecordsDocument, Role

STAFF = require_roles(*services.DESK_ROLES)
PATIENT = require_roles(Role.PATIENT)
ASKERS = require_roles(Role.PATIENT, *services.DESK_ROLES)
MAX_UPLOAD = services.MAX_DOCUMENT_BYTES + 64 * 1024
STEP_PATH = "/{request_id:uuid}/"
"""A step's route is ``STEP_PATH + action`` under the API's and the pages' request paths."""


@dataclass(frozen=True)
class OnRequest:
    """Who acts on which request: what the services' step functions take."""

    db: AsyncSession
    blobs: BlobStore
    who: Actor
    audit: AuditContext
    request_id: uuid.UUID
    base_url: str = ""
    """``TOOTHLINE_PUBLIC_URL``: what the FHIR Bundle of an electronic copy is named under."""


@dataclass(frozen=True)
class Step:
    """A desk step that moves a request on (docs/records.md, "Life of a request"). Each one
    is a route of its own on the API (``POST /api/v1/records-requests/{id}/<action>``, 200
    with the request) and on the pages (``POST /records/{id}/<action>``, 303 back to the
    request with ``done`` flashed). verify, documents and deliver have bodies of their own
    and routes written out in api.py and pages.py."""

    action: str
    summary: str
    """The API operation's summary (OpenAPI)."""
    done: str
    """What the page says after the step."""
    run: Callable[[OnRequest, str], Awaitable[RequestView]]
    """The service call, given the written reason or note ("" for a step that takes none)."""
    text: bool = False
    """Takes a written reason or note (the API's body ``StepNoteIn``, the form's reason)."""


STEPS: dict[str, Step] = {step.action: step for step in (
    Step("quote", "Tell the fee (a fee of 0 moves straight on to waived)",
         "Fee told to the requester.",
         lambda on, _: services.quote(on.db, on.who, on.audit, on.request_id)),
    Step("pay", "Record the payment (D9961 goes on the patient's account; 409 no_fee)",
         "Payment recorded; D9961 is on the patient's account.",
         lambda on, _: services.pay(on.db, on.who, on.audit, on.request_id)),
    Step("waive", "Waive the fee", "Fee waived.",
         lambda on, text: services.waive(on.db, on.who, on.audit, on.request_id, text), text=True),
    Step("prepare", "Build the package", "Package prepared.",
         lambda on, _: services.prepare(on.db, on.blobs, on.who, on.audit, on.request_id,
                                        base_url=on.base_url)),
    Step("check", "The second staff member's check of the package", "Package checked.",
         lambda on, text: services.check(on.db, on.who, on.audit, on.request_id, text), text=True),
    Step("refuse", "Refuse the request, with a written reason",
         "Request refused; the reason is on record.",
         lambda on, text: services.refuse(on.db, on.who, on.audit, on.request_id, text), text=True),
    Step("extend", "The one 30-day extension, with a written reason",
         "Extended by 30 days; the reason is on record.",
         lambda on, text: services.extend(on.db, on.who, on.audit, on.request_id, text), text=True),
)}


def public_url(request: AnyRequest) -> str:
    return str(request.app.state.settings.server.public_url)


def download_url(request: AnyRequest, token: str | None) -> str | None:
    """Built from ``TOOTHLINE_PUBLIC_URL``, never from the request's Host: a forged Host
    would otherwise send the patient's link (and its token) to another site."""
    if not token:
        return None
    public_url: str = request.app.state.settings.server.public_url
    return f"{public_url}/records/download/{token}"


async def add_document_from_form(request: AnyRequest, on: OnRequest) -> RecordsDocument:
    """The multipart upload of a paper: ``file``, ``kind``, ``expires_on``, ``scope``."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise Invalid("Send the paper as the multipart field 'file'.", code="file_required")
    data = await upload.read(services.MAX_DOCUMENT_BYTES + 1)
    return await services.add_document(
        on.db, on.blobs, on.who, on.audit, on.request_id, data,
        kind=str(form.get("kind") or "authorization"),
        expires_on=optional_date(form.get("expires_on"), "expires_on"),
        scope=str(form.get("scope") or ""),
    )
