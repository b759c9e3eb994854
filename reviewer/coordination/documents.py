"""The case-management documentation (D9991/D9992/D9997, D9993/D9994): a PDF listing the
logged activities with their minutes, who did them and why, the minutes per code and the claim
lines the coding rules propose. Pure: plain data in, bytes out; same data, same bytes.

It uses the documentation machinery's embedded Unicode font (``reviewer.documents.pdf``) so
names in any script render and read back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fpdf import FPDF

from reviewer.coding.case_management import CoordinationActivity
from reviewer.coding.rules import ClaimLine, RuleViolation
from reviewer.documents.model import PatientIdentity, Practice
from reviewer.documents.pdf import format_moment, plain_document

__all__ = ["CoordinationRecord", "render_coordination_record"]

FONT = "toothline"
TITLE = "Case management and care coordination — D9991 / D9992 / D9997"


@dataclass(frozen=True)
class CoordinationRecord:
    practice: Practice
    patient: PatientIdentity
    period: tuple[dt.date | None, dt.date | None]
    activities: tuple[CoordinationActivity, ...]
    minutes_by_code: Mapping[str, int]
    lines: tuple[ClaimLine, ...]
    not_billed: tuple[RuleViolation, ...]
    generated_at: dt.datetime
    outcomes: Mapping[str, str]
    """activity id → the outcome recorded."""
    counterparts: Mapping[str, str]
    """activity id → with whom, in words."""
    consent: str = "not on file"
    """The information-sharing consent, in words (form, version, who accepted, when)."""
    recorded_at: Mapping[str, dt.datetime] = dataclasses.field(default_factory=dict)
    """activity id → when its performer recorded it (the performer's signature)."""


def _period(period: tuple[dt.date | None, dt.date | None]) -> str:
    start, end = period
    if not start and not end:
        return "all logged activities"
    return (
        f"{start.isoformat() if start else 'the first activity'} to "
        f"{end.isoformat() if end else 'the latest'}"
    )


def render_coordination_record(record: CoordinationRecord) -> bytes:
    doc = plain_document(TITLE, record.practice.name, record.generated_at)
    doc.set_font(FONT, size=14)
    doc.multi_cell(0, 7, TITLE, new_x="LMARGIN", new_y="NEXT")
    doc.set_font(FONT, size=9.5)
    for text in (
        f"{record.practice.name}, {record.practice.address} (NPI {record.practice.npi})",
        f"Patient: {record.patient.name}, born {record.patient.date_of_birth.isoformat()}"
        + (
            f", payer {record.patient.payer_name} member {record.patient.member_id}"
            if record.patient.payer_name
            else ""
        ),
        f"Period: {_period(record.period)}",
        f"Generated: {format_moment(record.generated_at, record.practice.time_zone)}",
    ):
        doc.multi_cell(0, 5.5, text, new_x="LMARGIN", new_y="NEXT")
    doc.ln(2)
    _heading(doc, "Minutes per code")
    total = sum(record.minutes_by_code.values())
    with doc.table(
        col_widths=(40, 40), text_align="LEFT", first_row_as_headings=False, width=80, align="LEFT"
    ) as table:
        table.row(("Code", "Minutes"))
        for code in sorted(record.minutes_by_code):
            table.row((code, str(record.minutes_by_code[code])))
        table.row(("Total", str(total)))
    doc.ln(2)
    _heading(doc, "Activities")
    with doc.table(
        col_widths=(18, 14, 12, 30, 36, 36, 34), text_align="LEFT", first_row_as_headings=False
    ) as table:
        table.row(
            ("Date", "Code", "Min", "By", "What was done", "Why (necessity)", "With whom / outcome")
        )
        for a in _ordered(record.activities):
            barrier = f" [barrier: {a.barrier}]" if a.barrier else ""
            table.row(
                (
                    a.date.isoformat(),
                    a.code,
                    str(a.minutes),
                    f"{a.performed_by.name} ({a.performed_by.role})",
                    a.what_was_done + barrier,
                    a.necessity,
                    f"{record.counterparts.get(a.activity_id, '') or '—'}; "
                    f"{record.outcomes.get(a.activity_id, '') or 'no outcome recorded'}",
                )
            )
    doc.ln(2)
    _heading(doc, "Claim lines")
    if record.lines:
        with doc.table(
            col_widths=(20, 24, 50, 20, 20), text_align="LEFT", first_row_as_headings=False
        ) as table:
            table.row(("Code", "Date", "Provider", "Qty", "POS"))
            for line in record.lines:
                table.row(
                    (
                        line.code,
                        line.date_of_service.isoformat(),
                        f"{line.provider.name} {line.provider.npi}".strip(),
                        str(line.quantity),
                        line.place_of_service,
                    )
                )
    else:
        doc.multi_cell(0, 5.5, "No billable line.", new_x="LMARGIN", new_y="NEXT")
    if record.not_billed:
        doc.ln(2)
        _heading(doc, "Not billed, and why")
        doc.set_font(FONT, size=8.5)
        for v in record.not_billed:
            doc.multi_cell(0, 5, f"• {v.message}", new_x="LMARGIN", new_y="NEXT")
    doc.ln(2)
    _heading(doc, "Information-sharing consent")
    doc.multi_cell(0, 5.5, record.consent, new_x="LMARGIN", new_y="NEXT")
    doc.ln(2)
    _heading(doc, "Signatures of the performers")
    for a in _ordered(record.activities):
        when = record.recorded_at.get(a.activity_id)
        signed = format_moment(when, record.practice.time_zone) if when else "time not recorded"
        npi = f", NPI {a.performed_by.npi}" if a.performed_by.npi else ""
        doc.multi_cell(
            0, 5.5,
            f"{a.date.isoformat()} {a.code}: performed and documented by {a.performed_by.name} "
            f"({a.performed_by.role}{npi}), signed electronically {signed}",
            new_x="LMARGIN", new_y="NEXT",
        )
    return bytes(doc.output())


def _heading(doc: FPDF, text: str) -> None:
    doc.set_font(FONT, size=11.5)
    doc.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
    doc.set_font(FONT, size=8.5)


def _ordered(activities: Sequence[CoordinationActivity]) -> list[CoordinationActivity]:
    return sorted(activities, key=lambda a: (a.date, a.activity_id))
