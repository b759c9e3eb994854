"""An organization's DICOMweb archive and what was sent to it (docs/interop.md "DICOMweb").

The settings are the organization admin's (read and change); a send is queued by signing (when
the organization has an enabled archive, :func:`archive_on_signed`) or by a dentist or admin of
the case's organization (:func:`queue_send`, "Send to archive"). The send itself is the job
``interop.send_to_archive`` (``reviewer/interop/dicomweb.py``), after the commit. Every object
is checked against the caller's organizations: another organization's settings or case is 404.
The password is write-only: no answer, log line or audit event carries it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import Conflict, Forbidden, Invalid, NotFound
from reviewer.interop.dicom_wrap import study_uid
from reviewer.jobs import after_commit
from storage.audit import AuditContext, record_event
from storage.models import Case, Evaluation, Role
from storage.models.archive import ArchiveSend, ArchiveSettings
from storage.sealed import seal

ARCHIVE_JOB: Final = "interop.send_to_archive"
SETTINGS_ADMINS: Final = frozenset({Role.ADMIN})
SENDERS: Final = frozenset({Role.DENTIST, Role.ADMIN})
"""Who may queue a send or read its status: a dentist or admin of the case's organization."""


class InvalidArchiveSettings(Invalid):
    code = "invalid_archive_settings"


class NoArchive(Conflict):
    code = "no_archive"


class NotSigned(Conflict):
    code = "case_not_signed"


@dataclass(frozen=True, slots=True)
class ArchiveInput:
    base_url: str
    restore_identity: bool = False
    enabled: bool = False
    username: str | None = None
    password: str | None = None
    """``None`` keeps the stored password; ``""`` removes it."""


