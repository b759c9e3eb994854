from __future__ import annotations

from enum import StrEnum
from typing import Any

from advanced_alchemy.types import JsonB
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class OrganizationKind(StrEnum):
    PRACTICE = "practice"
    SCHOOL_PROGRAM = "school_program"


class Organization(Base):
    """A dental practice or a school dental program: the tenant every record belongs to."""

    __tablename__ = "organization"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default=OrganizationKind.PRACTICE)
    npi: Mapped[str | None] = mapped_column(String(10), default=None)
    address_line: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(2), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="America/Los_Angeles")
    turnaround_hours: Mapped[dict[str, Any] | None] = mapped_column(JsonB, default=None)
    records_policy: Mapped[dict[str, Any] | None] = mapped_column(JsonB, default=None)
    """Records-desk rules as data: fee schedule (flat electronic fee, cost-based rates),
    whether a second staff member checks a package before release."""
    """Per-urgency review targets overriding the defaults, e.g. {"urgent": 4}."""
