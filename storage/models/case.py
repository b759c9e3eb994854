from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Case(Base):
    """One asynchronous submission for review (the store-and-forward encounter)."""

    __tablename__ = "case"
    __table_args__ = (
        # The review queue: claimable cases by urgency, then due time (keyset pagination).
        Index("ix_case_queue", "status", "urgency_rank", "due_at", "id"),
        Index("ix_case_org_status", "organization_id", "status"),
        Index("ix_case_patient", "patient_id", "created_at"),
        UniqueConstraint("submitted_by_id", "idempotency_key", name="uq_case_idempotency"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(32))
    """post_op | emergency | question | school_screening."""
    status: Mapped[str] = mapped_column(String(16), default="draft")
    urgency: Mapped[str] = mapped_column(String(16), default="routine")
    urgency_rank: Mapped[int] = mapped_column(Integer, default=2)
    """0 urgent, 1 soon, 2 routine: the queue's first sort key, ascending.
    Always set it as ``Urgency(case.urgency).queue_rank`` (reviewer/cases/enums.py)."""
    questionnaire: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    """PHI: the patient's answers."""
    problem: Mapped[str | None] = mapped_column(String(16), default=None)
    """new | established | post_op_check: the patient's answer (questionnaire ``problem``; a
    post-op case without one is a post-op check), as the dentist may have corrected it. It
    picks the evaluation code (D0140 / D0170 / D0171). ``None`` on cases from before it."""
    screening: Mapped[dict[str, Any] | None] = mapped_column(JsonB, default=None)
    """PHI: ASTDD findings and services delivered at school (school_screening cases)."""
    screening_event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("screening_event.id", ondelete="SET NULL"), default=None
    )
    location_state: Mapped[str] = mapped_column(String(2))
    """Where the patient was: the originating site's state (decides who may review)."""
    location_site: Mapped[str] = mapped_column(String(16))  # home | school | office | other
    submitted_by_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(128), default=None)
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    collected_on: Mapped[date | None] = mapped_column(default=None)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    first_submitted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    due_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    """Set at the first submission; a case back from needs_info keeps it."""
    claimed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
