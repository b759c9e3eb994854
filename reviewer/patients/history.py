"""The patient's medical history: conditions, medications and allergies (each a list of
entries ``{"name", "note"}``) and the explicit answer "no known allergies".

Who may change it: the patient (a patient login, for the patients linked to it: themself or
a guardian's child) and staff who register patients (hygienists, front desk, coordinators) in
their organizations; dentists read it on the case page. Anyone else, or a patient out of
reach, answers NotFound. Every change is a ``patient.history_changed`` event (the changed
field names only, never the entries: PHI) and is kept on the patient as who and when.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import get_patient
from reviewer.actor import Actor
from reviewer.clock import local_date
from reviewer.errors import NotFound, Unprocessable
from reviewer.i18n import N_
from storage.audit import AuditContext, record_event
from storage.models import Patient, Role, User

EDITOR_ROLES = frozenset({Role.PATIENT, Role.HYGIENIST, Role.FRONT_DESK, Role.COORDINATOR})
LISTS = ("conditions", "medications", "allergies")
FIELDS = (*LISTS, "no_known_allergies")
NAME_LIMIT = 200
NOTE_LIMIT = 500
MAX_ENTRIES = 50


@dataclass(frozen=True)
class HistoryEntry:
    name: str
    note: str | None = None


@dataclass(frozen=True)
class HistoryInput:
    """The fields to set; a field left None stays as it is."""

    conditions: Sequence[HistoryEntry] | None = None
    medications: Sequence[HistoryEntry] | None = None
    allergies: Sequence[HistoryEntry] | None = None
    no_known_allergies: bool | None = None

    def __post_init__(self) -> None:
        # checked when the input is made, so intake refuses it before it creates the case
        for field in LISTS:
            entries = getattr(self, field)
            if entries is not None:
                _entries(field, entries)
        if self.no_known_allergies and self.allergies:
            _conflict()

    def given(self) -> bool:
        return any(getattr(self, f) is not None for f in FIELDS)


def _conflict() -> None:
    raise Unprocessable(N_("'No known allergies' cannot go with a list of allergies."),
                        code="no_known_allergies_conflict")


def _entries(field: str, entries: Sequence[HistoryEntry]) -> list[dict[str, Any]]:
    if len(entries) > MAX_ENTRIES:
        raise Unprocessable(f"At most {MAX_ENTRIES} entries in {field}.",
                            code="too_many_entries")
    cleaned: list[dict[str, Any]] = []
    for entry in entries:
        name = " ".join(entry.name.split())
        note = (entry.note or "").strip()
        if not name or len(name) > NAME_LIMIT:
            raise Unprocessable(f"Each entry in {field} needs a name of 1 to {NAME_LIMIT} "
                                "characters.", code="invalid_history_entry")
        if len(note) > NOTE_LIMIT:
            raise Unprocessable(f"A note in {field} is at most {NOTE_LIMIT} characters.",
                                code="invalid_history_entry")
        cleaned.append({"name": name, "note": note or None})
    return cleaned


def history_of(patient: Patient) -> dict[str, Any]:
    """The history as the API shows it on the patient."""
    return {
        "conditions": list(patient.conditions or []),
        "medications": list(patient.medications or []),
        "allergies": list(patient.allergies or []),
        "no_known_allergies": patient.no_known_allergies,
        "history_updated_at": (patient.history_updated_at.isoformat()
                               if patient.history_updated_at else None),
        "history_updated_by_id": (str(patient.history_updated_by_id)
                                  if patient.history_updated_by_id else None),
    }


async def update_history(
    db: AsyncSession, actor: Actor, patient_id: uuid.UUID, data: HistoryInput,
    *, now: datetime | None = None,
) -> Patient:
    """Set the given fields of the patient's history (audited when anything changed).

    Raises Unprocessable ``invalid_history_entry`` / ``too_many_entries`` for a bad list and
    ``no_known_allergies_conflict`` for "no known allergies" together with allergies."""
    if actor.role not in EDITOR_ROLES:
        raise NotFound("No such patient.")
    patient = await get_patient(db, actor, patient_id)
    new: dict[str, Any] = {f: getattr(patient, f) for f in FIELDS}
    for field in LISTS:
        entries = getattr(data, field)
        if entries is not None:
            new[field] = _entries(field, entries)
    if data.no_known_allergies is not None:
        new["no_known_allergies"] = data.no_known_allergies
    elif data.allergies:
        new["no_known_allergies"] = False  # listing an allergy answers the question
    if new["no_known_allergies"] and new["allergies"]:
        _conflict()
    changed = [f for f in FIELDS if new[f] != getattr(patient, f)]
    if not changed:
        return patient
    for field in changed:
        setattr(patient, field, new[field])
    user = await db.get(User, actor.user_id)
    label = (user.display_name or user.email) if user else "unknown"
    patient.history_updated_at = now or datetime.now(UTC)
    patient.history_updated_by_id = actor.user_id
    patient.history_updated_by = f"{label} ({str(actor.role).replace('_', ' ')})"
    await db.flush()
    await record_event(
        db, "patient.history_changed",
        AuditContext(actor_id=actor.user_id, actor_role=actor.role,
                     client_address=actor.client_address),
        organization_id=patient.organization_id, subject_type="patient",
        subject_id=patient.id, details={"fields": changed},
    )
    return patient


def history_rows(patient: Patient, time_zone: str | None = None) -> list[tuple[str, str]]:
    """The history as the D9996 record prints it: a dated heading (the day in the
    practice's ``time_zone``), then each list."""
    if patient.history_updated_at is None:
        return [("Medical history", "not recorded")]
    day = local_date(patient.history_updated_at, time_zone).isoformat()
    rows = [("Medical history",
             f"(updated {day} by {patient.history_updated_by or 'unknown'})")]
    allergies = _printed(patient.allergies)
    if patient.no_known_allergies and not allergies:
        allergies = "no known allergies"
    rows.append(("Allergies", allergies or "not answered"))
    rows.append(("Medications", _printed(patient.medications) or "none listed"))
    rows.append(("Conditions", _printed(patient.conditions) or "none listed"))
    return rows


def _printed(entries: Sequence[dict[str, Any]] | None) -> str:
    return "; ".join(
        f"{e.get('name', '')} ({e['note']})" if e.get("note") else str(e.get("name", ""))
        for e in entries or []
    )
