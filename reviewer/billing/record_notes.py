"""What the D9996 record says about consent, the collection span and the collector: gathered
from the database for :func:`reviewer.billing.facts.load_case_facts`.

* the teledentistry consent in force when the review was signed (form, version, date, who
  accepted it — the guardian for a child — and how) and, for a school case, the roster
  consent; with the store-and-forward disclosure of that version;
* "Collected": the span of the gathered items' capture times (the DICOM study time or EXIF
  time the device recorded, else the upload time in the practice's zone), never the
  signing day;
* the collecting hygienist's license on a school record.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.cases.enums import CaseKind
from reviewer.clock import as_utc, zone
from reviewer.consent_forms import TELEDENTISTRY, form_version
from reviewer.documents.model import ConsentNote, Site
from reviewer.errors import NotFound
from storage.models import Attachment, Consent, Evaluation, License

__all__ = [
    "capture_moment",
    "collected_span",
    "collector_license",
    "record_consents",
    "recorded_distant_site",
]


def _in_force(consent: Consent, at: dt.datetime) -> bool:
    if as_utc(consent.accepted_at) > as_utc(at):
        return False
    return consent.revoked_at is None or as_utc(consent.revoked_at) > as_utc(at)


def _note(label: str, consent: Consent) -> ConsentNote:
    try:
        published = form_version(consent.form, consent.version)
        title, disclosure = published.title, published.disclosure
    except NotFound:
        title, disclosure = consent.form, ""
    return ConsentNote(
        label=label, form=consent.form, title=title, version=consent.version,
        accepted_at=consent.accepted_at, given_by=consent.given_by,
        given_by_name=consent.given_by_name, method=consent.method, disclosure=disclosure,
    )


async def record_consents(
    db: AsyncSession, patient_id: uuid.UUID, case_kind: str, signed_at: dt.datetime
) -> tuple[ConsentNote, ...]:
    """The teledentistry consent in force at ``signed_at`` (the latest accepted before it and
    not revoked by then, whatever its version) and, for a school screening, the latest roster
    consent in force then, where that is another one."""
    rows = (
        await db.scalars(
            select(Consent)
            .where(Consent.patient_id == patient_id, Consent.form == TELEDENTISTRY)
            .order_by(Consent.accepted_at.desc(), Consent.id.desc())
        )
    ).all()
    valid = [c for c in rows if _in_force(c, signed_at)]
    notes: list[ConsentNote] = []
    if valid:
        notes.append(_note("Teledentistry consent", valid[0]))
    if case_kind == CaseKind.SCHOOL_SCREENING:
        roster = next((c for c in valid if c.method == "roster"), None)
        if roster is not None:
            if valid and roster is valid[0]:
                notes[0] = _note("Roster consent", roster)
            else:
                notes.append(_note("Roster consent", roster))
    return tuple(notes)


def capture_moment(attachment: Attachment, time_zone: str) -> dt.datetime:
    """When an item was captured: the device's clock (DICOM study time, EXIF time: stored as
    ``captured_at``, naive), else its upload time as the practice's wall clock (naive)."""
    if attachment.captured_at is not None:
        return attachment.captured_at.replace(tzinfo=None)
    return as_utc(attachment.created_at).astimezone(zone(time_zone)).replace(tzinfo=None)


def collected_span(
    attachments: Sequence[Attachment], time_zone: str
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(earliest, latest) capture moment of the items; (None, None) when there are none."""
    moments = [capture_moment(a, time_zone) for a in attachments]
    if not moments:
        return None, None
    return min(moments), max(moments)


async def collector_license(
    db: AsyncSession, user_id: uuid.UUID, case_kind: str, state: str
) -> str:
    """The collecting hygienist's license (``CA RDH 200001``) on a school record: the one
    for the case's state, else any; empty for other cases or when none is on file."""
    if case_kind != CaseKind.SCHOOL_SCREENING:
        return ""
    rows = (
        await db.scalars(select(License).where(License.user_id == user_id)
                         .order_by(License.state))
    ).all()
    chosen = next((r for r in rows if r.state == state), rows[0] if rows else None)
    return f"{chosen.state} {chosen.number}" if chosen else ""


def recorded_distant_site(evaluation: Evaluation) -> Site | None:
    """The distant site recorded on the evaluation at signing
    (:mod:`reviewer.evaluation.distant_site`); None for a review signed before that."""
    if not evaluation.distant_site:
        return None
    return Site(kind="practice", description=evaluation.distant_site,
                state=evaluation.distant_site_state or "")
