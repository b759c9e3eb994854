"""Resumable uploads: ``OPTIONS/POST /api/v1/uploads``, ``HEAD/PATCH/DELETE
/api/v1/uploads/{upload_id}`` (tus 1.0 core, creation, termination, expiration).

Thin, like the multipart routes (portal/intake/controllers.py): the protocol's headers are
read here (``portal.uploads.protocol``), the rules are ``reviewer.intake.uploads``, and the
last PATCH ends in the same ``add_attachment`` as the multipart route, so the same checks
run over the stored bytes and a refusal answers the same 415/413/422 (the upload is removed).

The PATCH body is streamed into the blob store's part API, never held whole. A body cut
mid-way keeps what arrived: the new offset is committed at once, the client's HEAD learns it.

CSRF: browsers send the token in ``X-CSRFToken`` (the widget gives it to tus-js-client);
API clients use a bearer token, as on every API route.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import anyio
from litestar import Controller, Response, delete, head, patch, route
from litestar.openapi import ResponseSpec
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import error_response
from portal.intake.controllers import may_submit
from portal.intake.upload import too_large
from portal.intake.worker import DerivationWorker, queue_derivation
from portal.requests import ActorDep, AnyRequest, AuditDep, BlobsDep, DbDep
from portal.settings import Settings
from portal.uploads.protocol import (
    EXTENSIONS,
    OFFSET_TYPE,
    TUS_VERSION,
    Stalled,
    TusRefused,
    base_headers,
    check_version,
    expires_header,
    parse_length,
    parse_metadata,
    timed,
)
from reviewer.actor import Actor
from reviewer.errors import DomainError
from reviewer.intake.attachments import add_attachment
from reviewer.intake.uploads import (
    NewUpload,
    UploadExpired,
    append_upload,
    create_upload,
    discard_upload,
    finish_upload,
    get_upload,
    is_complete,
    take_completed,
    terminate_upload,
)
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.blobs.parts import PartialAppend, PartOverflow
from storage.media import MediaLimits, MediaRefused
from storage.models import Upload

BASE = "/api/v1/uploads"


def _documented(*statuses: int) -> dict[int, ResponseSpec]:
    """tus answers beyond the shared error set (portal/openapi_errors.py): the schema names
    every status a route may answer (tests/integration/hostile/test_schemathesis.py)."""
    text = {
        204: "Done; the tus headers (Upload-Offset, …) say where the upload stands.",
        408: "The request body stalled; what arrived is kept (HEAD says the offset).",
        410: "The upload expired before it was complete.",
        412: "Tus-Resumable is missing or not 1.0.0 (Tus-Version says what is served).",
    }
    return {status: ResponseSpec(None, description=text[status]) for status in statuses}


def _settings(request: AnyRequest) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _refused(request: AnyRequest, exc: TusRefused) -> Response[Any]:
    headers = base_headers()
    if exc.status == 412:
        headers["Tus-Version"] = TUS_VERSION
    return error_response(request, exc.status, exc.code, exc.message, headers=headers)


def _gone(request: AnyRequest) -> Response[Any]:
    return error_response(request, 410, "upload_expired",
                          "This upload expired. Choose the file again.", headers=base_headers())


def _state_headers(upload: Upload) -> dict[str, str]:
    headers = base_headers()
    headers["Upload-Offset"] = str(upload.offset)
    headers["Upload-Length"] = str(upload.length)
    if upload.attachment_id is None:
        headers["Upload-Expires"] = expires_header(upload.expires_at)
    else:
        headers["Upload-Attachment-Id"] = str(upload.attachment_id)
    return headers


class UploadApiController(Controller):
    path = "/uploads"
    tags = ["uploads"]
    guards = [may_submit]

    @route("/", http_method=["POST", "OPTIONS"], status_code=201,
           responses=_documented(204, 412))
    async def create(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep,
    ) -> Response[Any]:
        """tus creation: ``Upload-Length``; ``Upload-Metadata`` with ``case_id`` (required),
        ``filename``, ``kind``, ``view``, ``teeth``. 201 with ``Location``.

        OPTIONS (one handler for both: litestar's own OPTIONS handler would otherwise take
        the path): what the server speaks, its extensions and the largest upload."""
        limits = _settings(request).uploads
        if request.method == "OPTIONS":
            headers = base_headers()
            headers.update({"Tus-Version": TUS_VERSION, "Tus-Extension": EXTENSIONS,
                            "Tus-Max-Size": str(limits.max_upload_bytes)})
            return Response(None, status_code=204, headers=headers)
        try:
            check_version(request.headers.get("tus-resumable"))
            length = parse_length(request.headers.get("upload-length"), "Upload-Length")
            metadata = parse_metadata(request.headers.get("upload-metadata"))
        except TusRefused as exc:
            return _refused(request, exc)
        if length > limits.max_upload_bytes:
            big = too_large(limits.max_upload_bytes)
            return error_response(request, 413, big.code, big.message, headers=base_headers())
        case_id = _case_id(metadata.get("case_id"))
        if case_id is None:
            return _refused(request, TusRefused(
                400, "invalid_metadata", "Upload-Metadata must name the case (case_id)."))
        upload = await create_upload(
            db_session, blobs, who, audit,
            NewUpload(case_id=case_id, length=length, filename=metadata.get("filename"),
                      kind=metadata.get("kind"), view=metadata.get("view"),
                      teeth=metadata.get("teeth")),
            max_files=limits.max_files_per_case, expire_hours=limits.expire_hours,
        )
        headers = _state_headers(upload)
        headers["Location"] = f"{BASE}/{upload.token}"
        return Response(None, status_code=201, headers=headers)

    @head("/{upload_id:str}", responses=_documented(410, 412))
    async def status(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, upload_id: FromPath[str],
    ) -> Response[None]:
        """Where the upload stands: ``Upload-Offset`` is where the next PATCH starts."""
        try:
            check_version(request.headers.get("tus-resumable"))
            upload = await get_upload(db_session, who, upload_id)
        except TusRefused as exc:
            return Response(None, status_code=exc.status, headers=base_headers())
        except UploadExpired:
            return Response(None, status_code=410, headers=base_headers())
        except DomainError:
            return Response(None, status_code=404, headers=base_headers())
        return Response(None, status_code=200, headers=_state_headers(upload))

    @patch("/{upload_id:str}", status_code=200, request_max_body_size=None,
           responses=_documented(204, 408, 410, 412))
    async def append(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep, upload_id: FromPath[str],
    ) -> Response[Any]:
        """Bytes at ``Upload-Offset`` (``application/offset+octet-stream``): 204 with the
        new offset; the last one answers once the file is checked and attached."""
        limits = _settings(request).uploads
        try:
            check_version(request.headers.get("tus-resumable"))
            if (request.headers.get("content-type") or "").split(";")[0].strip() != OFFSET_TYPE:
                raise TusRefused(415, "unsupported_media_type",
                                 f"Send the bytes as {OFFSET_TYPE}.")
            offset = parse_length(request.headers.get("upload-offset"), "Upload-Offset")
            body = timed(request.stream(), float(limits.chunk_timeout_s))
            upload = await append_upload(db_session, blobs, who, upload_id, offset, body)
        except TusRefused as exc:
            return _refused(request, exc)
        except UploadExpired:
            return _gone(request)
        except PartialAppend as cut:
            if isinstance(cut.cause, PartOverflow):
                return _refused(request, TusRefused(
                    413, "too_large", "More bytes than the upload's Upload-Length."))
            if isinstance(cut.cause, Stalled):
                return _refused(request, TusRefused(
                    408, "request_timeout", "The upload stalled. It resumes from where it was."))
            # the client went away: nobody reads this answer; the offset is committed
            return _refused(request, TusRefused(400, "upload_interrupted", "Upload cut."))
        if is_complete(upload) and upload.attachment_id is None:
            return await _complete(request, db_session, who, audit, blobs, upload)
        return Response(None, status_code=204, headers=_state_headers(upload))

    @delete("/{upload_id:str}", status_code=200, responses=_documented(204, 412))
    async def terminate(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep, upload_id: FromPath[str],
    ) -> Response[Any]:
        """tus termination: the upload and its stored bytes are removed."""
        try:
            check_version(request.headers.get("tus-resumable"))
        except TusRefused as exc:
            return _refused(request, exc)
        await terminate_upload(db_session, blobs, who, audit, upload_id)
        return Response(None, status_code=204, headers=base_headers())


def _case_id(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        return None


def _workdir(settings: Settings) -> Path:
    root = settings.var_dir / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="upload-", dir=root))


async def _complete(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext, blobs: BlobStore,
    upload: Upload,
) -> Response[Any]:
    """Every byte is stored: the multipart route's checks and attachment, over those bytes.
    A refusal removes the upload (committed) and answers like the multipart route."""
    settings = _settings(request)
    limits = settings.uploads
    workdir = _workdir(settings)
    worker: DerivationWorker | None = getattr(request.app.state, "derivation", None)
    upload_pk = upload.id
    try:
        with worker.receiving() if worker is not None else contextlib.nullcontext():
            done = await take_completed(db, blobs, who, upload, workdir,
                                        max_files=limits.max_files_per_case)
            attachment = await add_attachment(
                db, blobs, who, audit, done.target, done.received, done.meta,
                limits=MediaLimits(max_bytes=limits.max_upload_bytes,
                                   max_pixels=limits.max_image_pixels),
                max_files=limits.max_files_per_case,
                workdir=workdir,
                derive_inline=limits.derive_inline,
            )
        finish_upload(upload, attachment.id)
        await db.commit()  # the worker reads the row in its own session
        if attachment.status == "processing":
            queue_derivation(request.app, attachment.id)
    except MediaRefused as exc:
        await _remove(db, blobs, upload_pk)
        return error_response(request, exc.status, exc.code, exc.message,
                              headers=base_headers())
    except DomainError:
        await _remove(db, blobs, upload_pk)
        raise
    finally:
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(workdir, ignore_errors=True))
    return Response(None, status_code=204, headers=_state_headers(upload))


async def _remove(db: AsyncSession, blobs: BlobStore, upload_pk: Any) -> None:
    with anyio.CancelScope(shield=True):
        await db.rollback()
        upload = await db.get(Upload, upload_pk)
        if upload is not None:
            await discard_upload(db, blobs, upload)
        await db.commit()


PAGE_CONTROLLERS: list[type] = []
API_CONTROLLERS: list[type] = [UploadApiController]
