"""Resumable uploads (tus 1.0): an upload row, its bytes in the blob store's part API, and at
the end the same checks and attachment as a plain multipart upload.

The portal (``portal/uploads/``) speaks the protocol; this module holds the rules:

- creation runs every check that can refuse before a byte is sent (the case may be submitted
  to by this user — the same access, status and file-count checks as the multipart route —
  the form fields, the byte limit);
- only the owner reaches an upload (``NotFound`` for anyone else, in any organization);
- an append starts at the stored offset (``Conflict`` otherwise) and, when the body is cut,
  the bytes that arrived are kept and the new offset committed at once: the client resumes
  from there;
- once every byte is there, :func:`take_completed` hands the stored blob over; the portal
  runs ``add_attachment`` on it (type, limits, decode proof, metadata stripping);
- an incomplete upload expires ``expire_hours`` after creation (:class:`UploadExpired`, 410)
  and :func:`sweep_expired_uploads` removes it and its parts.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import anyio
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import Conflict, NotFound
from reviewer.intake.attachments import (
    AttachmentMeta,
    ReceivedFile,
    UploadTarget,
    attachment_meta,
    prepare_upload,
)
from storage.audit import AuditContext, record_event
from storage.blobs import BlobStore, new_blob_key
from storage.blobs.parts import PART_PREFIX, PartialAppend, PartState, part_uploads
from storage.models import Upload

log = logging.getLogger("toothline.uploads")

RECEIVED_PREFIX: Final = "uploads/received"
MAX_FILENAME: Final = 255


class UploadExpired(Exception):
    """The upload's time ran out before it was complete (tus: 410 Gone)."""


@dataclass(frozen=True, slots=True)
class NewUpload:
    case_id: uuid.UUID
    length: int
    filename: str | None
    kind: str | None
    view: str | None
    teeth: str | None


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


async def create_upload(
    db: AsyncSession, blobs: BlobStore, who: Actor, audit: AuditContext, new: NewUpload, *,
    max_files: int, expire_hours: int, now: datetime | None = None,
) -> Upload:
    """Check the case and the fields, begin the part upload, then add the row."""
    target = await prepare_upload(db, who, new.case_id, None, max_files)
    meta = attachment_meta(new.kind, new.view, new.teeth)
    state = await part_uploads(blobs).begin(new_blob_key(RECEIVED_PREFIX))
    try:
        upload = Upload(
            token=secrets.token_urlsafe(32),
            organization_id=target.case.organization_id,
            owner_id=who.user_id,
            case_id=target.case.id,
            filename=(new.filename or "")[:MAX_FILENAME] or None,
            kind=meta.kind, view=meta.view, teeth=",".join(meta.teeth),
            length=new.length, offset=0, part_state=state.to_json(),
            expires_at=_now(now) + timedelta(hours=expire_hours),
        )
        db.add(upload)
        await db.flush()
        await record_event(
            db, "upload.created", audit, organization_id=upload.organization_id,
            subject_type="upload", subject_id=upload.id,
            details={"case_id": str(upload.case_id), "length": new.length},
        )
    except BaseException:
        with anyio.CancelScope(shield=True):
            await part_uploads(blobs).abort(state)
        raise
    return upload


async def get_upload(
    db: AsyncSession, who: Actor, token: str, *, for_update: bool = False,
    now: datetime | None = None, allow_expired: bool = False,
) -> Upload:
    """The caller's own upload (NotFound for every other one); UploadExpired once an
    incomplete upload's time ran out."""
    statement = select(Upload).where(
        Upload.token == token, Upload.owner_id == who.user_id,
        Upload.organization_id.in_(who.organization_ids),
    )
    if for_update:
        statement = statement.with_for_update()
    upload = await db.scalar(statement)
    if upload is None:
        raise NotFound("No such upload.", code="not_found")
    expired = upload.attachment_id is None and upload.expires_at <= _now(now)
    if expired and not allow_expired:
        raise UploadExpired
    return upload


def is_complete(upload: Upload) -> bool:
    return upload.offset >= upload.length


async def append_upload(
    db: AsyncSession, blobs: BlobStore, who: Actor, token: str, offset: int,
    chunks: AsyncIterable[bytes], *, now: datetime | None = None,
) -> Upload:
    """Store one PATCH body after the stored offset. A cut body's bytes are kept and the
    new offset committed before :class:`PartialAppend` goes on to the caller."""
    upload = await get_upload(db, who, token, for_update=True, now=now)
    if not upload.part_state:  # it became an attachment, since removed: nothing to resume
        raise UploadExpired
    if offset != upload.offset:
        raise Conflict("The upload is at another offset: ask it again (HEAD).",
                       code="offset_mismatch")
    if is_complete(upload):
        return upload
    state = PartState.from_json(upload.part_state)
    try:
        state = await part_uploads(blobs).append(
            state, chunks, max_bytes=upload.length - upload.offset
        )
    except PartialAppend as cut:
        with anyio.CancelScope(shield=True):
            _set_state(upload, cut.state)
            await db.commit()
        raise
    _set_state(upload, state)
    await db.flush()
    return upload


