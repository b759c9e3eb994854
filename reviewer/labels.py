"""Human labels for stored values, once: what a page or a document prints instead of
``post_op``, ``in_review`` or ``healing_normal``.

The stored values stay what the database holds and the JSON API speaks; only what people read
changes. Each group is keyed by its enum (or by the vocabulary it comes from), so a value added
to an enum without a label fails ``tests/unit/test_labels.py``. The evaluation's own choice
lists (tooth conditions, referral specialties) already carry their labels and are taken as
they are.

Pages use the Jinja filter ``label`` (``{{ case.kind|label("case_kind") }}``; registered in
``portal/app.py``); documents call :func:`label`. A value no group knows is shown with its
underscores turned into spaces, never as an error: a page must not break on an old row.

Groups a patient reads (records statuses and formats) are marked with ``N_`` for the
catalogs; the pages' ``label`` filter translates every label it has a translation for.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TypeVar

from reviewer.billing.status import BillingStatus
from reviewer.cases.enums import CaseStatus, OriginatingSite, Urgency
from reviewer.coding.claim_model import EncounterType, ProviderRole, Rule
from reviewer.evaluation.draft import REFERRAL_SPECIALTIES, TOOTH_CONDITIONS
from reviewer.i18n import N_
from reviewer.records.lifecycle import RecordsAction, RecordsStatus
from reviewer.records.policy import DeliveryMethod, Format, IdDocumentType, Requester
from reviewer.vocabulary import DEFAULT_VIEW, AttachmentKind, CaseKind, RadiographKind
from storage.models.user import Role

__all__ = ["GROUPS", "label"]

E = TypeVar("E", bound=StrEnum)


def _group(enum: type[E], labels: Mapping[E, str], **extra: str) -> Mapping[str, str]:
    """``labels`` keyed by the stored strings, every member of ``enum`` must have one;
    ``extra``: values stored beside the enum's (a distant site's ``practice``)."""
    missing = set(enum) - set(labels)
    if missing:
        raise ValueError(f"{enum.__name__} members without a label: {sorted(missing)}")
    return MappingProxyType({**{str(value): text for value, text in labels.items()}, **extra})


CASE_KINDS = _group(CaseKind, {
    CaseKind.POST_OP: "Post-operative check",
    CaseKind.EMERGENCY: "Emergency",
    CaseKind.QUESTION: "Question",
    CaseKind.SCHOOL_SCREENING: "School screening",
})

CASE_STATUSES = _group(CaseStatus, {
    CaseStatus.DRAFT: "Draft",
    CaseStatus.SUBMITTED: "Waiting for review",
    CaseStatus.IN_REVIEW: "In review",
    CaseStatus.NEEDS_INFO: "More information requested",
    CaseStatus.REVIEWED: "Reviewed",
    CaseStatus.CLOSED: "Closed",
})

URGENCIES = _group(Urgency, {
    Urgency.URGENT: "Urgent", Urgency.SOON: "Soon", Urgency.ROUTINE: "Routine",
})

SITES = _group(OriginatingSite, {
    OriginatingSite.HOME: "Home",
    OriginatingSite.SCHOOL: "School",
    OriginatingSite.OFFICE: "Dental office",
    OriginatingSite.OTHER: "Other place",
}, practice="Dental practice")
"""Originating sites, and ``practice``: the distant site of a record."""

ENCOUNTER_TYPES = _group(EncounterType, {
    EncounterType.ASYNCHRONOUS: "Asynchronous review",
    EncounterType.SYNCHRONOUS: "Live session",
    EncounterType.COORDINATION: "Care coordination",
})

BILLING_STATUSES: Final[Mapping[str, str]] = MappingProxyType({
    BillingStatus.PROPOSED: "Proposed",
    BillingStatus.READY: "Ready to bill",
    BillingStatus.BILLED: "Billed",
    BillingStatus.NOTHING_TO_BILL: "Nothing to bill",
    # the worklist's filters beside the statuses
    "open": "Open",
    "all": "All",
})

ROLES = _group(Role, {
    Role.PATIENT: "Patient",
    Role.HYGIENIST: "Hygienist",
    Role.DENTIST: "Dentist",
    Role.COORDINATOR: "Coordinator",
    Role.FRONT_DESK: "Front desk",
    Role.ADMIN: "Administrator",
})

PROVIDER_ROLES = _group(ProviderRole, {
    ProviderRole.DENTIST: "Dentist",
    ProviderRole.HYGIENIST: "Hygienist",
    ProviderRole.COORDINATOR: "Coordinator",
    ProviderRole.OTHER: "Other provider",
})

ATTACHMENT_KINDS = _group(AttachmentKind, {
    AttachmentKind.PHOTO: "Photo", AttachmentKind.RADIOGRAPH: "Radiograph",
}, document="Document")
"""What a stored file is; ``document``: a records item that is neither."""

RADIOGRAPH_KINDS = _group(RadiographKind, {
    RadiographKind.EXTRAORAL_POSTERIOR: "Extraoral posterior",
    RadiographKind.OCCLUSAL: "Occlusal",
    RadiographKind.PERIAPICAL: "Periapical",
    RadiographKind.BITEWING: "Bitewing",
    RadiographKind.COMPLETE_SERIES: "Complete series",
    RadiographKind.PANORAMIC: "Panoramic",
    RadiographKind.CEPHALOMETRIC: "Cephalometric",
})

VIEWS: Final[Mapping[str, str]] = MappingProxyType({
    "upper_occlusal": "Upper teeth (biting surfaces)",
    "lower_occlusal": "Lower teeth (biting surfaces)",
    "anterior": "Front teeth",
    "left": "Left side",
    "right": "Right side",
    DEFAULT_VIEW: "Other view",
    **RADIOGRAPH_KINDS,
})
"""Every view of :data:`reviewer.vocabulary.ATTACHMENT_VIEWS` (a unit test checks it)."""

RECORDS_STATUSES = _group(RecordsStatus, {
    RecordsStatus.RECEIVED: N_("Received"),
    RecordsStatus.VERIFIED: N_("Identity verified"),
    RecordsStatus.FEE_QUOTED: N_("Fee quoted"),
    RecordsStatus.PAID: N_("Paid"),
    RecordsStatus.WAIVED: N_("Fee waived"),
    RecordsStatus.PREPARED: N_("Prepared"),
    RecordsStatus.CHECKED: N_("Checked"),
    RecordsStatus.DELIVERED: N_("Delivered"),
    RecordsStatus.REFUSED: N_("Refused"),
})

RECORDS_ACTIONS = _group(RecordsAction, {
    RecordsAction.VERIFY: "Identity verified",
    RecordsAction.QUOTE: "Fee quoted",
    RecordsAction.PAY: "Payment recorded",
    RecordsAction.WAIVE: "Fee waived",
    RecordsAction.PREPARE: "Package prepared",
    RecordsAction.CHECK: "Package checked",
    RecordsAction.DELIVER: "Delivered",
    RecordsAction.REFUSE: "Refused",
}, received="Request received")
"""A request's history steps: its actions and the first step, ``received``."""

