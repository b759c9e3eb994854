"""Intake routes: the JSON API (consents, cases, attachments) and the patient's pages.

Thin: parse the request, call one ``reviewer.intake`` service, convert the result. The two
upload routes (API and page) share :func:`receive_attachment`, which streams the body to a
temporary file (``portal.intake.upload``) instead of letting litestar parse it.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody
from litestar.response import Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.guards import require_roles, signed_in
from portal.errors import error_response
from portal.i18n import gettext
from portal.intake import pages
from portal.intake.schemas import CaseIn, ConsentIn, IdentityDecisionIn
from portal.intake.upload import (
    MULTIPART_OVERHEAD,
    StreamedUpload,
    UploadRefused,
    check_announced_length,
    read_multipart,
)
from portal.intake.worker import DerivationWorker, finish_case_views, queue_derivation
from portal.rendering import redirect
from portal.requests import ActorDep, AnyRequest, AuditDep, BlobsDep, DbDep, Form
from portal.settings import Settings, UploadSettings
from reviewer.actor import Actor
from reviewer.consent_forms import current_form, languages_of
from reviewer.intake.attachments import (
    add_attachment,
    attachment_meta,
    delete_blobs,
    open_attachment_file,
    prepare_upload,
    remove_attachment,
)
from reviewer.intake.cases import (
    NewCase,
    SubmitterView,
    attachment_payload,
    create_case,
    get_submittable_case,
    submit_case,
    view_case,
)
from reviewer.intake.consents import ConsentRequest, accept_consent
from reviewer.intake.identity import IdentityDecision, resolve_identity
from reviewer.patients.history import update_history
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.media import MediaLimits, MediaRefused
from storage.models import Attachment, Role

SUBMITTERS = (Role.PATIENT, Role.HYGIENIST, Role.FRONT_DESK)
CASE_READERS = (Role.PATIENT, Role.HYGIENIST, Role.DENTIST, Role.FRONT_DESK, Role.COORDINATOR)
may_submit = require_roles(*SUBMITTERS)
may_read_cases = require_roles(*CASE_READERS)  # admins read no patient data
IDENTITY_DECIDERS = (Role.HYGIENIST, Role.FRONT_DESK, Role.DENTIST)
"""Staff who see a held DICOM's two identities and decide (admins read no patient data; the
patient sees "held for a check" only)."""
may_decide_identity = require_roles(*IDENTITY_DECIDERS)
RETRY_AFTER_S = "1"


def _settings(request: AnyRequest) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def file_urls(case_id: uuid.UUID, attachment: Attachment) -> dict[str, str]:
    base = f"/api/v1/cases/{case_id}/attachments/{attachment.id}"
    return {
        "original_url": f"{base}/original",
        "display_url": f"{base}/display",
        "thumbnail_url": f"{base}/thumbnail",
    }


def _workdir(settings: Settings) -> Path:
    root = settings.var_dir / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="upload-", dir=root))


async def receive_attachment(
    request: AnyRequest,
    db: AsyncSession,
    who: Actor,
    audit: AuditContext,
    blobs: BlobStore,
    case_id: uuid.UUID,
    *,
    delete_url: str | None = None,
) -> Response[Any]:
    """Stream one multipart upload to disk, check and store it; answer JSON.

    201 with the new attachment; 200 with the earlier one for a repeated Idempotency-Key;
    otherwise ``{"code", "message"}`` (413 too_large, 415 unsupported_type, 422 damaged or
    too_many_pixels, 409 too_many_files, 408 request_timeout, 400 malformed_upload).
    """
    settings = _settings(request)
    limits = settings.uploads
    upload_key = request.headers.get("idempotency-key")
    target = await prepare_upload(db, who, case_id, upload_key, limits.max_files_per_case)
    if target.existing is not None:
        return _attachment_answer(case_id, target.existing, 200, delete_url)
    workdir = _workdir(settings)
    worker: DerivationWorker | None = getattr(request.app.state, "derivation", None)
    try:
        with worker.receiving() if worker is not None else contextlib.nullcontext():
            upload = await _read_upload(request, limits, workdir)
            assert upload.file is not None
            attachment = await add_attachment(
                db, blobs, who, audit, target, upload.file,
                attachment_meta(upload.fields.get("kind"), upload.fields.get("view"),
                                upload.fields.get("teeth"), upload_key),
                limits=MediaLimits(max_bytes=limits.max_upload_bytes,
                                   max_pixels=limits.max_image_pixels),
                max_files=limits.max_files_per_case,
                workdir=workdir,
                derive_inline=limits.derive_inline,
            )
        if attachment.status == "processing":
            await db.commit()  # the worker reads the row in its own session
            queue_derivation(request.app, attachment.id)
    except UploadRefused as exc:
        return error_response(request, exc.status, exc.code, exc.message)
    except MediaRefused as exc:
        return error_response(request, exc.status, exc.code, exc.message)
    finally:
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(workdir, ignore_errors=True))
    return _attachment_answer(case_id, attachment, 201, delete_url)


async def _read_upload(
    request: AnyRequest, limits: UploadSettings, workdir: Path
) -> StreamedUpload:
    """Read the multipart body to a file in ``workdir``, its announced and its real size
    checked against the limits: its one file and its text fields."""
    check_announced_length(
        request.content_length, limits.max_upload_bytes + MULTIPART_OVERHEAD,
        limits.max_upload_bytes,
    )
    return await read_multipart(
        request.stream(),
        request.headers.get("content-type"),
        workdir,
        max_file_bytes=limits.max_upload_bytes,
        chunk_timeout=float(limits.chunk_timeout_s),
    )


async def _finish_views(
    request: AnyRequest, db: AsyncSession, who: Actor, case_id: uuid.UUID
) -> None:
    """Before a submit: the case's pictures still being made are finished first (after the
    access check; before the request's transaction writes anything)."""
    await get_submittable_case(db, who, case_id)
    await finish_case_views(request.app, case_id)


