"""SQLAlchemy models, one per module; importing this package registers them all."""

from storage.models.access import AccessLink, ApiToken, License, LoginFailure, PatientInvitation
from storage.models.annotation import Annotation
from storage.models.archive import ArchiveSend, ArchiveSettings
from storage.models.attachment import Attachment
from storage.models.audit_event import AuditEvent
from storage.models.base import Base, metadata
from storage.models.billing import (
    ClaimPackage,
    EncounterBilling,
    FeeScheduleEntry,
    LiveSession,
    PayerProfileRecord,
)
from storage.models.case import Case
from storage.models.consent import Consent
from storage.models.evaluation import Addendum, Evaluation, InfoRequest
from storage.models.idempotency import IdempotencyRecord
from storage.models.letter_link import LetterLink
from storage.models.notification import Notification
from storage.models.organization import Organization, OrganizationKind
from storage.models.patient import Patient, patient_login
from storage.models.records import (
    CoordinationActivity,
    DownloadLink,
    LedgerEntry,
    RecordsDocument,
    RecordsRequest,
    Referral,
)
from storage.models.screening import ScreeningEnrollment, ScreeningEvent
from storage.models.upload import Upload
from storage.models.user import Role, User, user_organization
from storage.models.view_event import ViewEvent

__all__ = [
    "AccessLink",
    "Addendum",
    "Annotation",
    "ApiToken",
    "ArchiveSend",
    "ArchiveSettings",
    "Attachment",
    "AuditEvent",
    "Base",
    "Case",
    "ClaimPackage",
    "Consent",
    "CoordinationActivity",
    "DownloadLink",
    "EncounterBilling",
    "Evaluation",
    "FeeScheduleEntry",
    "IdempotencyRecord",
    "InfoRequest",
    "LedgerEntry",
    "LetterLink",
    "License",
    "LiveSession",
    "LoginFailure",
    "Notification",
    "Organization",
    "OrganizationKind",
    "Patient",
    "PatientInvitation",
    "PayerProfileRecord",
    "RecordsDocument",
    "RecordsRequest",
    "Referral",
    "Role",
    "ScreeningEnrollment",
    "ScreeningEvent",
    "Upload",
    "User",
    "ViewEvent",
    "metadata",
    "patient_login",
    "user_organization",
]
