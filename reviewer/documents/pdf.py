"""PDF renderers: the D9996 record, the D9995 record and the claim attachment. Pure.

fpdf2 with one Unicode TrueType font (WenQuanYi Micro Hei covers Latin, Vietnamese and Chinese,
so names in any of those scripts render and read back). Every document carries a fixed
creation date (:func:`reviewer.documents.model.record_moment`) and fixed metadata, so the same
record gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF
from PIL import Image

from reviewer import labels
from reviewer.clock import zone
from reviewer.coding.catalog import is_known_code, load_catalog
from reviewer.coding.rules import ClaimLine
from reviewer.documents.annotations import annotation_lines, draw_annotations
from reviewer.documents.image_label import image_label
from reviewer.documents.model import (
    AsyncRecord,
    ConsentNote,
    GatheredItem,
    LiveRecord,
    Practice,
    Recommendation,
    record_moment,
)
from reviewer.documents.review_section import review_section
from reviewer.errors import DomainError

__all__ = [
    "ASYNC_LABEL",
    "FONT_CANDIDATES",
    "SYNC_LABEL",
    "DocumentFontMissing",
    "collected_span_text",
    "find_font",
    "format_moment",
    "render_async_record",
    "render_attachment_pdf",
    "render_live_record",
]

ASYNC_LABEL = "Teledentistry — asynchronous (store and forward), D9996"
SYNC_LABEL = "Teledentistry — synchronous (live, real-time), D9995"
ATTESTATION_DEFAULT = (
    "I attest that I reviewed the information listed above, that this record is accurate and "
    "complete, and that the services listed were provided as documented."
)

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
"""Looked for in this order, after ``TOOTHLINE_PDF_FONT``."""
FONT = "toothline"
PRODUCER = "Toothline"


class DocumentFontMissing(DomainError):
    """No Unicode font to render documents with (an installation problem)."""

    code = "document_font_missing"
    kind = "unprocessable"


@lru_cache(maxsize=4)
def find_font(explicit: str | None = None) -> str:
    """The font file documents embed: ``explicit``, ``$TOOTHLINE_PDF_FONT``, or a known path."""
    for candidate in (explicit, os.environ.get("TOOTHLINE_PDF_FONT"), *FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return candidate
    raise DocumentFontMissing(
        "No Unicode font for documents: install Debian's fonts-wqy-microhei or set "
        "TOOTHLINE_PDF_FONT to a TrueType font covering Latin, Vietnamese and Chinese."
    )


def format_moment(moment: dt.datetime | None, time_zone: str) -> str:
    """An instant in the practice's time zone (``2026-11-21 09:30 PST``); naive = UTC."""
    if moment is None:
        return "not recorded"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    local = aware.astimezone(zone(time_zone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or time_zone}"


def _device_time(moment: dt.datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} (device clock)" if moment else "not recorded by the device"


def _descriptor(code: str) -> str:
    return load_catalog().get(code).descriptor if is_known_code(code) else "(not in the catalog)"


def plain_document(title: str, author: str, moment: dt.datetime) -> FPDF:
    """A4 portrait with the Unicode font, one page added, for the short documents without a
    running header (the coordination record, a records copy's cover sheet)."""
    doc = FPDF(orientation="P", unit="mm", format="A4")
    doc.set_creation_date(moment.astimezone(dt.UTC))
    doc.set_title(title)
    doc.set_author(author)
    doc.set_creator(PRODUCER)
    doc.set_producer(PRODUCER)
    doc.set_lang("en")
    doc.set_auto_page_break(auto=True, margin=15)
    doc.set_margins(15, 15, 15)
    doc.add_font(FONT, "", find_font(), collection_font_number=0)
    doc.add_page()
    return doc


class _Document(FPDF):
    """A4 portrait, the Unicode font, a running header and a page footer."""

    def __init__(self, title: str, subject: str, moment: dt.datetime, reference: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._running_title = title
        self._reference = reference
        self.set_creation_date(moment)
        self.set_title(title)
        self.set_subject(subject)
        self.set_author(PRODUCER)
        self.set_creator(PRODUCER)
        self.set_producer(PRODUCER)
        self.set_lang("en")
        self.set_auto_page_break(auto=True, margin=16)
        self.set_margins(15, 15, 15)
        self.add_font(FONT, "", find_font(), collection_font_number=0)
        self.set_font(FONT, size=9.5)
        self.alias_nb_pages()

    def header(self) -> None:
        self.set_font(FONT, size=8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, self._running_title, new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.set_font(FONT, size=9.5)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=7.5)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"{self._reference} · page {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0, 0, 0)

    # --- building blocks ------------------------------------------------------------------

    def title_block(self, title: str, label: str) -> None:
        self.set_font(FONT, size=15)
        self.multi_cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, size=11.5)
        self.set_fill_color(230, 240, 241)
        self.multi_cell(0, 7, label, fill=True, new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, size=9.5)
        self.ln(2)

    def section(self, heading: str) -> None:
        if self.get_y() > self.h - 40:
            self.add_page()
        self.ln(2)
        self.set_font(FONT, size=11.5)
        self.set_draw_color(10, 92, 99)
        self.cell(0, 6, heading, border="B", new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, size=9.5)
        self.ln(1)

    def field(self, label: str, value: str) -> None:
        self.set_text_color(70, 70, 70)
        self.multi_cell(45, 5, label, new_x="RIGHT", new_y="TOP")
        self.set_text_color(0, 0, 0)
        start_y = self.get_y()
        self.multi_cell(0, 5, value or "—", align="L", new_x="LMARGIN", new_y="NEXT")
        if self.get_y() < start_y + 5:
            self.set_y(start_y + 5)

    def paragraph(self, text: str) -> None:
        self.multi_cell(0, 5, text or "—", align="L", new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def small(self, text: str) -> None:
        self.set_font(FONT, size=8)
        self.multi_cell(0, 4, text, align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, size=9.5)

    def rows(
        self, header: Sequence[str], rows: Iterable[Sequence[str]], widths: Sequence[int]
    ) -> None:
        body = [list(r) for r in rows]
        if not body:
            self.paragraph("None.")
            return
        self.set_font(FONT, size=8.5)
        with self.table(
            col_widths=tuple(widths),
            text_align="LEFT",
            line_height=4.5,
            first_row_as_headings=False,
        ) as table:
            head = table.row()
            for cell in header:
                head.cell(cell)
            for values in body:
                row = table.row()
                for value in values:
                    row.cell(value or "—")
        self.set_font(FONT, size=9.5)
        self.ln(1)


def _as_signed(record: AsyncRecord | LiveRecord) -> Sequence[ClaimLine]:
    return record.signed_lines if record.signed_lines is not None else record.lines


def _corrections(doc: _Document, record: AsyncRecord | LiveRecord, tz: str) -> None:
    """Billing's changes after signing, each with who, when and why: they are never printed
    as if the signer had signed them."""
    if not record.corrections:
        return
    doc.section("Claim lines corrected")
    doc.paragraph(
        "Billing changed the claim lines after the record above was signed. The signature "
        "covers the record and the lines as signed, not these corrections."
    )
    for number, correction in enumerate(record.corrections, start=1):
        doc.field(
            f"Correction {number}",
            f"{format_moment(correction.at, tz)} by {correction.by}: {correction.reason}",
        )
        doc.rows(_LINE_HEADER, _line_rows(correction.lines), _LINE_WIDTHS)


def _line_rows(lines: Sequence[ClaimLine]) -> list[list[str]]:
    return [
        [
            line.code,
            _descriptor(line.code),
            f"{line.provider.name} ({labels.label(line.provider.role, 'provider_role')},"
            f" NPI {line.provider.npi or 'none'})",
            line.date_of_service.isoformat(),
            line.tooth or "",
            line.surfaces or "",
            str(line.quantity),
            line.place_of_service,
            f"{labels.label(line.encounter.type, 'encounter_type')} {line.encounter.id}",
        ]
        for line in lines
    ]


_LINE_HEADER = ("Code", "Service", "Provider", "Date", "Tooth", "Surf.", "Qty", "POS", "Encounter")
_LINE_WIDTHS = (13, 40, 38, 18, 10, 10, 8, 9, 34)


def _practice_block(doc: _Document, practice: Practice) -> None:
    doc.section("Practice")
    doc.field("Practice", practice.name)
    doc.field("Practice NPI", practice.npi or "not on file")
    doc.field("Address", practice.address)
    if practice.phone:
        doc.field("Phone", practice.phone)


def _recommendation_rows(recs: Sequence[Recommendation]) -> list[list[str]]:
    return [
        [r.code, r.descriptor, r.tooth or "", r.surfaces or "", r.rationale] for r in recs
    ]


def _identity(doc: _Document, record: AsyncRecord | LiveRecord) -> None:
    _practice_block(doc, record.practice)
    doc.section("Provider")
    doc.field("Dentist", record.dentist.name)
    doc.field("License", record.dentist.license or "not on file")
    doc.field("Dentist NPI", record.dentist.npi or "not on file")
    p = record.patient
    doc.section("Patient")
    doc.field("Name", p.name)
    doc.field("Date of birth", p.date_of_birth.isoformat())
    doc.field("Patient reference", p.reference)
    if p.address:
        doc.field("Address", p.address)
    if p.payer_name or p.member_id:
        doc.field("Payer / member id", f"{p.payer_name or '—'} / {p.member_id or '—'}")
    if p.school or p.student_id:
        doc.field("School / student id", f"{p.school or '—'} / {p.student_id or '—'}")
    if p.guardian_name:
        doc.field("Parent or guardian", p.guardian_name)
    doc.section("Sites")
    o, d = record.originating_site, record.distant_site
    for label, site in (("Originating site", o), ("Distant site", d)):
        where = f" ({site.state})" if site.state else ""
        doc.field(label, f"{site.kind}: {site.description}{where}")


def render_async_record(
    record: AsyncRecord, *, attachment_control_number: str = "", version: int = 1
) -> bytes:
    """The D9996 record: everything an auditor reads about one asynchronous review."""
    tz = record.practice.time_zone
    reference = f"D9996 record · case {record.encounter_id} · version {version}"
    if attachment_control_number:
        reference += f" · ACN {attachment_control_number}"
    doc = _Document(
        "Teledentistry record — D9996 asynchronous review",
        ASYNC_LABEL,
        record_moment(record),
        reference,
    )
    doc.add_page()
    doc.title_block("Teledentistry record", ASYNC_LABEL)
    doc.field(
        "Encounter", f"asynchronous review of case {record.encounter_id} ({record.case_kind})"
    )
    doc.field("Document version", str(version))
    if attachment_control_number:
        doc.field("Attachment control no.", attachment_control_number)
    doc.field("Payer profile", record.payer_profile)
    _identity(doc, record)

    doc.section("Collection and transmission")
    collector = record.collected_by
    doc.field(
        "Collected by",
        f"{collector.name} ({collector.role}"
        + (f", NPI {collector.npi}" if collector.npi else "")
        + ")",
    )
    _collection(doc, record)
    doc.field("Sent to the dentist", format_moment(record.sent_at, tz))
    doc.field("Reviewed by the dentist", format_moment(record.reviewed_at or record.signed_at, tz))
    doc.field("Signed", format_moment(record.signed_at, tz))

    _consents(doc, record, tz)

    doc.section("Information gathered")
    doc.paragraph(f"{len(record.items)} stored file(s); sha256 of each stored original below.")
    for index, item in enumerate(record.items, start=1):
        doc.field(
            f"{index}. {item.kind}",
            f"view: {item.view or 'not given'}; teeth: {item.teeth or 'not given'}; "
            f"captured: {_device_time(item.captured_at)}; type: {item.content_type}",
        )
        doc.small(f"sha256 {item.sha256}")
    review_section(doc, record, lambda moment: format_moment(moment, tz))
    doc.section("Questionnaire")
    doc.rows(("Question", "Answer"), record.questionnaire, (60, 120))
    doc.section("History")
    doc.rows(("Item", "Detail"), record.history, (60, 120))
    if record.screening:
        doc.section("School screening")
        doc.rows(("Item", "Result"), record.screening, (60, 120))

    doc.section("Findings")
    doc.paragraph(record.findings)
    if record.teeth_findings:
        doc.rows(("Tooth", "Condition"), record.teeth_findings, (20, 160))
    doc.section("Diagnosis")
    doc.paragraph(record.diagnosis)
    doc.section("Treatment recommendations (treatment plan, not claimed)")
    doc.rows(
        ("Code", "Procedure", "Tooth", "Surf.", "Rationale"),
        _recommendation_rows(record.recommendations),
        (14, 50, 12, 12, 92),
    )
    doc.section("Advice given")
    doc.paragraph(record.advice)
    doc.section("Referral and follow-up")
    doc.field("Referral", record.referral or "none")
    doc.field("Follow-up", record.follow_up or "none")

    doc.section("Claim lines" if not record.corrections else "Claim lines as signed")
    doc.rows(_LINE_HEADER, _line_rows(_as_signed(record)), _LINE_WIDTHS)

    doc.section("Signature and attestation")
    license_ = record.dentist.license or "license not on file"
    doc.field("Signed by", f"{record.dentist.name}, {license_}")
    doc.field("Signed at", format_moment(record.signed_at, tz))
    doc.paragraph(record.attestation or ATTESTATION_DEFAULT)
    doc.small(f"signed content sha256 {record.content_sha256 or 'not recorded'}")

    doc.section("Addenda")
    if not record.addenda:
        doc.paragraph("None.")
    for number, note in enumerate(record.addenda, start=1):
        signed = format_moment(note.signed_at, tz)
        doc.field(f"Addendum {number}", f"{note.author}, signed {signed}")
        doc.paragraph(note.text)
    _corrections(doc, record, tz)
    return bytes(doc.output())


def collected_span_text(record: AsyncRecord) -> str:
    """``2026-11-20 08:00 to 2026-11-20 08:15``: the span of the items' capture times (device
    clock, else upload time); the collection day recorded on the case where no item has one."""
    start, end = record.collected_from, record.collected_to
    if start is None or end is None:
        return record.collected_on.isoformat() if record.collected_on else "not recorded"
    first, last = f"{start:%Y-%m-%d %H:%M}", f"{end:%Y-%m-%d %H:%M}"
    return first if first == last else f"{first} to {last}"


def _collection(doc: _Document, record: AsyncRecord) -> None:
    """The collection span and, on a school record, the collecting hygienist's license."""
    doc.field("Collected", collected_span_text(record))
    if record.case_kind == "school_screening":
        doc.field("Hygienist license", record.collected_by.license or "not on file")


def _consent_text(note: ConsentNote, tz: str) -> str:
    who = "the patient" if note.given_by == "patient" else f"the {note.given_by}"
    name = f", {note.given_by_name}" if note.given_by_name else ""
    return (
        f"{note.title}, version {note.version}, accepted {format_moment(note.accepted_at, tz)}"
        f" by {who}{name} ({note.method})"
    )


def _consents(doc: _Document, record: AsyncRecord, tz: str) -> None:
    """The consent in force at signing (and a school case's roster consent), with the
    store-and-forward disclosure of its version."""
    doc.section("Consent")
    if not record.consents:
        doc.paragraph("No teledentistry consent was on file when the review was signed.")
    for note in record.consents:
        doc.field(note.label, _consent_text(note, tz))
        doc.field("Disclosure",
                  note.disclosure or f"not part of version {note.version} of the form")


def _attachment_consents(doc: _Document, record: AsyncRecord, tz: str) -> None:
    doc.field("Collected", collected_span_text(record))
    if record.case_kind == "school_screening":
        doc.field("Collected by", f"{record.collected_by.name}, license "
                                  f"{record.collected_by.license or 'not on file'}")
    for note in record.consents:
        doc.field(note.label, _consent_text(note, tz))
        if note.disclosure:
            doc.field("Disclosure", note.disclosure)
    if not record.consents:
        doc.field("Consent", "none on file at signing")


def render_live_record(record: LiveRecord, *, version: int = 1) -> bytes:
    """The D9995 record of a live session: its own document, never merged with a review."""
    tz = record.practice.time_zone
    doc = _Document(
        "Teledentistry record — D9995 live session",
        SYNC_LABEL,
        record_moment(record),
        f"D9995 record · live session {record.encounter_id} · version {version}",
    )
    doc.add_page()
    doc.title_block("Teledentistry record", SYNC_LABEL)
    doc.field("Encounter", f"live session {record.encounter_id}")
    if record.linked_case_id:
        doc.field(
            "Linked case",
            f"{record.linked_case_id} (its asynchronous review is a separate D9996 encounter)",
        )
    doc.field("Payer profile", record.payer_profile)
    _identity(doc, record)
    doc.section("Session")
    doc.field("Scheduled", format_moment(record.scheduled_at, tz))
    doc.field("Started", format_moment(record.started_at, tz))
    doc.field("Ended", format_moment(record.ended_at, tz))
    minutes = max(0, round((record.ended_at - record.started_at).total_seconds() / 60))
    doc.field("Duration", f"{minutes} minutes")
    doc.field("Platform", record.platform)
    where = record.originating_site
    doc.field("Patient was at", where.kind)
    doc.field("Patient's state", where.state or "not recorded")
    if record.participants:
        doc.rows(("Participant", "Role"), [(p.name, p.role) for p in record.participants],
                 (100, 80))
    else:
        doc.field("Participants", "none recorded")
    doc.section("Notes")
    doc.paragraph(record.notes)
    doc.section("Findings")
    doc.paragraph(record.findings or "not recorded")
    doc.section("Diagnosis")
    doc.paragraph(record.diagnosis)
    doc.section("Treatment recommendations (treatment plan, not claimed)")
    doc.rows(
        ("Code", "Procedure", "Tooth", "Surf.", "Rationale"),
        _recommendation_rows(record.recommendations),
        (14, 50, 12, 12, 92),
    )
    doc.section("Advice given")
    doc.paragraph(record.advice)
    doc.section("Claim lines" if not record.corrections else "Claim lines as recorded")
    doc.rows(_LINE_HEADER, _line_rows(_as_signed(record)), _LINE_WIDTHS)
    _live_signature(doc, record, tz)
    _corrections(doc, record, tz)
    return bytes(doc.output())


def _live_signature(doc: _Document, record: LiveRecord, tz: str) -> None:
    """Who signed the session record, with which license, when, what they attested and the
    hash the signature covers; an unsigned record says so (it is not billable)."""
    doc.section("Signature and attestation")
    if record.signed_at is None:
        doc.paragraph("Not signed yet: the dentist who held the session signs its record "
                      "before it is billed.")
        return
    dentist = record.dentist
    doc.field("Signed by", f"{dentist.name} (NPI {dentist.npi or 'not on file'})")
    doc.field("License", dentist.license or "license not on file")
    doc.field("Signed at", format_moment(record.signed_at, tz))
    doc.paragraph(record.attestation)
    doc.small(f"signed content sha256 {record.content_sha256}")


def _fit_jpeg(data: bytes, long_side: int, quality: int) -> tuple[bytes, int, int]:
    """Re-encode a display picture smaller, with no metadata (deterministic for one Pillow)."""
    with Image.open(io.BytesIO(data)) as im:
        picture = im.convert("RGB")
        picture.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=quality, optimize=True)
        return out.getvalue(), picture.width, picture.height


def _image_identity(doc: _Document, record: AsyncRecord, item: GatheredItem) -> None:
    """Whose image, when and what, above every picture (issue 17: the right patient)."""
    doc.small(image_label(record.patient.name, record.patient.date_of_birth, item.captured_at,
                          item.view, item.teeth, captured_on=item.captured_on))


def render_attachment_pdf(
    record: AsyncRecord,
    *,
    narrative: str,
    attachment_control_number: str,
    images: Sequence[GatheredItem],
    long_side: int = 1600,
    quality: int = 80,
) -> bytes:
    """The one PDF a payer's attachment service takes: the narrative and the pictures."""
    tz = record.practice.time_zone
    doc = _Document(
        "Claim attachment — D9996 asynchronous review",
        ASYNC_LABEL,
        record_moment(record),
        f"Claim attachment · ACN {attachment_control_number}",
    )
    doc.add_page()
    doc.title_block("Claim attachment", ASYNC_LABEL)
    doc.field("Attachment control no.", attachment_control_number)
    doc.field("Patient", f"{record.patient.name}, born {record.patient.date_of_birth.isoformat()}")
    if record.patient.member_id:
        doc.field("Member id", record.patient.member_id)
    doc.field("Provider", f"{record.dentist.name}, NPI {record.dentist.npi or 'not on file'}")
    doc.field("Practice", f"{record.practice.name}, NPI {record.practice.npi or 'not on file'}")
    doc.field("Signed", format_moment(record.signed_at, tz))
    dates = sorted({line.date_of_service.isoformat() for line in record.lines})
    doc.field("Date(s) of service", ", ".join(dates))
    doc.field("Claimed codes", ", ".join(line.code for line in record.lines))
    if record.corrections:
        doc.field("Claim lines", "corrected by billing after signing: see the record's "
                                 "\"Claim lines corrected\"")
    _attachment_consents(doc, record, tz)
    doc.section("Narrative")
    doc.paragraph(narrative)
    review_section(doc, record, lambda moment: format_moment(moment, tz))
    for index, item in enumerate(images, start=1):
        if item.display_jpeg is None:
            continue
        picture = (draw_annotations(item.display_jpeg, item.annotations)
                   if item.annotations else item.display_jpeg)
        data, width, height = _fit_jpeg(picture, long_side, quality)
        max_w, max_h = doc.epw, 105.0
        scale = min(max_w / width, max_h / height)
        w, h = width * scale, height * scale
        if doc.get_y() + h + 22 > doc.h - doc.b_margin:  # + the identity line
            doc.add_page()
        kind, view = labels.label(item.kind, "attachment_kind"), item.view or "view not given"
        doc.section(f"Image {index}: {kind}, {labels.label(view, 'view')}")
        _image_identity(doc, record, item)
        doc.small(
            f"teeth: {item.teeth or 'not given'} · captured: {_device_time(item.captured_at)}"
            f" · original sha256 {item.sha256}"
        )
        doc.image(io.BytesIO(data), x=doc.l_margin + (max_w - w) / 2, w=w, h=h)
        for line in annotation_lines(item.annotations):
            doc.small(line)
        doc.ln(2)
    return bytes(doc.output())
