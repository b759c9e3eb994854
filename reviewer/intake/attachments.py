"""Attachments: a received file becomes a cleaned original and two derivatives in the blob
store, and only then a row.

Order matters (after warehouse's uploads): blobs first, under random keys, then the row in the
caller's transaction. Any failure before the row is flushed deletes the blobs already written;
a crash between the blob writes and the commit leaves blobs no row points at, which
``storage.blobs.sweep`` (``toothline blobs sweep``) removes after an hour. A removed
attachment loses its row only: its blobs become orphans for the sweep, so a rolled-back
removal never leaves a row pointing at a deleted blob.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

import anyio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import get_case
from reviewer.actor import Actor
from reviewer.cases.state import CaseAction, transition
from reviewer.coding.teeth import normalize_tooth
from reviewer.errors import Conflict, Invalid, NotFound
from reviewer.intake.cases import get_submittable_case
from reviewer.intake.identity import HELD, hold_record, identity_mismatches, is_held
from reviewer.vocabulary import (
    ATTACHMENT_VIEWS,
    DEFAULT_KIND,
    DEFAULT_VIEW,
    AttachmentKind,
    attachment_view,
    view_names,
)
from storage.audit import AuditContext, record_event, record_view
from storage.blobs import BlobReader, BlobStore, PutResult, new_blob_key, store_file
from storage.media import MediaLimits, Validated, Views, derive_views, validate_and_clean
from storage.media.dicom_identity import read_dicom_identity
from storage.models import Attachment, Case, Patient

log = logging.getLogger("toothline.intake")

KINDS: Final = tuple(str(kind) for kind in AttachmentKind)
VIEWS: Final = view_names()
"""The views intake accepts: :data:`reviewer.vocabulary.ATTACHMENT_VIEWS`, the one list."""
VARIANTS: Final = ("original", "display", "thumbnail")
BLOB_PREFIX: Final = "attachments"
MAX_TEETH: Final = 32


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    """A file part streamed to a temporary file (by the portal), hashed on the way."""

    path: Path
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class AttachmentMeta:
    kind: str
    view: str
    teeth: tuple[str, ...]
    upload_key: str | None = None
    """The client's Idempotency-Key for this file: a retried upload creates nothing twice."""


def attachment_meta(
    kind: str | None, view: str | None, teeth: str | None, upload_key: str | None = None
) -> AttachmentMeta:
    """Check the form fields sent with a file (Invalid on a wrong value)."""
    kind = (kind or DEFAULT_KIND).strip()
    if kind not in KINDS:
        raise Invalid("kind is photo or radiograph.", code="invalid_kind")
    view = (view or DEFAULT_VIEW).strip()
    known = attachment_view(view)
    if known is None:
        raise Invalid(f"view is one of: {', '.join(VIEWS)}.", code="invalid_view")
    if AttachmentKind(kind) not in known.kinds:  # a photo view for an X-ray, or vice versa
        fits = ", ".join(v.name for v in ATTACHMENT_VIEWS if AttachmentKind(kind) in v.kinds)
        raise Invalid(f"A {kind}'s view is one of: {fits}.", code="invalid_view")
    numbers: list[str] = []
    for raw in (teeth or "").replace(" ", ",").split(","):
        if raw.strip():
            tooth = normalize_tooth(raw)
            if tooth not in numbers:
                numbers.append(tooth)
    if len(numbers) > MAX_TEETH:
        raise Invalid("At most 32 teeth per picture.", code="invalid_teeth")
    key = (upload_key or "").strip()[:128] or None
    return AttachmentMeta(kind=kind, view=view, teeth=tuple(numbers), upload_key=key)


async def _count(db: AsyncSession, case_id: uuid.UUID) -> int:
    return int(
        await db.scalar(select(func.count()).where(Attachment.case_id == case_id)) or 0
    )


def _too_many(max_files: int) -> Conflict:
    return Conflict(
        f"A case holds at most {max_files} files. Remove one before adding another.",
        code="too_many_files",
    )


@dataclass(frozen=True, slots=True)
class UploadTarget:
    case: Case
    existing: Attachment | None
    """Set when the upload key was seen before: answer it, store nothing."""


