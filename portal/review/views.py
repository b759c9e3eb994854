"""What the review templates need besides the data: time in the organization's zone, time
left in words, the choices of the form."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from reviewer.clock import zone
from reviewer.coding.catalog import all_codes
from reviewer.coding.teeth import PERMANENT_TEETH, PRIMARY_TEETH
from reviewer.documents.image_label import image_label
from reviewer.evaluation.draft import ATTESTATION, REFERRAL_SPECIALTIES, TOOTH_CONDITIONS
from reviewer.intake.problem import PROBLEM_LABELS
from reviewer.intake.quality import quality_notes
from reviewer.labels import CASE_KINDS, URGENCIES


def local_time(moment: datetime | None, time_zone: str = "UTC", fmt: str = "%b %d, %H:%M") -> str:
    """``moment`` (UTC) in ``time_zone``, with the zone's abbreviation."""
    if moment is None:
        return "—"
    local = moment.astimezone(zone(time_zone))
    return f"{local.strftime(fmt)} {local.tzname() or ''}".strip()


def duration(seconds: int | float | None) -> str:
    """``12600`` → ``"3 h 30 min"``; days above 48 hours."""
    if seconds is None:
        return "—"
    minutes = int(abs(seconds)) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days >= 2:
        return f"{days} d {hours} h"
    hours += days * 24
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def time_left_text(seconds: int | None) -> str:
    if seconds is None:
        return "no due time"
    if seconds < 0:
        return f"overdue by {duration(seconds)}"
    return f"{duration(seconds)} left"


def with_query(path: str, params: dict[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def helpers() -> dict[str, Any]:
    """Functions and choices every review template may use."""
    return {
        "local_time": local_time,
        "duration": duration,
        "time_left_text": time_left_text,
        "kind_labels": CASE_KINDS,
        "urgency_labels": URGENCIES,
        "tooth_conditions": TOOTH_CONDITIONS,
        "referral_specialties": REFERRAL_SPECIALTIES,
        "attestation": ATTESTATION,
        "all_teeth": PERMANENT_TEETH + PRIMARY_TEETH,
        "cdt_codes": [c for c in all_codes()],
        "problem_labels": {str(k): v for k, v in PROBLEM_LABELS.items()},
        "viewer_caption": viewer_caption,
        "quality_notes": quality_notes,
    }


def viewer_caption(patient: Any, attachment: Any) -> str:
    """The image viewer's caption: patient name, birth date, capture date, view, teeth."""
    return image_label(patient.full_name, patient.date_of_birth, attachment.captured_at,
                       attachment.view, attachment.teeth)
