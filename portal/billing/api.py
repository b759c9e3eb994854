"""Billing API under /api/v1 (docs/billing.md): claim lines, billing status and documents of
signed cases and of live sessions, the claim packages of a case, recording a live session.

Access: dentist — own signed cases and own live sessions, read only (and recording a live
session); front_desk — every encounter of their organizations. The routes both encounter kinds
have are written once (:class:`EncounterBillingApi`); :class:`CaseBillingApi` and
:class:`LiveSessionBillingApi` name the path (``{case_id}``, ``{session_id}``).
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, MediaType, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.guards import require_roles
from portal.billing.schemas import (
    BillingStatusIn,
    ClaimLinesIn,
    LiveSessionIn,
    LiveSessionSignIn,
    SameDayOverrideIn,
)
from portal.billing.shared import (
    ENCOUNTER_OF_CASE,
    ENCOUNTER_OF_LIVE_SESSION,
    FRONT_DESK,
    READERS,
    STATUS_CHANGES,
    EncounterKey,
    encounter_view,
    stream_download,
)
from portal.requests import ActorDep, AnyRequest, AuditDep, BlobsDep, DbDep
from portal.review.signing import password_checked
from reviewer.actor import Actor
from reviewer.billing import services
from reviewer.billing.fees import format_fee
from reviewer.billing.live_sessions import sign_live_session
from reviewer.billing.services import Download, EncounterView, LinesRefused, PackageNotReady
from reviewer.coding.rules import EncounterType
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.models import Role


def lines_json(view: EncounterView) -> dict[str, Any]:
    billing = view.billing
    return {
        "encounter": view.encounter.as_dict(),
        "teledentistry_code": view.teledentistry_code,
        "status": billing.status,
        "lines": [line.as_dict() for line in view.lines],
        "total_fee": format_fee(view.total_cents),
        "missing_fees": view.missing_fees,
        "warnings": [v.as_dict() for v in view.warnings],
        "problems": [v.as_dict() for v in view.blocking],
        "corrections": [{k: c[k] for k in ("at", "by", "reason")}
                        for c in billing.corrections or []],
        "overrides": [{k: o[k] for k in ("rule", "reason", "at", "by")}
                      for o in billing.overrides or []],
        "billed_package_version": billing.billed_package_version,
        "billed_attachment_control_number": billing.billed_attachment_control_number,
    }


def _refused(exc: LinesRefused) -> Response[Any]:
    return Response(
        {"code": exc.code, "message": exc.message,
         "violations": [v.as_dict() for v in exc.violations]},
        status_code=422, media_type=MediaType.JSON,
    )


def _not_ready(request: AnyRequest, exc: PackageNotReady) -> Response[Any]:
    """The package is built after the commit that made it stale: 202, ask again soon."""
    return Response(
        {"code": exc.code, "message": exc.message}, status_code=202, media_type=MediaType.JSON,
        headers={"Retry-After": str(exc.retry_after), "Cache-Control": "no-store"},
    )


async def _current_record(
    db: AsyncSession, blobs: BlobStore, who: Actor, audit: AuditContext, encounter: EncounterKey
) -> Download:
    if encounter.type is EncounterType.ASYNCHRONOUS:
        return await services.download_case_document(db, blobs, who, audit, encounter.id,
                                                     "record")
    return await services.download_live_document(db, blobs, who, audit, encounter.id)


class EncounterBillingApi(Controller):
    """What every encounter has: claim lines (read, edit), billing status, its record."""

    tags = ["billing"]
    exception_handlers = {PackageNotReady: _not_ready}

    @get("/claim-lines", guards=[READERS])
    async def claim_lines(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep,
        encounter: NamedDependency[EncounterKey],
    ) -> dict[str, Any]:
        return lines_json(await encounter_view(db_session, who, audit, encounter))

    @put("/claim-lines", guards=[FRONT_DESK])
    async def edit_claim_lines(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep,
        encounter: NamedDependency[EncounterKey], data: JSONBody[ClaimLinesIn],
    ) -> Response[Any]:
        """Replace the lines; 422 ``claim_lines_refused`` names every coding rule broken."""
        try:
            view = await services.update_lines(
                db_session, who, audit, encounter.type, encounter.id, data.rows(),
                reason=data.reason,
            )
        except LinesRefused as exc:  # nothing was changed; a 422 rolls the request back
            return _refused(exc)
        return Response(lines_json(view), media_type=MediaType.JSON)

    @post("/same-day-override", guards=[FRONT_DESK], status_code=200)
    async def same_day_override(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep,
        encounter: NamedDependency[EncounterKey], data: JSONBody[SameDayOverrideIn],
    ) -> dict[str, Any]:
        """Record why a line another encounter of the patient claimed on the same date is
        billed anyway (audited); 409 ``nothing_to_override`` when there is no such problem."""
        return lines_json(await services.override_same_day(
            db_session, who, audit, encounter.type, encounter.id, data.rule, data.reason
        ))

    @post("/billing-status", guards=[FRONT_DESK], status_code=200)
    async def billing_status(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep,
        encounter: NamedDependency[EncounterKey], data: JSONBody[BillingStatusIn],
    ) -> dict[str, Any]:
        change = STATUS_CHANGES[data.status]
        return lines_json(await change.apply(db_session, who, audit, encounter))

    @get("/documentation.pdf", guards=[READERS])
    async def documentation(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, blobs: BlobsDep,
        encounter: NamedDependency[EncounterKey],
    ) -> Stream:
        """The current record (D9996 or D9995); 202 + Retry-After while it is being built."""
        download = await _current_record(db_session, blobs, who, audit, encounter)
        return await stream_download(blobs, download)


class CaseBillingApi(EncounterBillingApi):
    """A signed case: also its claim attachment and every package version."""

    path = "/cases/{case_id:uuid}"
    dependencies = ENCOUNTER_OF_CASE

    @get("/claim-attachment.zip", guards=[READERS])
    async def claim_attachment(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, blobs: BlobsDep,
        case_id: FromPath[uuid.UUID],
    ) -> Stream:
        """The current claim attachment; 202 + Retry-After while it is being built."""
        download = await services.download_case_document(
            db_session, blobs, who, audit, case_id, "zip"
        )
        return await stream_download(blobs, download)

    @get("/claim-packages", guards=[READERS])
    async def claim_packages(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep,
        encounter: NamedDependency[EncounterKey],
    ) -> dict[str, Any]:
        view = await encounter_view(db_session, who, audit, encounter)
        return {"packages": [
            {"id": str(p.id), "version": p.version, "encounter_type": p.encounter_type,
             "attachment_control_number": p.attachment_control_number,
             "created_at": p.created_at.isoformat(), "pdf_sha256": p.pdf_sha256,
             "zip_sha256": p.zip_sha256, "zip_size": p.zip_size,
             "record_url": f"/billing/packages/{p.id}/record.pdf",
             "zip_url": f"/billing/packages/{p.id}/claim-attachment.zip" if p.zip_key else None}
            for p in view.packages
        ]}


class LiveSessionBillingApi(EncounterBillingApi):
    path = "/live-sessions/{session_id:uuid}"
    dependencies = ENCOUNTER_OF_LIVE_SESSION


class LiveSessionsApi(Controller):
    path = "/live-sessions"
    tags = ["billing"]

    @post("/", guards=[require_roles(Role.DENTIST)], status_code=201)
    async def create_live_session(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, data: JSONBody[LiveSessionIn],
    ) -> dict[str, Any]:
        """Record a live (D9995) session the dentist held; needs a current license in the
        state where the patient was (403 ``not_licensed``)."""
        view = await services.create_live_session(db_session, who, audit, data.fields())
        return {"id": view.encounter.id, **lines_json(view)}

    @post("/{session_id:uuid}/sign", guards=[require_roles(Role.DENTIST)], status_code=200)
    async def sign(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        session_id: FromPath[uuid.UUID], data: JSONBody[LiveSessionSignIn],
    ) -> dict[str, Any]:
        """The dentist who held the session signs its record: password re-checked under the
        sign-in throttle (403 ``bad_password``, 429 ``locked``), ``attest`` true, the record
        documented (422 ``session_undocumented`` naming what is missing); 409
        ``already_signed``. The D9995 package with the signature is built after the commit."""
        view = await password_checked(request, db_session, who, audit, session_id,
                                      sign_live_session, password=data.password,
                                      attest=data.attest)
        session = view.live_facts.session if view.live_facts else None
        return {
            "id": view.encounter.id,
            "signed_at": session.signed_at.isoformat() if session and session.signed_at
            else None,
            "content_sha256": session.content_sha256 if session else None,
            **lines_json(view),
        }


API_CONTROLLERS: list[type] = [CaseBillingApi, LiveSessionBillingApi, LiveSessionsApi]