async def prepare_upload(
    db: AsyncSession, actor: Actor, case_id: uuid.UUID, upload_key: str | None, max_files: int
) -> UploadTarget:
    """Everything that can refuse an upload before its body is read: access, the case's
    status, a repeated upload key, the per-case file limit."""
    case = await get_submittable_case(db, actor, case_id)
    transition(case.status, CaseAction.ADD_INFORMATION)
    upload_key = (upload_key or "").strip()[:128] or None
    if upload_key:
        rows = await db.scalars(
            select(Attachment).where(
                Attachment.case_id == case.id, Attachment.uploaded_by_id == actor.user_id
            )
        )
        for row in rows:
            if (row.provenance or {}).get("upload_key") == upload_key:
                return UploadTarget(case, row)
    if await _count(db, case.id) >= max_files:
        raise _too_many(max_files)
    return UploadTarget(case, None)


def provenance_of(
    checked: Validated, meta: AttachmentMeta, puts: dict[str, Any]
) -> dict[str, Any]:
    return {
        "received": {
            "sha256": checked.received_sha256,
            "size": checked.received_size,
            "media_type": checked.media_type,
        },
        "removed": list(checked.removed),
        "derived": list(checked.derived),
        "stored": puts,
        "bits_per_sample": checked.bits_per_sample,
        "radiograph_like": checked.is_radiograph_like,
        "upload_key": meta.upload_key,
    }


def quality_json(kind: str, views: Views) -> dict[str, Any] | None:
    """The quality scores to store: photos only (a radiograph's or a document's sharpness and
    exposure mean nothing to the photo thresholds)."""
    if kind != "photo" or views.quality is None:
        return None
    return views.quality.as_json()


async def put_views(blobs: BlobStore, views: Views, written: list[str]) -> dict[str, PutResult]:
    """Store the display and thumbnail JPEGs (their keys go on ``written`` as they land)."""
    stored: dict[str, PutResult] = {}
    for variant, data in (("display", views.display_jpeg), ("thumbnail", views.thumbnail_jpeg)):
        blob = await blobs.put(
            new_blob_key(f"{BLOB_PREFIX}/{variant}"), data, content_type="image/jpeg"
        )
        written.append(blob.key)
        stored[variant] = blob
    return stored


async def delete_blobs(blobs: BlobStore, keys: list[str]) -> None:
    """Best effort, shielded from cancellation: what is left is the sweep's."""
    with anyio.CancelScope(shield=True):
        for key in keys:
            try:
                await blobs.delete(key)
            except Exception:  # the sweep removes it later
                log.warning("could not delete blob %s", key)


async def add_attachment(
    db: AsyncSession,
    blobs: BlobStore,
    actor: Actor,
    ctx: AuditContext,
    target: UploadTarget,
    received: ReceivedFile,
    meta: AttachmentMeta,
    *,
    limits: MediaLimits,
    max_files: int,
    workdir: Path,
    derive_inline: bool = True,
) -> Attachment:
    """Check and clean the received file, store its blobs, then add the row.

    Everything that can refuse the file (``storage.media.MediaRefused``, nothing stored) runs
    here. With ``derive_inline`` the display and thumbnail are made and stored too and the row
    is ``ready``; otherwise only the cleaned original is stored and the row is ``processing``
    until ``reviewer.intake.derivation.derive_attachment`` has made its views.
    """
    case = target.case
    checked = await anyio.to_thread.run_sync(
        partial(
            validate_and_clean, received.path, limits, workdir,
            received=(received.sha256, received.size),
            digest_original=False,  # the blob store's put hashes what it stores
        )
    )
    hold = await _identity_hold(db, case, received.path, checked.media_type)
    written: list[str] = []
    try:
        views = None
        if derive_inline:
            views = await anyio.to_thread.run_sync(
                derive_views, checked.original_path, checked.media_type
            )
        original = await store_file(
            blobs, new_blob_key(f"{BLOB_PREFIX}/original"), checked.original_path,
            content_type=checked.original_content_type,
        )
        written.append(original.key)
        puts: dict[str, Any] = {"original": {"sha256": original.sha256, "size": original.size}}
        derived: dict[str, PutResult] = {}
        if views is not None:
            derived = await put_views(blobs, views, written)
            puts.update(
                {name: {"sha256": b.sha256, "size": b.size} for name, b in derived.items()}
            )
        attachment = Attachment(
            case_id=case.id,
            organization_id=case.organization_id,
            kind=meta.kind,
            view=meta.view,
            teeth=",".join(meta.teeth),
            status=("processing" if views is None else HELD if hold else "ready"),
            media_type=checked.media_type,
            content_type=checked.original_content_type,
            original_key=original.key,
            display_key=derived["display"].key if derived else None,
            thumbnail_key=derived["thumbnail"].key if derived else None,
            received_sha256=checked.received_sha256,
            received_size=checked.received_size,
            original_sha256=original.sha256,
            original_size=original.size,
            display_sha256=derived["display"].sha256 if derived else None,
            width=checked.width,
            height=checked.height,
            captured_at=checked.captured_at,
            provenance=provenance_of(checked, meta, puts),
            uploaded_by_id=actor.user_id,
            dicom_identity=hold,
            quality=quality_json(meta.kind, views) if views is not None else None,
        )
        db.add(attachment)
        await db.flush()
        if await _count(db, case.id) > max_files:  # a parallel upload took the last place
            raise _too_many(max_files)
        await record_event(
            db,
            "attachment.added",
            ctx,
            organization_id=case.organization_id,
            subject_type="attachment",
            subject_id=attachment.id,
            details={"case_id": str(case.id), "kind": meta.kind, "view": meta.view,
                     "media_type": checked.media_type, "removed": list(checked.removed)},
        )
        if hold is not None:
            await record_event(
                db, "attachment.identity_held", ctx, organization_id=case.organization_id,
                subject_type="attachment", subject_id=attachment.id,
                details={"case_id": str(case.id), "mismatched": hold["mismatched"]},
            )
    except BaseException:
        await delete_blobs(blobs, written)
        raise
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.Path(checked.original_path).unlink(missing_ok=True)
    return attachment


