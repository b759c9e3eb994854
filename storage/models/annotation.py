from __future__ import annotations

import uuid
from typing import Any

from advanced_alchemy.types import JsonB
from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Annotation(Base):
    """One version of a dentist's drawing on an image (arrows, circles, freehand, text,
    measurements), kept as data beside the image: the stored original is never changed.

    Append-only: an edit is a new row with the same ``lineage_id`` and ``version + 1``; the
    older rows stay (who drew what, when). The current annotation of a lineage is its highest
    version; ``withdrawn`` on that version takes it off the image."""

    __tablename__ = "annotation"
    __table_args__ = (
        UniqueConstraint("lineage_id", "version", name="uq_annotation_lineage_version"),
        Index("ix_annotation_attachment", "attachment_id", "created_at"),
    )

    attachment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("attachment.id", ondelete="CASCADE")
    )
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"),
                                               index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    author_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    lineage_id: Mapped[uuid.UUID] = mapped_column(index=True)
    """The same for every version of one annotation (the first version's id)."""
    version: Mapped[int] = mapped_column(default=1)
    shapes: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    """Validated shapes (reviewer/evaluation/annotations.py), coordinates 0..1 of the image.
    A ``text`` shape's words are PHI-grade clinical notes."""
    note: Mapped[str] = mapped_column(Text, default="")
    """The dentist's note on the annotation (clinical, PHI-grade)."""
    include_in_claim: Mapped[bool] = mapped_column(default=False)
    show_to_patient: Mapped[bool] = mapped_column(default=False)
    withdrawn: Mapped[bool] = mapped_column(default=False)
    calibration: Mapped[str] = mapped_column(String(120), default="")
    """For measurements: the calibration used, e.g. ``DICOM Pixel Spacing 0.1 mm``."""
