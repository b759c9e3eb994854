"""Image archives reached over DICOMweb (docs/interop.md "DICOMweb"): an organization's
archive settings and the record of each case's send, so staff see what happened."""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class ArchiveSettings(Base):
    """One organization's DICOMweb archive (at most one per organization)."""

    __tablename__ = "archive_settings"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), unique=True
    )
    base_url: Mapped[str] = mapped_column(String(500))
    """The DICOMweb root (``https://pacs.example/dicom-web``); STOW-RS posts to
    ``{base_url}/studies``."""
    username: Mapped[str | None] = mapped_column(String(200), default=None)
    """HTTP basic-auth user, when the archive asks for one."""
    password: Mapped[str | None] = mapped_column(Text, default=None)
    """HTTP basic-auth password, sealed (AES-GCM under a key derived from the audit key,
    ``storage/sealed.py``): never answered by the API, logged or put in an audit event."""
    restore_identity: Mapped[bool] = mapped_column(Boolean, default=False)
    """The archive is the practice's own: images go with the patient's name and birth date
    (radiographs get back the tags intake removed). Otherwise only Toothline's patient id."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    """Signed cases are sent on their own; off, nothing is sent (a manual send is refused)."""


class ArchiveSend(Base):
    """A case's send to its organization's archive: the latest attempt's outcome (a resend
    puts it back to ``queued``; each attempt is an audit event as well)."""

    __tablename__ = "archive_send"
    __table_args__ = (Index("ix_archive_send_state", "state", "updated_at"),)

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case.id", ondelete="CASCADE"), unique=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    state: Mapped[str] = mapped_column(String(16), default="queued")
    """queued | sent | failed."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts since the send was last queued; the sweep gives up at a maximum."""
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    """What the last failed attempt met (the archive's status or the network error; no PHI)."""
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    study_instance_uid: Mapped[str] = mapped_column(String(64))
    """The case's study in the archive (stable: derived from the case id)."""
    instances: Mapped[int] = mapped_column(Integer, default=0)
    """Instances the archive accepted in the last successful send."""
