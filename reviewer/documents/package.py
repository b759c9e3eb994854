"""The claim-attachment package (ZIP) of an asynchronous review. Pure.

Contents, in this order (fixed timestamps, fixed order, so the same record gives the same
bytes)::

    D9996-record.pdf       the full record (report type DG, diagnostic report)
    claim-attachment.pdf   narrative + display images/radiographs (RB with radiographs, else OZ)
    images/NN-<kind>.jpg   only when the payer profile wants separate images (RB / OZ each)
    D9996-record.cda.xml   the same record as a C-CDA R2.1 Unstructured Document (DG), its id
                           the attachment control number (reviewer.interop.ccda)
    manifest.json          line items, place of service, provider, patient reference, dates,
                           attachment control number, report type and sha256 of every file

The payer profile's limits apply to the files sent to a payer's attachment portal (everything
but the manifest and the C-CDA): the number of files, the size of each and the formats. The
C-CDA is the record PDF again, wrapped for an X12 275 / electronic attachment exchange, so it
is not one more portal file (its ``alternative_to`` in the manifest names the PDF). When the
attachment PDF is too large the pictures are re-encoded smaller in fixed steps; when nothing
fits, :class:`AttachmentDoesNotFit` says what and why.
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

from PIL import Image

from reviewer.coding.catalog import IMAGE_CAPTURE_CODES
from reviewer.coding.payer import PayerProfile
from reviewer.documents.model import AsyncRecord, GatheredItem, record_moment
from reviewer.documents.pdf import (
    collected_span_text,
    render_async_record,
    render_attachment_pdf,
)
from reviewer.errors import Unprocessable
from reviewer.interop.ccda import ACN_ROOT as CCDA_ROOT
from reviewer.interop.ccda import input_for_record, unstructured_document

__all__ = [
    "ATTACHMENT_NAME",
    "CCDA_NAME",
    "FIT_STEPS",
    "MANIFEST_NAME",
    "RECORD_NAME",
    "AttachmentDoesNotFit",
    "ClaimPackageFiles",
    "PackageFile",
    "build_claim_package",
    "narrative_for",
]

RECORD_NAME = "D9996-record.pdf"
CCDA_NAME = "D9996-record.cda.xml"
ATTACHMENT_NAME = "claim-attachment.pdf"
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "toothline-claim-attachment/1"
TRANSMISSION = "EL"
"""837D PWK02: sent electronically."""

FIT_STEPS: tuple[tuple[int, int], ...] = ((1600, 80), (1280, 72), (1024, 65), (800, 55))
"""(long side in pixels, JPEG quality) tried in turn for the pictures in the attachment PDF."""
SEPARATE_IMAGE_STEPS: tuple[tuple[int, int], ...] = ((2048, 85), (1600, 75), (1024, 65))


class AttachmentDoesNotFit(Unprocessable):
    """The package cannot meet the payer profile's attachment limits."""

    code = "attachment_does_not_fit"


@dataclass(frozen=True)
class PackageFile:
    name: str
    media_type: str
    report_type: str
    description: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class ClaimPackageFiles:
    record_pdf: bytes
    files: tuple[PackageFile, ...]
    """Everything in the ZIP except the manifest, in ZIP order."""
    manifest: dict[str, Any]
    zip_bytes: bytes

    @property
    def record_sha256(self) -> str:
        return hashlib.sha256(self.record_pdf).hexdigest()

    @property
    def zip_sha256(self) -> str:
        return hashlib.sha256(self.zip_bytes).hexdigest()


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    tail = " […] (full text in the attached record)"
    room = max(limit - len(tail), 0)
    cut = text[:room]
    if " " in cut[room // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return (cut + tail)[:limit]


def _collected(record: AsyncRecord) -> str:
    """The collection span for the narrative (``2026-11-20 08:00 to 2026-11-20 08:15``)."""
    span = collected_span_text(record)
    return span if record.collected_from else f"on {span}"


def narrative_for(record: AsyncRecord, limit: int) -> str:
    """A short narrative for the payer, at most ``limit`` characters."""
    kinds = sorted({i.kind for i in record.items})
    parts = [
        f"Asynchronous teledentistry review (store and forward, D9996) of a {record.case_kind}"
        f" case: information collected {_collected(record)} at the"
        f" originating site ({record.originating_site.kind}) by {record.collected_by.name}"
        f" ({record.collected_by.role}) and reviewed by {record.dentist.name} at the distant"
        f" site; signed {record.signed_at:%Y-%m-%d}.",
        f"Gathered: {len(record.items)} file(s) ({', '.join(kinds) or 'none'}).",
        f"Findings: {record.findings or 'none recorded'}",
        f"Diagnosis: {record.diagnosis or 'none recorded'}",
    ]
    if record.recommendations:
        plan = "; ".join(
            f"{r.code}" + (f" tooth {r.tooth}" if r.tooth else "") + f" ({r.rationale})"
            for r in record.recommendations
        )
        parts.append(f"Recommended (not claimed): {plan}")
    if record.referral:
        parts.append(f"Referral: {record.referral}")
    if record.addenda:
        parts.append(f"Addenda: {len(record.addenda)} signed after the review.")
    return _clip(" ".join(parts), limit)


def _report_type_for(item: GatheredItem) -> str:
    return "RB" if item.kind == "radiograph" else "OZ"


def _plain_jpeg(data: bytes, long_side: int, quality: int) -> bytes:
    """The picture as a JPEG with no metadata at all (no EXIF, no ICC, no comment)."""
    with Image.open(io.BytesIO(data)) as im:
        picture = im.convert("RGB")
        picture.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=quality, optimize=True)
        return out.getvalue()


