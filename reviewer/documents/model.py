"""What a teledentistry document says, as plain frozen data (no database, no I/O).

The billing services (``reviewer.billing``) gather these from the database; the renderers in
this package turn them into bytes. Everything a renderer prints comes from here, so the same
record always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from reviewer.clock import as_utc
from reviewer.coding.rules import ClaimLine, EncounterType

__all__ = [
    "AddendumNote",
    "AsyncRecord",
    "Clinician",
    "ConsentNote",
    "GatheredItem",
    "LiveRecord",
    "Participant",
    "PatientIdentity",
    "Practice",
    "Recommendation",
    "Site",
    "record_moment",
]


@dataclass(frozen=True)
class Practice:
    """The organization billing for the encounter (practice or school program)."""

    name: str
    npi: str
    address: str
    phone: str = ""
    time_zone: str = "UTC"
    address_line: str = ""
    """The address in parts, for the C-CDA header (``address`` is the printed line)."""
    city: str = ""
    state: str = ""
    postal_code: str = ""


@dataclass(frozen=True)
class Clinician:
    name: str
    role: str
    npi: str = ""
    license: str = ""
    """E.g. ``"CA DDS 100001"``; empty when none is on file."""


@dataclass(frozen=True)
class PatientIdentity:
    reference: str
    """An opaque id (the patient row's id): what the manifest carries instead of the name."""
    name: str
    date_of_birth: dt.date
    address: str = ""
    payer_name: str = ""
    member_id: str = ""
    guardian_name: str = ""
    student_id: str = ""
    school: str = ""
    first_name: str = ""
    """The name in parts and the home address in parts, for the C-CDA header (the PDF prints
    ``name`` and ``address``)."""
    last_name: str = ""
    phone: str = ""
    address_line: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""


@dataclass(frozen=True)
class Site:
    """An originating site (where the patient and the data were) or the distant site
    (where the dentist was)."""

    kind: str
    """home | school | office | other, or ``practice`` for a distant site."""
    description: str
    state: str = ""


@dataclass(frozen=True)
class GatheredItem:
    """One stored image, radiograph or document of the case."""

    ref: str
    """The attachment's id."""
    kind: str
    """photo | radiograph | document."""
    view: str
    teeth: str
    captured_at: dt.datetime | None
    """The device's wall clock (naive): printed as recorded, no zone invented."""
    sha256: str
    """Of the stored original."""
    content_type: str
    display_jpeg: bytes | None = None
    """The derived display picture (no metadata), embedded in the claim attachment."""
    captured_on_fallback: dt.date | None = None
    """The day the case's data was collected, when the device recorded no time."""
    reviewed_at: dt.datetime | None = None
    """When the signing dentist first opened it (stored at signing); None: not opened."""
    not_reviewed_reason: str = ""
    """Why the signing dentist did not open it (stored at signing)."""
    review_listed: bool = False
    """Whether signing settled this item's review (False on records signed before it)."""
    annotations: tuple[dict[str, Any], ...] = ()
    """The dentist's annotations chosen for the claim attachment (``shapes``, ``note``),
    drawn on the PDF's copy of the picture (reviewer/documents/annotations.py)."""

    @property
    def captured_on(self) -> dt.date | None:
        return self.captured_at.date() if self.captured_at else self.captured_on_fallback


@dataclass(frozen=True)
class Recommendation:
    """Recommended treatment: treatment plan, never a claim line."""

    code: str
    descriptor: str
    tooth: str | None
    surfaces: str | None
    rationale: str


@dataclass(frozen=True)
class AddendumNote:
    author: str
    signed_at: dt.datetime
    text: str


@dataclass(frozen=True)
class LineCorrection:
    """Billing's change of the claim lines after the record was signed."""

    at: dt.datetime
    by: str
    reason: str
    lines: tuple[ClaimLine, ...]
    """The lines after the change."""


@dataclass(frozen=True)
class ConsentNote:
    """A consent on the record: the form and version accepted, when, by whom and how."""

    label: str
    """What it is on this record: ``Teledentistry consent`` or ``Roster consent``."""
    form: str
    title: str
    version: int
    accepted_at: dt.datetime
    given_by: str
    """patient | guardian."""
    given_by_name: str
    method: str
    """portal | paper | roster."""
    disclosure: str = ""
    """The store-and-forward disclosure of that version (the patient may ask for a live
    consultation instead); empty where that version has none."""


@dataclass(frozen=True)
class Participant:
    name: str
    role: str


@dataclass(frozen=True)
class AsyncRecord:
    """A signed asynchronous (store-and-forward, D9996) review."""

    encounter_id: str
    case_kind: str
    practice: Practice
    dentist: Clinician
    patient: PatientIdentity
    originating_site: Site
    distant_site: Site
    items: tuple[GatheredItem, ...]
    questionnaire: tuple[tuple[str, str], ...]
    history: tuple[tuple[str, str], ...]
    screening: tuple[tuple[str, str], ...]
    collected_by: Clinician
    collected_on: dt.date | None
    sent_at: dt.datetime | None
    reviewed_at: dt.datetime | None
    signed_at: dt.datetime
    findings: str
    teeth_findings: tuple[tuple[str, str], ...]
    diagnosis: str
    recommendations: tuple[Recommendation, ...]
    advice: str
    referral: str
    follow_up: str
    lines: tuple[ClaimLine, ...]
    attestation: str
    content_sha256: str
    addenda: tuple[AddendumNote, ...] = ()
    payer_profile: str = "Default"
    encounter_type: EncounterType = EncounterType.ASYNCHRONOUS
    signed_lines: tuple[ClaimLine, ...] | None = None
    """The lines as they stood when the record was signed, where billing corrected them
    since (``lines`` then holds the corrected ones)."""
    corrections: tuple[LineCorrection, ...] = ()
    made_at: dt.datetime | None = None
    """When this document was made (its creation date); None: dated by the signature."""
    review_started_at: dt.datetime | None = None
    """The signer's first opening of an image (or the signing time when none was opened);
    None on records signed before reviews were recorded."""
    review_ended_at: dt.datetime | None = None
    """The signature that ended the review."""
    consents: tuple[ConsentNote, ...] = ()
    """The teledentistry consent in force at signing and, for a school case, the roster
    consent (the same one where the roster gave it)."""
    collected_from: dt.datetime | None = None
    """The earliest capture time of the gathered items (DICOM study time or EXIF time, as
    the device recorded it; else the upload time in the practice's zone)."""
    collected_to: dt.datetime | None = None
    """The latest such capture time."""


@dataclass(frozen=True)
class LiveRecord:
    """A live (synchronous, D9995) session."""

    encounter_id: str
    practice: Practice
    dentist: Clinician
    patient: PatientIdentity
    originating_site: Site
    distant_site: Site
    scheduled_at: dt.datetime
    started_at: dt.datetime
    ended_at: dt.datetime
    participants: tuple[Participant, ...]
    platform: str
    notes: str
    findings: str
    diagnosis: str
    advice: str
    recommendations: tuple[Recommendation, ...]
    lines: tuple[ClaimLine, ...]
    linked_case_id: str | None
    recorded_at: dt.datetime
    """When the session was recorded: the document's fixed creation time."""
    payer_profile: str = "Default"
    encounter_type: EncounterType = EncounterType.SYNCHRONOUS
    signed_at: dt.datetime | None = None
    """When the dentist who held it (``dentist``) signed the record; None: unsigned."""
    attestation: str = ""
    content_sha256: str = ""
    signed_lines: tuple[ClaimLine, ...] | None = None
    corrections: tuple[LineCorrection, ...] = ()
    made_at: dt.datetime | None = None


def record_moment(record: AsyncRecord | LiveRecord) -> dt.datetime:
    """The moment a document is dated with: when it was made (``made_at``, set for every
    package version), else the signature (or the latest signed addendum) for a review, the
    time it was recorded for a live session. UTC-aware."""
    if record.made_at is not None:
        return as_utc(record.made_at)
    if isinstance(record, LiveRecord):
        moment = record.recorded_at
    else:
        moments = [record.signed_at, *(a.signed_at for a in record.addenda)]
        moment = max(as_utc(m) for m in moments)
    return as_utc(moment)
