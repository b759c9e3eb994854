"""Claim packages: built after a commit, versioned, downloaded by reading only.

A package (documentation PDF, plus the claim-attachment ZIP for a case review) is built by
:func:`build_current_package`, which the job runner calls after the transaction that made the
previous version stale has committed: the evaluation signed, an addendum signed, billing's
edit of the lines, a live session recorded (:func:`rebuild_after_commit`). The PDF rendering
(fpdf2) and picture re-encoding (Pillow) run in a worker thread, never on the event loop.

Downloads only read: when the newest version is current they stream it (and audit the
download); otherwise they raise :class:`PackageNotReady`, which the portal answers with 202
and ``Retry-After`` (not audited). Versions already stored stay downloadable by id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Final

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.billing.encounters import (
    EncounterKind,
    EncounterView,
    kind_of,
    load_view,
    teledentistry_code,
)
from reviewer.billing.facts import CaseFacts, LiveFacts
from reviewer.coding.rules import ClaimLine, EncounterType
from reviewer.documents.model import AsyncRecord, LineCorrection, LiveRecord
from reviewer.documents.package import ATTACHMENT_NAME, build_claim_package
from reviewer.documents.pdf import render_live_record
from reviewer.errors import DomainError, NotFound
from reviewer.jobs import after_commit
from storage.audit import AuditContext, record_event
from storage.blobs import BlobStore, new_blob_key
from storage.models import ClaimPackage

BUILD_JOB: Final = "billing.build_package"
RETRY_AFTER_S: Final = 5


class PackageNotReady(DomainError):
    """The encounter's current package is still being built: try again shortly (202)."""

    code = "package_building"
    kind = "accepted"
    retry_after = RETRY_AFTER_S