def _zip(files: Sequence[tuple[str, bytes]], moment: dt.datetime) -> bytes:
    stamp = moment.astimezone(dt.UTC)
    date_time = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute,
                 stamp.second - stamp.second % 2)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
    return buffer.getvalue()


def _check_limits(files: Sequence[PackageFile], profile: PayerProfile) -> list[str]:
    problems: list[str] = []
    if len(files) > profile.attachment_max_files:
        problems.append(
            f"{len(files)} files to send, but payer profile {profile.name!r} takes at most "
            f"{profile.attachment_max_files}"
        )
    for f in files:
        if not profile.attachment_format_accepted(f.media_type):
            problems.append(
                f"{f.name} is {f.media_type}, which payer profile {profile.name!r} does not take"
            )
        if len(f.data) > profile.attachment_max_bytes:
            problems.append(
                f"{f.name} is {len(f.data):,} bytes, over the {profile.attachment_max_bytes:,}"
                " bytes per file that the payer takes"
            )
    return problems


def _attachment_pdf(
    record: AsyncRecord, narrative: str, acn: str, pictures: Sequence[GatheredItem],
    profile: PayerProfile,
) -> bytes:
    last = b""
    for long_side, quality in FIT_STEPS:
        last = render_attachment_pdf(
            record,
            narrative=narrative,
            attachment_control_number=acn,
            images=pictures,
            long_side=long_side,
            quality=quality,
        )
        if len(last) <= profile.attachment_max_bytes:
            return last
    raise AttachmentDoesNotFit(
        f"The claim attachment PDF with {len(pictures)} picture(s) is {len(last):,} bytes even "
        f"with the pictures reduced to {FIT_STEPS[-1][0]} px; payer profile {profile.name!r} "
        f"takes at most {profile.attachment_max_bytes:,} bytes per file. Send fewer pictures "
        "or ask the payer for a larger limit."
    )


def _separate_image(item: GatheredItem, profile: PayerProfile) -> bytes:
    assert item.display_jpeg is not None
    data = b""
    for long_side, quality in SEPARATE_IMAGE_STEPS:
        data = _plain_jpeg(item.display_jpeg, long_side, quality)
        if len(data) <= profile.attachment_max_bytes:
            return data
    return data  # reported by _check_limits


