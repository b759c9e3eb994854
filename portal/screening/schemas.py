"""JSON bodies of the screening API (msgspec structs: unknown keys and wrong types answer 400)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import msgspec

from reviewer.screening.children import Child
from reviewer.screening.findings import reason_label
from reviewer.screening.progress import Progress
from storage.models import ScreeningEvent


class EventIn(msgspec.Struct, forbid_unknown_fields=True):
    site: str
    """The school (or other site) visited."""
    date: date
    state: str | None = None
    """Two-letter state; defaults to the organization's."""
    organization_id: uuid.UUID | None = None
    """Only for staff of several school programs."""


class NotScreenedIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str
    """absent | no_consent | refused | uncooperative | other"""
    note: str | None = None


def event_json(event: ScreeningEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "organization_id": str(event.organization_id),
        "site": event.site,
        "date": event.event_date.isoformat(),
        "state": event.state,
        "hygienist_id": str(event.hygienist_id) if event.hygienist_id else None,
        "location": {"state": event.state, "site": "school"},
    }


def progress_json(progress: Progress) -> dict[str, int]:
    return {
        "total": progress.total,
        "pending": progress.pending,
        "not_screened": progress.not_screened,
        "screened": progress.screened,
        "submitted": progress.submitted,
        "reviewed": progress.reviewed,
        "percent_done": progress.percent_done,
    }


def child_json(child: Child) -> dict[str, Any]:
    patient, enrollment = child.patient, child.enrollment
    return {
        "enrollment_id": str(enrollment.id),
        "patient_id": str(patient.id),
        "student_id": patient.student_id,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "grade": patient.grade,
        "roster_line": enrollment.roster_line,
        "state": child.state.value,
        "consent": child.consent,
        "case_id": str(child.case.id) if child.case else None,
        "not_screened_reason": (
            reason_label(enrollment.not_screened_reason)
            if enrollment.status == "not_screened" else None
        ),
    }