def _attachment_answer(
    case_id: uuid.UUID, attachment: Attachment, status: int, delete_url: str | None
) -> Response[Any]:
    body: dict[str, Any] = {
        **attachment_payload(attachment),
        **file_urls(case_id, attachment),
        "message": "Uploaded",
    }
    if delete_url:
        body["delete_url"] = f"{delete_url}/{attachment.id}"
    return Response(body, status_code=status)


async def stream_attachment(
    request: AnyRequest,
    db: AsyncSession,
    who: Actor,
    audit: AuditContext,
    blobs: BlobStore,
    case_id: uuid.UUID,
    attachment_id: uuid.UUID,
    variant: str,
) -> Response[Any]:
    found = await open_attachment_file(db, blobs, who, audit, case_id, attachment_id, variant)
    if found.reader is None:
        return error_response(
            request, 202, "not_ready", "This image is still being prepared. Try again shortly.",
            headers={"Retry-After": RETRY_AFTER_S},
        )
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    if variant == "original":
        extension = {"image/jpeg": ".jpg", "image/png": ".png", "image/heic": ".heic",
                     "image/heif": ".heif", "image/webp": ".webp", "image/tiff": ".tif",
                     "application/dicom": ".dcm"}.get(found.content_type, "")
        name = f"attachment-{attachment_id}{extension}"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    else:
        headers["Content-Disposition"] = "inline"
    if found.size is not None:
        headers["Content-Length"] = str(found.size)
    return Stream(found.reader, media_type=found.content_type, headers=headers)


# --------------------------------------------------------------------------- API


class ConsentApiController(Controller):
    tags = ["intake"]

    @get("/consent-forms/{form:str}", guards=[signed_in])
    async def consent_form(
        self, form: FromPath[str], language: FromQuery[str] = "en"
    ) -> dict[str, Any]:
        """The current version of a consent form and its plain-language text, in
        ``language`` (``en``, ``es``) where it has that translation (``language`` says which
        text came: accept it with that language)."""
        current = current_form(form, language)
        return {
            "form": current.form,
            "version": current.version,
            "language": current.language,
            "languages": list(languages_of(current.form, current.version)),
            "title": current.title,
            "summary": current.summary,
            "text": current.text,
            "paragraphs": list(current.paragraphs),
        }

    @post("/consents", guards=[may_submit], status_code=201)
    async def accept(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, data: JSONBody[ConsentIn],
    ) -> dict[str, Any]:
        """Accept the current version of a form (409 ``already_accepted`` when done)."""
        consent = await accept_consent(
            db_session, who, audit,
            ConsentRequest(form=data.form, version=data.version, patient_id=data.patient_id,
                           method=data.method, given_by=data.given_by,
                           given_by_name=data.given_by_name, language=data.language),
        )
        return {
            "id": str(consent.id),
            "patient_id": str(consent.patient_id),
            "form": consent.form,
            "version": consent.version,
            "given_by": consent.given_by,
            "method": consent.method,
            "accepted_at": consent.accepted_at.isoformat(),
        }