RECEIVED_VIA_LABELS: Final[Mapping[str, str]] = MappingProxyType({
    "in_person": "In person", "phone": "By phone", "letter": "By letter",
    "portal": "Through the portal",
})
"""Every value of :data:`reviewer.records.request.RECEIVED_VIA` (a unit test checks it)."""

RECORDS_FORMATS = _group(Format, {
    Format.ELECTRONIC: N_("Electronic copy"), Format.PAPER: N_("Paper copy"),
    Format.MEDIA: N_("Mailed media"),
})

ID_DOCUMENT_TYPES = _group(IdDocumentType, {
    IdDocumentType.DRIVERS_LICENSE: "Driver's license", IdDocumentType.STATE_ID: "State ID card",
    IdDocumentType.PASSPORT: "Passport", IdDocumentType.MILITARY_ID: "Military ID",
    IdDocumentType.TRIBAL_ID: "Tribal ID", IdDocumentType.SCHOOL_ID: "School ID",
    IdDocumentType.OTHER: "Other photo ID",
})

DELIVERY_METHODS = _group(DeliveryMethod, {
    DeliveryMethod.PORTAL: "Patient portal download", DeliveryMethod.EMAIL: "Email (download link)",
    DeliveryMethod.MAIL: "Mail", DeliveryMethod.PICKUP: "Picked up in person",
    DeliveryMethod.FAX: "Fax",
})

REQUESTERS = _group(Requester, {
    Requester.PATIENT: "The patient",
    Requester.REPRESENTATIVE: "The patient's representative",
    Requester.PROVIDER: "Another provider",
    Requester.PAYER: "A payer",
    Requester.LEGAL: "Legal (subpoena or court order)",
})

