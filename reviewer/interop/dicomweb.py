"""Send a signed case's pictures to its organization's archive with STOW-RS (docs/interop.md
"DICOMweb").

The job ``interop.send_to_archive`` (:func:`send_to_archive_job`, payload ``case_id``) reads
the case's photos and radiographs from the blob store, wraps them
(``reviewer/interop/dicom_wrap.py``) and posts them in one STOW-RS request with
``dicomweb_client``. That client is synchronous (``requests``), and the wrapping reads image
headers, so both run in a worker thread, never on the event loop.

Every attempt is written to the case's :class:`ArchiveSend` (state, attempts, last error,
sent time) and audited. A failed attempt raises :class:`ArchiveSendFailed` after its commit,
so the job runner tries again with its back-off; :func:`archive_sweep` (part of the runner's
sweep) tries queued and failed sends again, each after a back-off that doubles per attempt,
until :data:`MAX_ATTEMPTS`. A resend ("Send to archive") starts the count again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import anyio.to_thread
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.clock import as_utc, now_utc
from reviewer.interop import dicom_wrap
from reviewer.interop.archive import password_purpose, settings_of
from reviewer.labels import label
from storage.audit import AuditContext, record_event
from storage.blobs import BlobStore
from storage.blobs.base import BlobError
from storage.models import Attachment, Case, Patient
from storage.models.archive import ArchiveSend, ArchiveSettings
from storage.sealed import SealBroken, unseal

log = logging.getLogger("toothline.interop.dicomweb")

MAX_ATTEMPTS: Final = 8
RETRY_BASE_S: Final = 60.0
RETRY_MAX_S: Final = 6 * 3600.0
QUEUED_GRACE_S: Final = 120.0
"""A queued send younger than this is left to its own job (queued at commit)."""
SWEEP_BATCH: Final = 20
TIMEOUT_S: Final = 60.0
ERROR_CHARS: Final = 500
SENT_KINDS: Final = ("photo", "radiograph")
SYSTEM: Final = AuditContext(actor_id=None, actor_role="system")


class ArchiveSendFailed(Exception):
    """An attempt failed and was recorded; raised so the job runner tries again."""


class ArchiveRefused(Exception):
    """The archive answered, but did not store every instance."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    username: str | None
    password: str | None


def retry_after_s(attempts: int) -> float:
    """How long the sweep waits after a send's ``attempts``-th failure."""
    return float(min(RETRY_BASE_S * 2 ** max(attempts - 1, 0), RETRY_MAX_S))