def build_claim_package(
    record: AsyncRecord,
    profile: PayerProfile,
    *,
    attachment_control_number: str,
    version: int = 1,
) -> ClaimPackageFiles:
    """The record PDF and the claim-attachment ZIP of one signed review.

    Raises :class:`AttachmentDoesNotFit` when the payer profile's limits cannot be met.
    """
    acn = attachment_control_number
    record_pdf = render_async_record(record, attachment_control_number=acn, version=version)
    pictures = [i for i in record.items if i.display_jpeg is not None]
    narrative = narrative_for(record, profile.narrative_limit)
    has_radiographs = any(i.kind == "radiograph" for i in pictures)
    files: list[PackageFile] = [
        PackageFile(RECORD_NAME, "application/pdf", "DG",
                    "Teledentistry record (D9996): documentation of the review", record_pdf),
    ]
    if "application/pdf" not in profile.attachment_formats:
        raise AttachmentDoesNotFit(
            f"Payer profile {profile.name!r} does not take PDF files, and the record and the "
            "claim attachment are PDFs."
        )
    attachment = _attachment_pdf(record, narrative, acn, pictures, profile)
    files.append(
        PackageFile(ATTACHMENT_NAME, "application/pdf", "RB" if has_radiographs else "OZ",
                    f"Narrative and {len(pictures)} picture(s)", attachment)
    )
    separate: dict[str, GatheredItem] = {}
    if profile.wants_separate_images:
        if "image/jpeg" not in profile.attachment_formats:
            raise AttachmentDoesNotFit(
                f"Payer profile {profile.name!r} asks for separate images but does not take JPEG."
            )
        for index, item in enumerate(pictures, start=1):
            name = f"images/{index:02d}-{item.kind}.jpg"
            separate[name] = item
            files.append(
                PackageFile(name, "image/jpeg", _report_type_for(item),
                            f"{item.kind}, {item.view or 'view not given'}",
                            _separate_image(item, profile))
            )
    problems = _check_limits(files, profile)
    if problems:
        raise AttachmentDoesNotFit(
            "The claim attachment does not fit the payer's limits: " + "; ".join(problems) + "."
        )
    ccda = unstructured_document(
        input_for_record(record, attachment_control_number=acn, version=version,
                         record_pdf=record_pdf)
    )
    files.append(
        PackageFile(CCDA_NAME, "application/xml", "DG",
                    "Teledentistry record (D9996) as a C-CDA R2.1 Unstructured Document", ccda)
    )

    moment = record_moment(record)
    items_by_ref = {i.ref: i for i in record.items}
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "attachment_control_number": acn,
        "transmission": TRANSMISSION,
        "version": version,
        "generated_at": moment.isoformat(),
        "encounter": {
            "type": str(record.encounter_type),
            "id": record.encounter_id,
            "teledentistry_code": "D9996",
        },
        "payer_profile": record.payer_profile,
        "patient_reference": record.patient.reference,
        "billing_provider": {"name": record.practice.name, "npi": record.practice.npi},
        "provider": {
            "name": record.dentist.name,
            "npi": record.dentist.npi,
            "role": record.dentist.role,
            "license": record.dentist.license,
        },
        "place_of_service": sorted({line.place_of_service for line in record.lines}),
        "dates": {
            "collected_on": record.collected_on.isoformat() if record.collected_on else None,
            "collected_from": (
                record.collected_from.isoformat() if record.collected_from else None
            ),
            "collected_to": record.collected_to.isoformat() if record.collected_to else None,
            "sent_at": record.sent_at.isoformat() if record.sent_at else None,
            "signed_at": record.signed_at.isoformat(),
            "dates_of_service": sorted({line.date_of_service.isoformat() for line in record.lines}),
            "radiographs_captured_on": sorted(
                {i.captured_on.isoformat() for i in record.items
                 if i.kind == "radiograph" and i.captured_on}
            ),
        },
        "line_items": [line.as_dict() for line in record.lines],
        "consents": [
            {"form": c.form, "version": c.version, "accepted_at": c.accepted_at.isoformat(),
             "given_by": c.given_by, "method": c.method, "label": c.label,
             "live_consultation_disclosed": bool(c.disclosure)}
            for c in record.consents
        ],
        "files": [],
    }
    for f in files:
        entry: dict[str, Any] = {
            "name": f.name,
            "media_type": f.media_type,
            "report_type": f.report_type,
            "description": f.description,
            "size": len(f.data),
            "sha256": f.sha256,
        }
        if f.name == CCDA_NAME:
            entry["alternative_to"] = RECORD_NAME
            entry["document_id"] = {"root": CCDA_ROOT, "extension": acn}
        shown = separate.get(f.name)
        if shown is not None:
            entry["attachment"] = shown.ref
            entry["original_sha256"] = shown.sha256
            if shown.kind == "radiograph" and shown.captured_on:
                entry["captured_on"] = shown.captured_on.isoformat()
        manifest["files"].append(entry)
    manifest["radiograph_lines"] = [
        line.as_dict() for line in record.lines if line.code in IMAGE_CAPTURE_CODES
    ]
    manifest["gathered"] = [
        {"attachment": ref, "kind": i.kind, "view": i.view, "teeth": i.teeth,
         "captured_at": i.captured_at.isoformat() if i.captured_at else None,
         "sha256": i.sha256}
        for ref, i in items_by_ref.items()
    ]
    manifest_bytes = (
        json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    ).encode("utf-8")
    zip_bytes = _zip([*((f.name, f.data) for f in files), (MANIFEST_NAME, manifest_bytes)], moment)
    return ClaimPackageFiles(
        record_pdf=record_pdf, files=tuple(files), manifest=manifest, zip_bytes=zip_bytes
    )