def attachment_control_number(encounter_id: str, version: int) -> str:
    """Stable per encounter and version; no PHI (the 837D PWK06 value)."""
    digest = hashlib.sha256(encounter_id.encode()).hexdigest()[:12].upper()
    return f"TL{digest}V{version:02d}"


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _priced_apart(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lines without their fees: the documents do not print fees, so a change of the fee
    schedule does not make a package stale."""
    return [{k: v for k, v in line.items() if k != "fee"} for line in lines]


def current_package(view: EncounterView, kind: EncounterKind) -> ClaimPackage | None:
    """The newest version if it holds the current lines and is newer than the last signature."""
    latest = view.packages[0] if view.packages else None
    if latest is None or _priced_apart(latest.lines) != _priced_apart(
        [line.as_dict() for line in view.lines]
    ):
        return None
    if _aware(latest.created_at) < _aware(kind.signed_at(view.facts)):
        return None
    return latest


def rebuild_after_commit(
    db: AsyncSession, kind: EncounterType | str, encounter_id: uuid.UUID, actor: Actor | None
) -> None:
    """Queue the build of the encounter's current package for after this commit."""
    payload = {"kind": str(kind), "encounter_id": str(encounter_id)}
    if actor is not None:
        payload |= {"actor_id": str(actor.user_id), "actor_role": str(actor.role)}
    after_commit(db, BUILD_JOB, payload)


def with_corrections(
    facts: CaseFacts | LiveFacts, corrections: list[dict[str, Any]], *, made_at: dt.datetime
) -> CaseFacts | LiveFacts:
    """The facts whose documents print billing's corrections below the signed lines, dated
    when they are made."""
    record = facts.record
    if corrections:
        record = dataclasses.replace(
            record,
            signed_lines=tuple(ClaimLine.from_dict(r) for r in corrections[0]["before"]),
            corrections=tuple(
                LineCorrection(
                    at=dt.datetime.fromisoformat(c["at"]), by=str(c["by"]),
                    reason=str(c["reason"]),
                    lines=tuple(ClaimLine.from_dict(r) for r in c["after"]),
                )
                for c in corrections
            ),
        )
    record = dataclasses.replace(record, made_at=made_at)
    if isinstance(facts, CaseFacts):
        assert isinstance(record, AsyncRecord)
        return dataclasses.replace(facts, record=record)
    assert isinstance(record, LiveRecord)
    return dataclasses.replace(facts, record=record)


@dataclass(frozen=True)
class _Files:
    pdf: bytes
    pdf_sha256: str
    zip: bytes | None = None
    zip_sha256: str | None = None


def _render(facts: CaseFacts | LiveFacts, acn: str, version: int) -> _Files:
    """CPU work (fpdf2, Pillow): called in a worker thread."""
    if isinstance(facts, CaseFacts):
        built = build_claim_package(
            facts.record, facts.profile, attachment_control_number=acn, version=version
        )
        return _Files(built.record_pdf, built.record_sha256, built.zip_bytes, built.zip_sha256)
    pdf = render_live_record(facts.record, version=version)
    return _Files(pdf, hashlib.sha256(pdf).hexdigest())


async def _store(blobs: BlobStore, prefix: str, data: bytes) -> str:
    key = new_blob_key(prefix)
    await blobs.put(key, data)
    return key


async def build_current_package(
    db: AsyncSession, blobs: BlobStore, kind: EncounterType | str, encounter_id: uuid.UUID, *,
    ctx: AuditContext | None = None,
) -> ClaimPackage | None:
    """Build (and flush; the caller commits) a new version unless the newest is current.

    Returns the current package, or None when the encounter is gone or not billable. Two
    builders racing for one version: the unique (encounter, version) index refuses one.
    """
    adapter = kind_of(kind)
    subject = await db.get(adapter.model, encounter_id)
    if subject is None:
        return None
    view = await load_view(db, adapter, subject, store=True)
    found = current_package(view, adapter)
    if found is not None:
        return found
    latest = view.packages[0] if view.packages else None
    version = (latest.version + 1) if latest else 1
    acn = attachment_control_number(str(encounter_id), version)
    # The pictures are read only when a new version is built.
    facts = with_corrections(
        await adapter.facts(db, subject, view.lines, blobs), view.billing.corrections or [],
        made_at=dt.datetime.now(dt.UTC),
    )
    files: _Files = await anyio.to_thread.run_sync(
        functools.partial(_render, facts, acn, version)
    )
    # Blobs first, then the row: a crash in between leaves unreferenced blobs (swept), never
    # a row pointing at nothing.
    pdf_key = await _store(blobs, "claim-packages/record", files.pdf)
    keys = [pdf_key]
    try:
        zip_key = await _store(blobs, "claim-packages/zip", files.zip) if files.zip else None
        if zip_key:
            keys.append(zip_key)
        ctx = ctx or AuditContext(actor_role="system")
        package = ClaimPackage(
            organization_id=subject.organization_id,
            case_id=subject.id if adapter.subject_type == "case" else None,
            live_session_id=subject.id if adapter.subject_type == "live_session" else None,
            encounter_type=str(adapter.encounter_type),
            version=version,
            attachment_control_number=acn,
            pdf_key=pdf_key,
            pdf_sha256=files.pdf_sha256,
            zip_key=zip_key,
            zip_sha256=files.zip_sha256,
            zip_size=len(files.zip) if files.zip else None,
            lines=[line.as_dict() for line in view.lines],
            created_by_id=ctx.actor_id,
        )
        db.add(package)
        await db.flush()
    except BaseException:
        for key in keys:
            await blobs.delete(key)
        raise
    await record_event(
        db, "claim_package.generated", ctx, organization_id=subject.organization_id,
        subject_type=adapter.subject_type, subject_id=subject.id,
        details={"version": version, "package_id": str(package.id),
                 "encounter": str(adapter.encounter_type)},
    )
    return package


# --- downloads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    key: str
    filename: str
    media_type: str
    size: int | None
    package: ClaimPackage


async def _current_for_download(
    db: AsyncSession, actor: Actor, kind: EncounterType, encounter_id: uuid.UUID
) -> ClaimPackage:
    adapter = kind_of(kind)
    subject = await adapter.visible(db, actor, encounter_id)
    view = await load_view(db, adapter, subject)
    package = current_package(view, adapter)
    if package is None:
        raise PackageNotReady(
            "The documents of this encounter are being prepared; try again in a few seconds."
        )
    return package


async def download_case_document(
    db: AsyncSession, blobs: BlobStore, actor: Actor, ctx: AuditContext, case_id: uuid.UUID,
    which: str,
) -> Download:
    """``which``: ``"record"`` (documentation.pdf) or ``"zip"`` (claim-attachment.zip) of the
    current package; :class:`PackageNotReady` while it is being built."""
    package = await _current_for_download(db, actor, EncounterType.ASYNCHRONOUS, case_id)
    return await _download(db, ctx, package, which)


async def download_live_document(
    db: AsyncSession, blobs: BlobStore, actor: Actor, ctx: AuditContext, session_id: uuid.UUID
) -> Download:
    package = await _current_for_download(db, actor, EncounterType.SYNCHRONOUS, session_id)
    return await _download(db, ctx, package, "record")


async def download_package_file(
    db: AsyncSession, actor: Actor, ctx: AuditContext, package_id: uuid.UUID, which: str
) -> Download:
    """A stored version (older ones included) of a package the actor may read."""
    package = await db.get(ClaimPackage, package_id)
    if package is None:
        raise NotFound("No such package.")
    encounter_id = package.case_id or package.live_session_id
    if encounter_id is None:
        raise NotFound("No such package.")
    await kind_of(package.encounter_type).visible(db, actor, encounter_id)
    return await _download(db, ctx, package, which)


async def _download(
    db: AsyncSession, ctx: AuditContext, package: ClaimPackage, which: str
) -> Download:
    code = teledentistry_code(package.encounter_type)
    if which == "record":
        action = "documentation.downloaded"
        result = Download(
            key=package.pdf_key, filename=f"{code}-record-v{package.version}.pdf",
            media_type="application/pdf", size=None, package=package,
        )
    elif which == "zip" and package.zip_key:
        action = "claim_package.downloaded"
        result = Download(
            key=package.zip_key,
            filename=f"claim-attachment-{package.attachment_control_number}.zip",
            media_type="application/zip", size=package.zip_size, package=package,
        )
    else:
        raise NotFound("This encounter has no claim-attachment package.")
    subject: tuple[str, Any] = ("case", package.case_id) if package.case_id else (
        "live_session", package.live_session_id
    )
    await record_event(
        db, action, ctx, organization_id=package.organization_id,
        subject_type=subject[0], subject_id=subject[1],
        details={"package_id": str(package.id), "version": package.version,
                 "file": ATTACHMENT_NAME if which == "zip" else f"{code}-record"},
    )
    return result