def checked_url(value: str) -> str:
    """An ``http(s)://host[:port]/path`` DICOMweb root without credentials, query or
    fragment, its trailing slash dropped."""
    url = value.strip()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a bad port
    except ValueError:
        raise InvalidArchiveSettings("The archive URL is not a URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArchiveSettings("The archive URL starts with https:// (or http://).")
    if parts.username or parts.password:
        raise InvalidArchiveSettings("Give the user and password in their own fields, "
                                     "not in the URL.")
    if parts.query or parts.fragment:
        raise InvalidArchiveSettings("The archive URL has no ?query or #fragment.")
    if len(url) > 500:
        raise InvalidArchiveSettings("The archive URL is at most 500 characters.")
    del port
    return url.rstrip("/")


def _require_admin(actor: Actor, organization_id: uuid.UUID) -> None:
    if actor.role not in SETTINGS_ADMINS:
        raise Forbidden("Only an administrator sets up the archive.")
    if not actor.in_org(organization_id):
        raise NotFound("No such organization.")


async def get_settings(
    db: AsyncSession, actor: Actor, organization_id: uuid.UUID
) -> ArchiveSettings | None:
    """The organization's archive (``None``: none set up)."""
    _require_admin(actor, organization_id)
    return await settings_of(db, organization_id)


def password_purpose(organization_id: uuid.UUID) -> str:
    """What a sealed archive password is bound to (``storage/sealed.py``)."""
    return f"archive_settings.password:{organization_id}"


async def settings_of(db: AsyncSession, organization_id: uuid.UUID) -> ArchiveSettings | None:
    return await db.scalar(
        select(ArchiveSettings).where(ArchiveSettings.organization_id == organization_id))


async def save_settings(
    db: AsyncSession, actor: Actor, ctx: AuditContext, organization_id: uuid.UUID,
    data: ArchiveInput,
) -> ArchiveSettings:
    """Create or replace the organization's archive (audited, without the password)."""
    _require_admin(actor, organization_id)
    url = checked_url(data.base_url)
    username = (data.username or "").strip() or None
    if username is not None and len(username) > 200:
        raise InvalidArchiveSettings("The user name is at most 200 characters.")
    if data.password is not None and len(data.password) > 500:
        raise InvalidArchiveSettings("The password is at most 500 characters.")
    row = await settings_of(db, organization_id)
    if row is None:
        row = ArchiveSettings(organization_id=organization_id, base_url=url)
        db.add(row)
    row.base_url = url
    row.username = username
    if data.password is not None:
        row.password = (seal(data.password, password_purpose(organization_id))
                        if data.password else None)
    if row.username is None:
        row.password = None
    row.restore_identity = data.restore_identity
    row.enabled = data.enabled
    await db.flush()
    await record_event(
        db, "archive_settings.changed", ctx, organization_id=organization_id,
        subject_type="organization", subject_id=organization_id,
        details={"host": urlsplit(url).hostname, "enabled": row.enabled,
                 "restore_identity": row.restore_identity,
                 "basic_auth": row.username is not None,
                 "password_changed": data.password is not None},
    )
    return row


async def _case_for_sender(db: AsyncSession, actor: Actor, case_id: uuid.UUID) -> Case:
    if actor.role not in SENDERS:
        raise Forbidden("Only a dentist or an administrator sends a case to the archive.")
    case = await db.get(Case, case_id)
    if case is None or not actor.in_org(case.organization_id):
        raise NotFound("No such case.")
    return case


async def _signed(db: AsyncSession, case_id: uuid.UUID) -> bool:
    return await db.scalar(select(Evaluation.id).where(
        Evaluation.case_id == case_id, Evaluation.status == "signed")) is not None


async def send_of(db: AsyncSession, case_id: uuid.UUID) -> ArchiveSend | None:
    return await db.scalar(select(ArchiveSend).where(ArchiveSend.case_id == case_id))


async def _queue(db: AsyncSession, case: Case) -> ArchiveSend:
    """The case's send record back to ``queued`` (attempts from 0), the job after commit."""
    record = await send_of(db, case.id)
    if record is None:
        record = ArchiveSend(case_id=case.id, organization_id=case.organization_id,
                             study_instance_uid=study_uid(case.id))
        db.add(record)
    record.state = "queued"
    record.attempts = 0
    record.last_error = None
    await db.flush()
    after_commit(db, ARCHIVE_JOB, {"case_id": str(case.id)})
    return record


async def queue_send(
    db: AsyncSession, actor: Actor, ctx: AuditContext, case_id: uuid.UUID
) -> ArchiveSend:
    """"Send to archive" (or again): the case must be signed and its organization's archive
    enabled (409 otherwise)."""
    case = await _case_for_sender(db, actor, case_id)
    settings = await settings_of(db, case.organization_id)
    if settings is None or not settings.enabled:
        raise NoArchive("This organization has no archive turned on (Administration → "
                        "Archive).")
    if not await _signed(db, case.id):
        raise NotSigned("Only a signed case is sent to the archive.")
    record = await _queue(db, case)
    await record_event(db, "archive.queued", ctx, organization_id=case.organization_id,
                       subject_type="case", subject_id=case.id, details={"by": "staff"})
    return record


async def send_status(db: AsyncSession, actor: Actor, case_id: uuid.UUID) -> ArchiveSend | None:
    """The case's send record (``None``: never sent)."""
    case = await _case_for_sender(db, actor, case_id)
    return await send_of(db, case.id)


async def send_view(
    db: AsyncSession, actor: Actor, case_id: uuid.UUID
) -> tuple[ArchiveSend | None, bool]:
    """The case's send record and whether its organization's archive is turned on (what the
    case page shows)."""
    case = await _case_for_sender(db, actor, case_id)
    settings = await settings_of(db, case.organization_id)
    return await send_of(db, case.id), bool(settings and settings.enabled)


async def archive_on_signed(db: AsyncSession, case: Case, ctx: AuditContext) -> None:
    """Called in the signing transaction: queue the send when the organization has an
    enabled archive (the job runs after the commit; nothing is sent on a rollback)."""
    settings = await settings_of(db, case.organization_id)
    if settings is None or not settings.enabled:
        return
    await _queue(db, case)
    await record_event(db, "archive.queued", ctx, organization_id=case.organization_id,
                       subject_type="case", subject_id=case.id, details={"by": "signing"})