async def _identity_hold(
    db: AsyncSession, case: Case, received: Path, media_type: str
) -> dict[str, Any] | None:
    """The ``dicom_identity`` to keep when a DICOM's own patient tags disagree with the
    case's patient (reviewer.intake.identity), else None."""
    if media_type != "dicom":
        return None
    identity = await anyio.to_thread.run_sync(read_dicom_identity, received)
    if identity.empty:
        return None
    patient = await db.get_one(Patient, case.patient_id)
    mismatched = identity_mismatches(patient, identity)
    return hold_record(identity, mismatched) if mismatched else None


async def remove_attachment(
    db: AsyncSession, actor: Actor, ctx: AuditContext, case_id: uuid.UUID,
    attachment_id: uuid.UUID,
) -> None:
    """Remove a file from a draft (or a case returned for information)."""
    case = await get_submittable_case(db, actor, case_id)
    transition(case.status, CaseAction.ADD_INFORMATION)
    attachment = await db.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.case_id == case.id)
    )
    if attachment is None:
        raise NotFound("No such file.")
    await db.delete(attachment)
    await db.flush()
    await record_event(
        db, "attachment.removed", ctx, organization_id=case.organization_id,
        subject_type="attachment", subject_id=attachment_id,
        details={"case_id": str(case.id)},
    )


@dataclass(frozen=True, slots=True)
class AttachmentFile:
    """What to stream for one variant; ``reader`` is None while it is still being made."""

    attachment: Attachment
    variant: str
    content_type: str
    size: int | None
    reader: BlobReader | None

    @property
    def ready(self) -> bool:
        return self.reader is not None


async def open_attachment_file(
    db: AsyncSession,
    blobs: BlobStore,
    actor: Actor,
    ctx: AuditContext,
    case_id: uuid.UUID,
    attachment_id: uuid.UUID,
    variant: str,
) -> AttachmentFile:
    """Check access, open the blob and record the view (every request, every variant).

    A variant still being made answers without a reader and records nothing: an image that
    is not there yet is not a view of PHI (the upload widget polls it)."""
    if variant not in VARIANTS:
        raise NotFound("No such file.")
    case = await get_case(db, actor, case_id)
    attachment = await db.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.case_id == case.id)
    )
    if attachment is None:
        raise NotFound("No such file.")
    if variant == "original":
        key: str | None = attachment.original_key
        content_type, size = attachment.content_type, attachment.original_size
    else:
        key = attachment.display_key if variant == "display" else attachment.thumbnail_key
        content_type, size = "image/jpeg", None
    if is_held(attachment):  # maybe another patient's: shown to no one until confirmed
        raise Conflict("This file is held until its patient identity is checked.",
                       code="identity_held")
    if variant != "original" and attachment.status != "ready":
        return AttachmentFile(attachment, variant, content_type, size, None)  # being made
    if key is None:  # ready, but its views could not be made (see reviewer.intake.derivation)
        raise NotFound("This file has no preview; download the original instead.",
                       code="no_preview")
    reader = await blobs.open(key)
    record_view(
        db, "attachment.viewed", ctx, organization_id=case.organization_id,
        subject_type="attachment", subject_id=attachment.id, case_id=case.id,
        attachment_id=attachment.id, details={"variant": variant},
    )
    return AttachmentFile(attachment, variant, content_type, size, reader)