class CaseApiController(Controller):
    path = "/cases"
    tags = ["intake"]

    @post("/", guards=[may_submit])
    async def create(
        self, db_session: DbDep, who: ActorDep,
        audit: AuditDep, data: JSONBody[CaseIn],
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key")] = None,
    ) -> Response[dict[str, Any]]:
        """Create a draft case: 201, or 200 with the same case for a repeated key."""
        location = data.location
        history = data.questionnaire.history() if data.questionnaire else None  # checked now
        created = await create_case(
            db_session,
            who,
            audit,
            NewCase(
                kind=data.kind,
                questionnaire=data.questionnaire.answers() if data.questionnaire else {},
                location_state=location.state if location else None,
                location_site=location.site if location else None,
                patient_id=data.patient_id,
                screening=msgspec.to_builtins(data.screening) if data.screening else None,
            ),
            idempotency_key,
        )
        if created.created and history and history.given():
            await update_history(db_session, who, created.case.patient_id, history)
        view = SubmitterView(created.case, [], None)
        return Response(view.payload(), status_code=201 if created.created else 200)

    @get("/{case_id:uuid}", guards=[may_read_cases])
    async def read(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, case_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """The case as its submitter may see it (the read is audited)."""
        view = await view_case(db_session, who, audit, case_id)
        return view.payload()

    @post("/{case_id:uuid}/submit", guards=[may_submit], status_code=200)
    async def submit(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """Send the draft to the review queue (idempotent)."""
        await _finish_views(request, db_session, who, case_id)
        await submit_case(db_session, who, audit, case_id)
        view = await view_case(db_session, who, audit, case_id, audit=False)
        return view.payload()

    @post(
        "/{case_id:uuid}/attachments",
        guards=[may_submit],
        request_max_body_size=None,  # enforced by the streaming reader from the settings
    )
    async def upload(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep, case_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """Multipart: ``file``, ``kind``, ``view``, ``teeth``. Streamed, never parsed in memory."""
        return await receive_attachment(request, db_session, who, audit, blobs, case_id)

    @delete("/{case_id:uuid}/attachments/{attachment_id:uuid}", guards=[may_submit],
            status_code=204)
    async def remove(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, case_id: FromPath[uuid.UUID],
        attachment_id: FromPath[uuid.UUID],
    ) -> None:
        """Remove a file from a draft."""
        await remove_attachment(db_session, who, audit, case_id, attachment_id)

    @post("/{case_id:uuid}/attachments/{attachment_id:uuid}/identity",
          guards=[may_decide_identity], status_code=200)
    async def identity(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, blobs: BlobsDep,
        case_id: FromPath[uuid.UUID], attachment_id: FromPath[uuid.UUID],
        data: JSONBody[IdentityDecisionIn],
    ) -> dict[str, Any]:
        """A held DICOM: ``{"decision": "confirm"|"reject", "reason": "..."}`` (audited)."""
        done = await decide_identity(db_session, who, audit, blobs, case_id, attachment_id,
                                     data.decision, data.reason)
        return {"attachment_id": str(done.attachment_id), "decision": done.decision,
                "status": "ready" if done.decision == "confirm" else "removed"}

    @get("/{case_id:uuid}/attachments/{attachment_id:uuid}/{variant:str}",
         guards=[may_read_cases])
    async def file(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep, case_id: FromPath[uuid.UUID], attachment_id: FromPath[uuid.UUID],
        variant: FromPath[str],
    ) -> Response[Any]:
        """original | display | thumbnail, streamed; 202 + Retry-After until it exists."""
        return await stream_attachment(request, db_session, who, audit, blobs, case_id,
                                       attachment_id, variant)


async def decide_identity(
    db: AsyncSession, who: Actor, audit: AuditContext, blobs: BlobStore, case_id: uuid.UUID,
    attachment_id: uuid.UUID, decision: str | None, reason: str | None,
) -> IdentityDecision:
    """Resolve a held file; a rejected one's blobs go once the removal is committed (so a
    rolled-back rejection never leaves a row without its file)."""
    done = await resolve_identity(db, who, audit, case_id, attachment_id, decision, reason)
    if done.removed_keys:
        await db.commit()
        await delete_blobs(blobs, list(done.removed_keys))
    return done


# --------------------------------------------------------------------------- pages


class IdentityPagesController(Controller):
    """The staff panel's form (reviewer/intake/identity.py): the same decision as the API."""

    path = "/cases"
    include_in_schema = False
    guards = [may_decide_identity]

    @post("/{case_id:uuid}/attachments/{attachment_id:uuid}/identity", status_code=303)
    async def identity_form(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep, case_id: FromPath[uuid.UUID], attachment_id: FromPath[uuid.UUID],
        data: Form,
    ) -> Response[Any]:
        done = await decide_identity(db_session, who, audit, blobs, case_id, attachment_id,
                                     data.get("decision"), data.get("reason"))
        back = data.get("next") or ""
        if not back.startswith("/") or back.startswith("//"):
            back = f"/review/cases/{case_id}" if who.role == Role.DENTIST else "/"
        return redirect(request, back, success="File confirmed for this patient."
                        if done.decision == "confirm" else "File rejected and removed.")


class PatientPagesController(Controller):
    """The patient's pages: consent, "Send photos to the dentist", my cases, case status."""

    path = "/patient"
    include_in_schema = False
    guards = [require_roles(Role.PATIENT)]

    @get("/")
    async def my_cases(self, request: AnyRequest, db_session: DbDep, who: ActorDep) -> Template:
        return await pages.my_cases(request, db_session, who)

    @get("/consent")
    async def consent_page(self, request: AnyRequest, db_session: DbDep, who: ActorDep) -> Template:
        return await pages.consent_page(request, db_session, who)

    @post("/consent", status_code=303)
    async def consent_accept(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep, data: Form,
    ) -> Response[Any]:
        return await pages.consent_accept(request, db_session, who, audit, data)

    @get("/cases/new")
    async def new_case(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
    ) -> Response[Any]:
        return await pages.new_case(request, db_session, who,
                                    draft_key=secrets.token_urlsafe(18))

    @post("/cases/emergency-check", status_code=200)
    async def emergency_check(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, data: Form,
    ) -> Template:
        return await pages.emergency_check(request, db_session, who, data)

    @post("/cases", status_code=303)
    async def save_case(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep, data: Form,
    ) -> Response[Any]:
        return await pages.save_case(request, db_session, who, audit, data)

    @get("/cases/{case_id:uuid}")
    async def case_page(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID],
    ) -> Template:
        return await pages.case_page(request, db_session, who, audit, case_id)

    @post("/cases/{case_id:uuid}/attachments", request_max_body_size=None)
    async def upload(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep, case_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """The upload widget's endpoint: one file per request, answered in JSON."""
        return await receive_attachment(
            request, db_session, who, audit, blobs, case_id,
            delete_url=f"/patient/cases/{case_id}/attachments",
        )

    @delete("/cases/{case_id:uuid}/attachments/{attachment_id:uuid}", status_code=200)
    async def remove(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, case_id: FromPath[uuid.UUID],
        attachment_id: FromPath[uuid.UUID],
    ) -> dict[str, bool]:
        await remove_attachment(db_session, who, audit, case_id, attachment_id)
        return {"removed": True}

    @post("/cases/{case_id:uuid}/attachments/{attachment_id:uuid}/remove", status_code=303)
    async def remove_form(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID], attachment_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """The same without JavaScript (a plain form with the CSRF field)."""
        await remove_attachment(db_session, who, audit, case_id, attachment_id)
        return redirect(request, f"/patient/cases/{case_id}", success=gettext("Photo removed."))

    @post("/cases/{case_id:uuid}/submit", status_code=303)
    async def submit(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await _finish_views(request, db_session, who, case_id)
        await submit_case(db_session, who, audit, case_id)
        return redirect(request, f"/patient/cases/{case_id}",
                        success=gettext("Sent. A dentist will look at it soon."))


PAGE_CONTROLLERS: list[type] = [PatientPagesController, IdentityPagesController]
API_CONTROLLERS: list[type] = [ConsentApiController, CaseApiController]