RULES = _group(Rule, {
    Rule.UNKNOWN_CODE: "Unknown code",
    Rule.QUANTITY_POSITIVE: "Quantity must be positive",
    Rule.QUANTITY_PER_TOOTH: "One line per tooth",
    Rule.DUPLICATE_LINE: "Duplicate line",
    Rule.PLACE_OF_SERVICE: "Place of service",
    Rule.TELEDENTISTRY_NOT_ALONE: "Teledentistry code needs a service beside it",
    Rule.TELEDENTISTRY_ONE_MODE: "One teledentistry mode per encounter",
    Rule.TELEDENTISTRY_MATCHES_ENCOUNTER: "Teledentistry code matches the encounter",
    Rule.TELEDENTISTRY_ONCE: "Teledentistry code once per encounter",
    Rule.EVALUATION_PRESENT: "An evaluation is billed",
    Rule.EVALUATION_CODE_ACCEPTED: "Evaluation code accepted with teledentistry",
    Rule.EVALUATION_CODE_CAUTION: "Evaluation code to check with the payer",
    Rule.EVALUATION_CODE_FITS_CASE: "Evaluation code fits the case",
    Rule.SCHOOL_SCREENING_EVALUATION: "Evaluation allowed for a school screening",
    Rule.DENTIST_SERVICE_ON_DENTIST: "Dentist's service billed under a dentist",
    Rule.ONSITE_SERVICE_ON_HYGIENIST: "On-site service billed under the hygienist",
    Rule.DENTIST_LINE_DATE: "Dentist's line dated the day of review",
    Rule.SERVICE_DELIVERED: "Service was delivered",
    Rule.SERVICE_LINE_PROVIDER: "Service line's provider",
    Rule.SERVICE_LINE_DATE: "Service line's date",
    Rule.RECOMMENDED_NOT_CLAIMED: "Recommended treatment is not claimed",
    Rule.PROVIDER_NOT_SIGNER: "Provider is not the signing dentist",
    Rule.TELEDENTISTRY_ONCE_PER_DAY: "Teledentistry once per patient per day",
    Rule.EVALUATION_ONCE_PER_DAY: "Evaluation once per patient per day",
    Rule.INTERPRETATION_NOT_BY_CAPTURER: "Interpretation not by the one who took the images",
    Rule.CAPTURE_NEEDS_INTERPRETATION: "Image capture needs an interpretation",
    Rule.CASE_MANAGEMENT_BILLED: "Case management billed by this payer",
    Rule.TOOTH_REQUIRED: "Tooth required",
    Rule.TOOTH_NOT_APPLICABLE: "No tooth for this code",
    Rule.TOOTH_VALID: "Valid tooth",
    Rule.TOOTH_VALID_FOR_AGE: "Tooth fits the patient's age",
    Rule.TOOTH_FITS_CODE: "Tooth fits the code",
    Rule.SURFACES_REQUIRED: "Surfaces required",
    Rule.SURFACES_NOT_APPLICABLE: "No surfaces for this code",
    Rule.SURFACES_VALID: "Valid surfaces",
    Rule.SURFACE_COUNT: "Number of surfaces fits the code",
})

GROUPS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType({
    "case_kind": CASE_KINDS,
    "case_status": CASE_STATUSES,
    "urgency": URGENCIES,
    "site": SITES,
    "encounter_type": ENCOUNTER_TYPES,
    "billing_status": BILLING_STATUSES,
    "role": ROLES,
    "provider_role": PROVIDER_ROLES,
    "attachment_kind": ATTACHMENT_KINDS,
    "view": VIEWS,
    "records_status": RECORDS_STATUSES,
    "records_action": RECORDS_ACTIONS,
    "requester": REQUESTERS,
    "received_via": RECEIVED_VIA_LABELS,
    "records_format": RECORDS_FORMATS,
    "id_document_type": ID_DOCUMENT_TYPES,
    "delivery_method": DELIVERY_METHODS,
    "rule": RULES,
    "tooth_condition": MappingProxyType(TOOTH_CONDITIONS),
    "specialty": MappingProxyType(REFERRAL_SPECIALTIES),
})
"""Group name → stored value → label. The group names are what templates pass to ``label``."""


def label(value: object, group: str) -> str:
    """The label of ``value`` in ``group``; an unknown value with its underscores as spaces,
    capitalized (``None`` and ``""`` give ``"—"``). An unknown group is a programming error."""
    if value is None or value == "":
        return "—"
    text = str(value)
    known = GROUPS[group].get(text)
    if known is not None:
        return known
    words = text.replace("_", " ")
    return words[:1].upper() + words[1:]
