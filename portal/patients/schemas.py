"""JSON bodies of the patient API (msgspec structs: unknown keys and wrong types answer 400)."""

from __future__ import annotations

import msgspec

from reviewer.patients.history import HistoryEntry, HistoryInput


class HistoryEntryIn(msgspec.Struct, forbid_unknown_fields=True):
    """One condition, medication or allergy (docs/intake.md, "Medical history")."""

    name: str
    """1 to 200 characters (else 422 ``invalid_history_entry``)."""
    note: str | None = None
    """Optional, at most 500 characters (a reaction, a dose)."""


class HistoryIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The medical history fields: a list given replaces the patient's list, one left out
    stays as it is. At most 50 entries a list (422 ``too_many_entries``)."""

    conditions: list[HistoryEntryIn] | None = None
    medications: list[HistoryEntryIn] | None = None
    allergies: list[HistoryEntryIn] | None = None
    no_known_allergies: bool | None = None
    """The explicit answer; true with allergies is 422 ``no_known_allergies_conflict``."""

    def history(self) -> HistoryInput:
        def entries(items: list[HistoryEntryIn] | None) -> list[HistoryEntry] | None:
            return None if items is None else [HistoryEntry(i.name, i.note) for i in items]

        return HistoryInput(
            conditions=entries(self.conditions), medications=entries(self.medications),
            allergies=entries(self.allergies), no_known_allergies=self.no_known_allergies,
        )
