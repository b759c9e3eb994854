"""The copy of a patient's records: a ZIP with a cover sheet, an index and every file. Pure.

Layout (fixed order, fixed timestamps: the same contents give the same bytes)::

    cover-sheet.pdf                 patient, request, date, and the index as a table
    index.json                      every other file: name, description, media type, size, sha256
    cases/NN-YYYY-MM-DD/...         per case: D9996-record.pdf, images/, originals/
    live-sessions/NN-YYYY-MM-DD/    "all records": D9995-record.pdf per signed live session
    coordination/                   "all records": D9992-coordination.pdf

The index lists every file of the ZIP except itself (the cover sheet included), so a reader
can check each file's sha256 against it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reviewer.documents.pdf import format_moment, plain_document

__all__ = [
    "COVER_NAME",
    "INDEX_NAME",
    "BuiltPackage",
    "PackageItem",
    "PackageLabel",
    "build_records_package",
    "render_cover_sheet",
]

COVER_NAME = "cover-sheet.pdf"
INDEX_NAME = "index.json"
INDEX_FORMAT = "toothline-records-copy/1"
FONT = "toothline"


@dataclass(frozen=True)
class PackageItem:
    name: str
    """Path inside the ZIP."""
    description: str
    media_type: str
    data: bytes
    case_id: str | None = None
    source: str = ""
    """What it was made from: ``claim_package:<id>``, ``attachment:<id>:display``..."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class PackageLabel:
    organization: str
    organization_address: str
    time_zone: str
    request_id: str
    patient_name: str
    patient_date_of_birth: dt.date
    requester: str
    requester_name: str
    received_at: dt.datetime
    prepared_at: dt.datetime
    scope: str
    """The records asked for, in words."""
    format: str
    contents: str = ""
    """What the copy holds, counted by kind (case reviews, live sessions, coordination)."""


@dataclass(frozen=True)
class BuiltPackage:
    zip_bytes: bytes
    index: dict[str, Any]
    cover_pdf: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.zip_bytes).hexdigest()


def _entry(item: PackageItem) -> dict[str, Any]:
    return {
        "name": item.name,
        "description": item.description,
        "media_type": item.media_type,
        "size": len(item.data),
        "sha256": item.sha256,
        "case_id": item.case_id,
    }


def render_cover_sheet(label: PackageLabel, items: Sequence[PackageItem]) -> bytes:
    """A cover sheet labelled with the patient, the request and its date, with the index."""
    doc = plain_document("Copy of dental records", label.organization, label.prepared_at)
    doc.set_font(FONT, size=16)
    doc.multi_cell(0, 8, "Copy of dental records", new_x="LMARGIN", new_y="NEXT")
    doc.set_font(FONT, size=10)
    rows = (
        ("From", f"{label.organization}, {label.organization_address}"),
        ("Patient", f"{label.patient_name}, born {label.patient_date_of_birth.isoformat()}"),
        ("Request", label.request_id),
        ("Asked by", f"{label.requester_name or 'not named'} ({label.requester})"),
        ("Received", format_moment(label.received_at, label.time_zone)),
        ("Prepared", format_moment(label.prepared_at, label.time_zone)),
        ("Records asked for", label.scope),
        ("Format", label.format),
        *((("Contains", label.contents),) if label.contents else ()),
        ("Files", str(len(items) + 1)),
    )
    for key, value in rows:
        doc.multi_cell(0, 6, f"{key}: {value}", new_x="LMARGIN", new_y="NEXT")
    doc.ln(3)
    doc.set_font(FONT, size=12)
    doc.multi_cell(0, 7, "Index", new_x="LMARGIN", new_y="NEXT")
    doc.set_font(FONT, size=8)
    with doc.table(
        col_widths=(60, 60, 60), text_align="LEFT", first_row_as_headings=False
    ) as table:
        table.row(("File", "What it is", "SHA-256"))
        for item in items:
            table.row((item.name, item.description, item.sha256))
    doc.ln(3)
    doc.set_font(FONT, size=8)
    doc.multi_cell(
        0,
        5,
        "index.json in this package lists every file with its size and SHA-256 checksum, "
        "this cover sheet included. This copy contains protected health information: keep it "
        "safe.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(doc.output())


def _zip(files: Sequence[tuple[str, bytes]], moment: dt.datetime) -> bytes:
    stamp = moment.astimezone(dt.UTC)
    date_time = (
        max(stamp.year, 1980),
        stamp.month,
        stamp.day,
        stamp.hour,
        stamp.minute,
        stamp.second - stamp.second % 2,
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def build_records_package(label: PackageLabel, items: Sequence[PackageItem]) -> BuiltPackage:
    names = [i.name for i in items]
    if len(set(names)) != len(names) or {COVER_NAME, INDEX_NAME} & set(names):
        raise ValueError("package file names must be unique and not reserved")
    cover = render_cover_sheet(label, items)
    cover_item = PackageItem(COVER_NAME, "Cover sheet and index", "application/pdf", cover)
    every = [cover_item, *items]
    index: dict[str, Any] = {
        "format": INDEX_FORMAT,
        "request_id": label.request_id,
        "organization": label.organization,
        "prepared_at": label.prepared_at.astimezone(dt.UTC).isoformat(),
        "records_asked_for": label.scope,
        "files": [_entry(i) for i in every],
    }
    index_bytes = (json.dumps(index, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    zip_bytes = _zip(
        [*((i.name, i.data) for i in every), (INDEX_NAME, index_bytes)], label.prepared_at
    )
    return BuiltPackage(zip_bytes=zip_bytes, index=index, cover_pdf=cover)
