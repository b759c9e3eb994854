"""The medical history as a form shows it: one entry a line, a note after a colon
("Penicillin: hives"). Used by the history page and the patient's new-case page."""

from __future__ import annotations

from typing import Any

from reviewer.patients.history import HistoryEntry


def parse_lines(text: str) -> list[HistoryEntry]:
    """``name: note`` a line; empty lines are skipped."""
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, _, note = line.partition(":")
        entries.append(HistoryEntry(name=name.strip(), note=note.strip() or None))
    return entries


def as_lines(entries: list[dict[str, Any]] | None) -> str:
    return "\n".join(
        f"{e['name']}: {e['note']}" if e.get("note") else e["name"] for e in entries or []
    )