def _describe(exc: BaseException) -> str:
    """The error as staff read it: its kind and the archive's answer (URLs, never PHI)."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def _password(settings: ArchiveSettings) -> str | None:
    if not settings.password:
        return None
    try:
        return unseal(settings.password, password_purpose(settings.organization_id))
    except SealBroken as exc:
        raise ValueError("the stored archive password does not open (was TOOTHLINE_AUDIT_KEY "
                         "changed?): enter it again on /admin/archive") from exc


def store(target: Target, datasets: Sequence[Dataset]) -> int:
    """POST ``datasets`` in one STOW-RS request (blocking: call it in a worker thread); the
    number of instances the archive stored. Raises on an HTTP or network error, and
    :class:`ArchiveRefused` when the answer lists failed instances."""
    session = requests.Session()
    try:
        if target.username:
            session.auth = (target.username, target.password or "")
        client = DICOMwebClient(target.url, session=session, timeout=TIMEOUT_S)
        # one attempt per job: the job runner and the sweep do the retrying (and record it),
        # not the client's own exponential wait inside a worker thread
        client.set_http_retry_params(retry=False)
        answer = client.store_instances(list(datasets))
    finally:
        session.close()
    failed = list(answer.get("FailedSOPSequence", []) or [])
    if failed:
        reasons = sorted({str(item.get("FailureReason", "?")) for item in failed})
        raise ArchiveRefused(f"the archive refused {len(failed)} of {len(datasets)} "
                             f"instances (failure reason {', '.join(reasons)})")
    return len(list(answer.get("ReferencedSOPSequence", []) or [])) or len(datasets)


@dataclass(frozen=True, slots=True)
class _Picture:
    tags: dicom_wrap.ImageTags
    kind: str
    dicom: bool
    data: bytes


async def _pictures(db: AsyncSession, blobs: BlobStore, case_id: uuid.UUID) -> list[_Picture]:
    rows = (await db.scalars(
        select(Attachment)
        .where(Attachment.case_id == case_id, Attachment.kind.in_(SENT_KINDS),
               Attachment.status == "ready")
        .order_by(Attachment.created_at, Attachment.id)
    )).all()
    pictures = []
    for number, row in enumerate(rows, start=1):
        dicom = row.kind == "radiograph" and row.media_type == "dicom"
        key = row.original_key if dicom else row.display_key
        if key is None:
            raise dicom_wrap.NotWrappable("an image has no display picture yet")
        tags = dicom_wrap.ImageTags(
            attachment_id=row.id, number=number, view=label(row.view, "view"),
            teeth=row.teeth, captured_at=row.captured_at,
        )
        pictures.append(_Picture(tags, row.kind, dicom, await blobs.read(key)))
    return pictures


def wrap_all(
    pictures: Sequence[_Picture], patient: dicom_wrap.PatientTags, study: dicom_wrap.StudyTags
) -> list[Dataset]:
    """Every picture as an instance (blocking: Pillow reads headers)."""
    return [
        dicom_wrap.wrap_radiograph(p.data, patient, study, p.tags) if p.dicom else
        dicom_wrap.wrap_picture(p.data, patient, study, p.tags,
                                radiograph=p.kind == "radiograph")
        for p in pictures
    ]


async def _datasets(
    db: AsyncSession, blobs: BlobStore, case: Case, settings: ArchiveSettings
) -> list[Dataset]:
    patient = await db.get(Patient, case.patient_id)
    if patient is None:
        raise LookupError("the case has no patient")
    tags = dicom_wrap.patient_tags(
        patient.id, patient.last_name, patient.first_name, patient.date_of_birth,
        restore_identity=settings.restore_identity,
    )
    study = dicom_wrap.StudyTags(
        case_id=case.id,
        study_date=case.collected_on or (as_utc(case.submitted_at).date()
                                         if case.submitted_at else None),
        description=label(case.kind, "case_kind"),
    )
    pictures = await _pictures(db, blobs, case.id)
    if not pictures:
        raise dicom_wrap.NotWrappable("the case has no photo or radiograph to send")
    return await anyio.to_thread.run_sync(wrap_all, pictures, tags, study)


async def _fail(db: AsyncSession, record: ArchiveSend, message: str) -> None:
    record.state = "failed"
    record.last_error = message
    await db.flush()
    await record_event(db, "archive.failed", SYSTEM, organization_id=record.organization_id,
                       subject_type="case", subject_id=record.case_id,
                       details={"attempt": record.attempts, "error": message})
    await db.commit()


async def send_case(db: AsyncSession, blobs: BlobStore, case_id: uuid.UUID) -> ArchiveSend | None:
    """One attempt at the case's queued or failed send, recorded and committed. Raises
    :class:`ArchiveSendFailed` after recording a failure that is worth trying again."""
    record = await db.scalar(select(ArchiveSend).where(ArchiveSend.case_id == case_id))
    if record is None or record.state == "sent" or record.attempts >= MAX_ATTEMPTS:
        return record
    settings = await settings_of(db, record.organization_id)
    case = await db.get(Case, case_id)
    if settings is None or not settings.enabled or case is None:
        await _fail(db, record, "The organization's archive is turned off.")
        return record
    record.attempts += 1
    try:
        datasets = await _datasets(db, blobs, case, settings)
        password = _password(settings)
        target = Target(settings.base_url, settings.username, password)
        stored = await anyio.to_thread.run_sync(store, target, datasets)
    except (requests.RequestException, ArchiveRefused, dicom_wrap.NotWrappable, BlobError,
            LookupError, ValueError) as exc:
        message = _describe(exc)
        log.warning("archive send of case %s failed (attempt %d): %s", case_id,
                    record.attempts, message)
        await _fail(db, record, message)
        if record.attempts < MAX_ATTEMPTS:
            raise ArchiveSendFailed(message) from exc
        return record
    record.state = "sent"
    record.sent_at = now_utc()
    record.instances = stored
    record.last_error = None
    record.study_instance_uid = dicom_wrap.study_uid(case.id)
    await db.flush()
    await record_event(db, "archive.sent", SYSTEM, organization_id=record.organization_id,
                       subject_type="case", subject_id=case.id,
                       details={"attempt": record.attempts, "instances": stored})
    await db.commit()
    return record


async def send_to_archive_job(
    db: AsyncSession, blobs: BlobStore, payload: Mapping[str, str]
) -> None:
    """The job ``interop.send_to_archive``: one attempt (the runner retries on a raise)."""
    await send_case(db, blobs, uuid.UUID(payload["case_id"]))


async def archive_sweep(
    db: AsyncSession, blobs: BlobStore, *, now: dt.datetime | None = None
) -> int:
    """Queued sends whose job was lost and failed sends past their back-off, tried again
    (each in its own transaction); how many were tried."""
    now = now or now_utc()
    rows = (await db.scalars(
        select(ArchiveSend)
        .join(ArchiveSettings, ArchiveSettings.organization_id == ArchiveSend.organization_id)
        .where(ArchiveSend.state.in_(("queued", "failed")),
               ArchiveSend.attempts < MAX_ATTEMPTS, ArchiveSettings.enabled.is_(True))
        .order_by(ArchiveSend.updated_at)
        .limit(SWEEP_BATCH)
    )).all()
    due = [
        row.case_id for row in rows
        if as_utc(row.updated_at) + dt.timedelta(
            seconds=QUEUED_GRACE_S if row.state == "queued" else retry_after_s(row.attempts)
        ) <= now
    ]
    await db.rollback()  # nothing to keep; each send commits on its own
    for case_id in due:
        with contextlib.suppress(ArchiveSendFailed):  # recorded; retried after the back-off
            await send_case(db, blobs, case_id)
    return len(due)