def _set_state(upload: Upload, state: PartState) -> None:
    upload.part_state = state.to_json()
    upload.offset = state.offset


@dataclass(frozen=True, slots=True)
class Completed:
    """A finished upload's bytes in the work folder, with what the attachment needs."""

    target: UploadTarget
    received: ReceivedFile
    meta: AttachmentMeta


async def take_completed(
    db: AsyncSession, blobs: BlobStore, who: Actor, upload: Upload, workdir: Path, *,
    max_files: int,
) -> Completed:
    """Join the parts into one blob and stream it to ``workdir`` (hashed on the way), then
    check the case again (it may have been sent or filled since creation). The blob is
    deleted here: the attachment stores its own cleaned original."""
    state = PartState.from_json(upload.part_state)
    parts = part_uploads(blobs)
    await parts.complete(state)
    path = workdir / "received"
    sha = hashlib.sha256()
    size = 0
    try:
        reader = await blobs.open(state.key)
        try:
            async with await anyio.open_file(path, "xb") as out:
                async for chunk in reader:
                    sha.update(chunk)
                    size += len(chunk)
                    await out.write(chunk)
        finally:
            await reader.aclose()
    finally:
        with anyio.CancelScope(shield=True):
            await blobs.delete(state.key)
    received = ReceivedFile(path=path, size=size, sha256=sha.hexdigest())
    target = await prepare_upload(db, who, upload.case_id, None, max_files)
    meta = attachment_meta(upload.kind, upload.view, upload.teeth)
    return Completed(target, received, meta)


def finish_upload(upload: Upload, attachment_id: uuid.UUID) -> None:
    """The upload became this attachment: parts are gone, the row answers HEADs."""
    upload.attachment_id = attachment_id
    upload.part_state = {}


async def discard_upload(db: AsyncSession, blobs: BlobStore, upload: Upload) -> None:
    """Remove the row and whatever of the upload is stored (best effort on the blobs)."""
    state = upload.part_state
    await db.execute(delete(Upload).where(Upload.id == upload.id))
    if state:
        await _abort(blobs, PartState.from_json(state))


async def _abort(blobs: BlobStore, state: PartState) -> None:
    with anyio.CancelScope(shield=True):
        try:
            await part_uploads(blobs).abort(state)
            await blobs.delete(state.key)
        except Exception:  # left for the bucket's lifecycle rule / a later sweep
            log.warning("could not remove the parts of an upload")


async def terminate_upload(
    db: AsyncSession, blobs: BlobStore, who: Actor, audit: AuditContext, token: str,
) -> None:
    """tus termination: the owner removes the upload (an attachment it became stays)."""
    upload = await get_upload(db, who, token, for_update=True, allow_expired=True)
    await record_event(
        db, "upload.terminated", audit, organization_id=upload.organization_id,
        subject_type="upload", subject_id=upload.id, details={"offset": upload.offset},
    )
    await discard_upload(db, blobs, upload)


async def sweep_stray_parts(
    db: AsyncSession, blobs: BlobStore, *, min_age: timedelta = timedelta(hours=1),
    now: datetime | None = None, dry_run: bool = False,
) -> int:
    """Blobs of uploads no row knows (a crash between "parts begun" and "row committed", or
    between "parts joined" and "joined blob deleted"), older than ``min_age``: part files
    and tail objects under ``uploads/parts/``, joined blobs under ``uploads/received/``
    (which live only seconds while an upload completes). S3 multipart uploads without a row
    are the bucket lifecycle rule's (docs/intake.md)."""
    cutoff = _now(now) - min_age
    known = {str(state.get("tail_key")) for state in await db.scalars(select(Upload.part_state))
             if state and state.get("tail_key")}
    removed = 0
    for prefix in (f"{PART_PREFIX}/", f"{RECEIVED_PREFIX}/"):
        stray = [stat.key async for stat in blobs.list(prefix)
                 if stat.modified_at <= cutoff
                 and stat.key not in known and stat.key.rsplit("/", 1)[0] not in known]
        for key in stray:
            if not dry_run:
                await blobs.delete(key)
            removed += 1
    return removed


async def sweep_expired_uploads(
    db: AsyncSession, blobs: BlobStore, *, now: datetime | None = None, dry_run: bool = False,
) -> int:
    """Remove uploads past ``expires_at`` (incomplete ones with their parts; completed ones
    are just rows by then). Commits per upload, so a failure keeps what was done."""
    rows = list(await db.scalars(select(Upload).where(Upload.expires_at <= _now(now))))
    if dry_run:
        return len(rows)
    for upload in rows:
        await discard_upload(db, blobs, upload)
        await db.commit()
    return len(rows)
