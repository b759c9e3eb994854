"""The verification step: the papers kept with a request (a signed authorization) and the
identity and authority check."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import Conflict, Invalid, NotFound, Unprocessable
from reviewer.records import lifecycle
from reviewer.records.lifecycle import RecordsAction
from reviewer.records.pdf_check import check_pdf
from reviewer.records.policy import (
    THIRD_PARTIES,
    IdDocumentType,
)
from reviewer.records.request import _optional_uuid
from reviewer.records.steps import RequestView, _audit, _load, _require_desk, begin
from storage.audit import AuditContext
from storage.blobs import BlobStore, new_blob_key
from storage.media import MediaRefused, sniff
from storage.models import (
    RecordsDocument,
)

DOCUMENT_KINDS = frozenset({"authorization", "letter", "identity_note", "other"})
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
IMAGE_DOCUMENTS = frozenset({"jpeg", "png", "tiff", "heif", "webp"})


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


LAST4 = re.compile(r"[A-Za-z0-9]{4}")
LEGACY_KEYS = ("document_type",)
"""The free-text field of the identity check before structured checks: refused now."""


@dataclass(frozen=True)
class Verification:
    """The identity check as the desk records it: how identity was checked, the document
    seen (its type from :class:`IdDocumentType` and the last four characters of its number,
    never the whole number) and the requester's authority. Who checked and when are the
    server's (``verified_by_id``, ``verified_at``), never the form's."""

    identity_method: str
    id_document_type: str
    id_document_last4: str
    authority: str
    authorization_document_id: uuid.UUID | None = None
    legacy_fields: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verification:
        return cls(
            identity_method=str(data.get("identity_method") or "").strip()[:64],
            id_document_type=str(data.get("id_document_type") or "").strip()[:64],
            id_document_last4=str(data.get("id_document_last4") or "").strip()[:64],
            authority=str(data.get("authority") or "").strip()[:200],
            authorization_document_id=_optional_uuid(
                data.get("authorization_document_id"), "authorization_document_id"
            ),
            legacy_fields=tuple(k for k in LEGACY_KEYS if data.get(k)),
        )

    def checked(self) -> None:
        """Unprocessable (422) ``id_document_type_invalid`` or ``id_document_last4_invalid``;
        Invalid (400) ``verification_incomplete`` when the method or authority is missing."""
        if self.legacy_fields:
            raise Unprocessable(
                "document_type is no longer taken: send id_document_type (one of "
                f"{', '.join(IdDocumentType)}) and id_document_last4.",
                code="id_document_type_invalid",
            )
        missing = [
            k
            for k, v in (("identity_method", self.identity_method), ("authority", self.authority))
            if not v
        ]
        if missing:
            raise Invalid(f"Record {', '.join(missing)}.", code="verification_incomplete")
        if self.id_document_type not in set(IdDocumentType):
            raise Unprocessable(
                f"id_document_type is one of {', '.join(IdDocumentType)}.",
                code="id_document_type_invalid",
            )
        if not LAST4.fullmatch(self.id_document_last4):
            raise Unprocessable(
                "id_document_last4 is exactly the last four letters or digits of the "
                "document's number (never the whole number).",
                code="id_document_last4_invalid",
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
    step = await begin(db, actor, ctx, request_id, now)
    req, org, moment = step.req, step.org, step.moment
    check.checked()
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
    step.move(RecordsAction.VERIFY)
    req.identity_method = check.identity_method
    req.identity_document_type = None
    req.id_document_type = check.id_document_type
    req.id_document_last4 = check.id_document_last4.upper()
    req.verified_by_id = actor.user_id
    req.verified_at = moment
    req.authority = check.authority
    req.authorization_document_id = check.authorization_document_id
    step.history(
        "verified",
        f"identity: {check.identity_method} ({check.id_document_type} ending "
        f"{req.id_document_last4}); authority: {check.authority}",
    )
    await step.audit(
        "records_request.verified",
        identity_method=check.identity_method,
        id_document_type=check.id_document_type,
        authorization=bool(check.authorization_document_id),
    )
    return await step.view()
