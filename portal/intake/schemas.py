"""JSON bodies of the intake API (msgspec structs: unknown keys and wrong types answer 400)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

import msgspec

from portal.patients.schemas import HistoryIn
from reviewer.patients.history import FIELDS as HISTORY_FIELDS


class Questionnaire(HistoryIn, forbid_unknown_fields=True, omit_defaults=True):
    """Every answer is optional. bleeding means "bleeding that does not stop". The history
    fields (conditions, medications, allergies, no_known_allergies) update the patient's
    medical history, they are not answers of the case."""

    pain: int | None = None
    swelling: bool | None = None
    bleeding: bool | None = None
    fever: bool | None = None
    difficulty_swallowing: bool | None = None
    difficulty_breathing: bool | None = None
    area: str | None = None
    procedure_date: date | None = None
    notes: str | None = None
    history_changed: bool | None = None
    """The patient's answer to "has your medical history changed since your last visit?"."""
    problem: Literal["new", "established", "post_op_check"] | None = None
    """A new problem, one a dentist here has looked at before (established), or a check
    after treatment (post_op_check). Without it: post_op_check for a post_op case, else new."""

    def answers(self) -> dict[str, Any]:
        values = {k: v for k, v in msgspec.structs.asdict(self).items()
                  if v is not None and k not in HISTORY_FIELDS}
        if isinstance(values.get("procedure_date"), date):
            values["procedure_date"] = values["procedure_date"].isoformat()
        return values


class Location(msgspec.Struct, forbid_unknown_fields=True):
    state: str | None = None
    site: str | None = None
    """home | school | office | other"""


class ServiceIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    """A CDT code delivered on site: D1206 fluoride varnish, D1351 sealant (per tooth)…"""
    tooth: str | int | None = None


class ScreeningIn(msgspec.Struct, forbid_unknown_fields=True):
    """ASTDD Basic Screening Survey findings (kind school_screening, hygienists only)."""

    event_id: uuid.UUID
    caries_experience: bool
    untreated_decay: bool
    sealants_present: bool
    treatment_urgency: str
    """none | early | urgent"""
    services: list[ServiceIn] = msgspec.field(default_factory=list)


class CaseIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    """post_op | emergency | question | school_screening"""
    questionnaire: Questionnaire | None = None
    location: Location | None = None
    patient_id: uuid.UUID | None = None
    """Required when staff submit; a patient submits for themself."""
    screening: ScreeningIn | None = None
    """school_screening only."""


class ConsentIn(msgspec.Struct, forbid_unknown_fields=True):
    form: str
    version: int
    patient_id: uuid.UUID | None = None
    method: str | None = None
    """Staff only: paper (default) or roster."""
    given_by: str | None = None
    """Staff only: patient (default) or guardian."""
    given_by_name: str | None = None
    language: str = "en"
    """The language of the text that was read: ``en`` or ``es`` (docs/i18n.md)."""


class IdentityDecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    """A held DICOM (``identity_mismatch``): confirm it is this case's patient, or reject it."""

    decision: str
    """confirm | reject"""
    reason: str | None = None
