from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.models.blob_refs import register_blob_keys

_NULLABLE_JSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
"""JsonB whose None is SQL NULL (``IS NULL`` finds it), not the JSON ``null``."""


class Attachment(Base):
    """One stored file of a case: the cleaned original and its derived display/thumbnail.

    Blob keys are random; nothing about the patient is in them."""

    __tablename__ = "attachment"
    __table_args__ = (Index("ix_attachment_case", "case_id", "created_at"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    kind: Mapped[str] = mapped_column(String(16))  # photo | radiograph | document
    view: Mapped[str] = mapped_column(String(32), default="other")
    teeth: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(32), default="ready")
    """processing | ready | identity_mismatch (held: see ``dicom_identity``)."""
    media_type: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(64))
    original_key: Mapped[str] = mapped_column(String(200))
    display_key: Mapped[str | None] = mapped_column(String(200), default=None)
    thumbnail_key: Mapped[str | None] = mapped_column(String(200), default=None)
    received_sha256: Mapped[str] = mapped_column(String(64))
    """Hash of the bytes as received, before any cleaning."""
    received_size: Mapped[int] = mapped_column(BigInteger)
    original_sha256: Mapped[str] = mapped_column(String(64))
    """Hash of the stored (cleaned) original; manifests list this one."""
    original_size: Mapped[int] = mapped_column(BigInteger)
    display_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    width: Mapped[int] = mapped_column(default=0)
    height: Mapped[int] = mapped_column(default=0)
    captured_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), default=None)
    """Wall-clock time the device recorded (no zone is invented)."""
    provenance: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    """What was removed (e.g. GPS position) and what was derived."""
    uploaded_by_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    dicom_identity: Mapped[dict[str, Any] | None] = mapped_column(_NULLABLE_JSON, default=None)
    """A DICOM whose own patient tags disagree with the case's patient: those tags (name,
    birth_date, sex, patient_id) and the ``mismatched`` field names, kept (PHI, database only)
    while the file is held; cleared when a person confirms it (the row goes on rejection).
    Set while the row is ``processing`` too: derivation then makes it ``identity_mismatch``."""
    quality: Mapped[dict[str, Any] | None] = mapped_column(_NULLABLE_JSON, default=None)
    """Photo quality scores (``storage.media.quality.Quality.as_json``) computed when the views
    were made; None for radiographs and documents, and for photos stored before 0025."""
    retake_requested_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    """Set when the dentist asked for this image to be taken again (``retake_requested``);
    the image is kept, not deleted, and stays in the case."""
    retake_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    """The dentist's reason, shown to the submitter next to the slot to retake."""

    @property
    def retake_requested(self) -> bool:
        return self.retake_requested_at is not None


register_blob_keys(
    "attachments/", Attachment.original_key, Attachment.display_key, Attachment.thumbnail_key
)
