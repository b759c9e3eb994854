"""The right patient: a DICOM file whose own patient tags disagree with the case's patient is
held (``identity_mismatch``) until a person confirms or rejects it.

Comparison rules (:func:`identity_mismatches`), one field at a time; an absent or empty tag
(or a fact the patient record does not hold) is *unknown* and never a mismatch; any present
tag that disagrees is one:

- name: the DICOM ``Family^Given^Middle`` form, or ``Given Family`` / ``Family, Given``; case,
  accents, punctuation and extra whitespace are ignored. It agrees when every word of the
  patient's last name and the first word of the first name are among the DICOM name's words
  (a middle name in either is tolerated).
- birth date: exact.
- sex: M / F / O against the patient's, only where the patient record has one.
- patient ID: against the patient's student id (the only chart number the record holds),
  only where the patient has one; case and surrounding whitespace ignored.

What is kept (a documented decision): the DICOM's four tags and the names of the fields that
disagree are stored in ``Attachment.dicom_identity`` (the database only, never blob keys,
logs or audit details) while the file is held, so staff can see both identities side by
side. A confirmation clears them (the case's patient is then the file's patient); a rejection
deletes the row and its blobs. Audit details carry field names, never values.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import get_case
from reviewer.actor import Actor
from reviewer.errors import Conflict, Invalid, NotFound
from storage.audit import AuditContext, record_event
from storage.media.dicom_identity import DicomIdentity
from storage.models import Attachment, Case, Patient

HELD: Final = "identity_mismatch"
DECISIONS: Final = ("confirm", "reject")
FIELDS: Final = ("name", "birth_date", "sex", "patient_id")
MAX_REASON: Final = 500
_WORD: Final = re.compile(r"[^\w]+")


def _words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).casefold()
    return [w for w in _WORD.split(plain.replace("^", " ").replace("_", " ")) if w]


def names_agree(dicom_name: str, first_name: str, last_name: str) -> bool:
    """Whether a DICOM PatientName names the patient (see the module's rules)."""
    theirs = set(_words(dicom_name))
    last, first = _words(last_name), _words(first_name)
    return bool(theirs) and all(w in theirs for w in last) and (not first or first[0] in theirs)


def identity_mismatches(patient: Patient, identity: DicomIdentity) -> tuple[str, ...]:
    """The fields (of :data:`FIELDS`) where a present DICOM tag disagrees with the patient."""
    wrong: list[str] = []
    if identity.name and not names_agree(identity.name, patient.first_name, patient.last_name):
        wrong.append("name")
    if identity.birth_date and identity.birth_date != patient.date_of_birth:
        wrong.append("birth_date")
    sex = str(getattr(patient, "sex", None) or "").strip().upper()[:1]
    if identity.sex and sex and identity.sex[:1] != sex:
        wrong.append("sex")
    chart = (patient.student_id or "").strip().casefold()
    if identity.patient_id and chart and identity.patient_id.strip().casefold() != chart:
        wrong.append("patient_id")
    return tuple(wrong)


def hold_record(identity: DicomIdentity, mismatched: tuple[str, ...]) -> dict[str, Any]:
    """What ``Attachment.dicom_identity`` keeps for a held file."""
    return {
        "name": identity.name,
        "birth_date": identity.birth_date.isoformat() if identity.birth_date else None,
        "sex": identity.sex,
        "patient_id": identity.patient_id,
        "mismatched": list(mismatched),
    }


def is_held(attachment: Attachment) -> bool:
    """Held: waiting for a person (``identity_mismatch``, or still ``processing`` with a
    DICOM identity that disagrees)."""
    return attachment.status == HELD or attachment.dicom_identity is not None


@dataclass(frozen=True, slots=True)
class HeldIdentity:
    """One held file and both identities, for the staff panel."""

    attachment: Attachment
    patient_name: str
    patient_birth_date: dt.date
    patient_sex: str | None
    patient_id: str | None
    dicom_name: str | None
    dicom_birth_date: str | None
    dicom_sex: str | None
    dicom_patient_id: str | None
    mismatched: tuple[str, ...]


def held_identity(attachment: Attachment, patient: Patient) -> HeldIdentity:
    kept = attachment.dicom_identity or {}
    name = kept.get("name")
    return HeldIdentity(
        attachment=attachment,
        patient_name=patient.full_name,
        patient_birth_date=patient.date_of_birth,
        patient_sex=getattr(patient, "sex", None),
        patient_id=patient.student_id,
        dicom_name=" ".join(str(name).split("^")).strip() if name else None,
        dicom_birth_date=kept.get("birth_date"),
        dicom_sex=kept.get("sex"),
        dicom_patient_id=kept.get("patient_id"),
        mismatched=tuple(kept.get("mismatched") or ()),
    )


async def held_identities(
    db: AsyncSession, case: Case, patient: Patient | None = None
) -> list[HeldIdentity]:
    """The case's held files (the caller has checked access to ``case``)."""
    rows = [
        a for a in await db.scalars(
            select(Attachment).where(Attachment.case_id == case.id)
            .order_by(Attachment.created_at, Attachment.id)
        )
        if is_held(a)
    ]
    if not rows:
        return []
    if patient is None:
        patient = await db.get_one(Patient, case.patient_id)
    return [held_identity(a, patient) for a in rows]


@dataclass(frozen=True, slots=True)
class IdentityDecision:
    decision: str
    attachment_id: uuid.UUID
    removed_keys: tuple[str, ...] = ()
    """Blobs of a rejected file: the caller deletes them once the transaction committed."""


def decision_of(decision: str | None, reason: str | None) -> tuple[str, str]:
    choice = (decision or "").strip().lower()
    if choice not in DECISIONS:
        raise Invalid("decision is confirm or reject.", code="invalid_decision")
    text = " ".join((reason or "").split())
    if len(text) > MAX_REASON:
        raise Invalid(f"The reason is at most {MAX_REASON} characters.", code="invalid_reason")
    return choice, text


async def resolve_identity(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    case_id: uuid.UUID,
    attachment_id: uuid.UUID,
    decision: str | None,
    reason: str | None = None,
) -> IdentityDecision:
    """Confirm (the file is this patient's: it is used from now on) or reject (the file is
    removed) a held file. 404 outside the actor's reach or for no such file of the case;
    409 ``not_held`` for a file that is not (or no longer) held."""
    choice, text = decision_of(decision, reason)
    case = await get_case(db, actor, case_id)
    attachment = await db.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.case_id == case.id)
        .with_for_update()
    )
    if attachment is None:
        raise NotFound("No such file.")
    if not is_held(attachment):
        raise Conflict("This file is not held for an identity check.", code="not_held")
    mismatched = list((attachment.dicom_identity or {}).get("mismatched") or [])
    details = {"case_id": str(case.id), "mismatched": mismatched, "reason": text}
    if choice == "confirm":
        attachment.dicom_identity = None
        if attachment.status == HELD:
            attachment.status = "ready"
        await db.flush()
        await record_event(
            db, "attachment.identity_confirmed", ctx, organization_id=case.organization_id,
            subject_type="attachment", subject_id=attachment.id, details=details,
        )
        return IdentityDecision(choice, attachment.id)
    keys = tuple(
        k for k in (attachment.original_key, attachment.display_key, attachment.thumbnail_key)
        if k
    )
    await db.delete(attachment)
    await db.flush()
    await record_event(
        db, "attachment.identity_rejected", ctx, organization_id=case.organization_id,
        subject_type="attachment", subject_id=attachment_id, details=details,
    )
    return IdentityDecision(choice, attachment_id, keys)
