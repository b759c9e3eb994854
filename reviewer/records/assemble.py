"""What a records request covers, and the package made of it.

The selection is scoped to the request's organization and patient at the source, so another
organization's records can never be part of a copy. Per case the copy holds the D9996 record
(the stored documentation PDF of the latest claim package, or the same document rendered by
the documentation machinery when billing has not made one yet), the display pictures and, when
asked, the cleaned originals (DICOM included).

An "all records" copy also holds the patient's signed live sessions (the D9995 record: the
stored documentation PDF of the latest package, or the same document rendered) and, when any
case-management work was logged, the care-coordination documentation (D9991/D9992/D9997) of
all of it — both scoped to the request's organization and patient like the cases.

An electronic copy (format ``electronic``: released as a download link, by portal or email)
also holds ``fhir/everything.json``: the patient's FHIR R4 ``$everything`` Bundle of the same
cases (:func:`reviewer.interop.fhir_export.records_copy_bundle`), machine-readable beside the
PDFs. Paper and media copies do not (printed or mailed JSON helps nobody).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing.facts import NotSigned, load_case_facts
from reviewer.clock import local_date
from reviewer.documents.pdf import render_async_record, render_live_record
from reviewer.interop import fhir, fhir_export
from reviewer.records.package import (
    BuiltPackage,
    PackageItem,
    PackageLabel,
    build_records_package,
)
from reviewer.records.policy import Format
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.models import (
    Attachment,
    Case,
    ClaimPackage,
    CoordinationActivity,
    Evaluation,
    LiveSession,
    Organization,
    Patient,
    RecordsRequest,
)

__all__ = [
    "BUNDLE_NAME",
    "CaseSelection",
    "assemble",
    "count_items",
    "count_other_records",
    "other_records",
    "select_cases",
]

EXTENSIONS: Mapping[str, str] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/tiff": ".tif",
    "image/heic": ".heic",
    "image/webp": ".webp",
    "application/dicom": ".dcm",
    "application/pdf": ".pdf",
}


BUNDLE_NAME = "fhir/everything.json"


@dataclass(frozen=True)
class CaseSelection:
    case: Case
    day: dt.date
    signed: bool
    attachments: tuple[Attachment, ...]


def case_day(case: Case, time_zone: str) -> dt.date:
    if case.collected_on is not None:
        return case.collected_on
    return local_date(case.submitted_at or case.created_at, time_zone)


async def select_cases(
    db: AsyncSession, req: RecordsRequest, org: Organization
) -> list[CaseSelection]:
    """The cases the request covers, oldest first (only this organization's, this patient's)."""
    query = select(Case).where(
        Case.organization_id == req.organization_id,
        Case.patient_id == req.patient_id,
        Case.status != "draft",
    )
    scope = req.scope or {}
    if not scope.get("all") and scope.get("case_ids"):
        query = query.where(Case.id.in_([uuid.UUID(c) for c in scope["case_ids"]]))
    cases = (await db.scalars(query.order_by(Case.created_at))).all()
    start = dt.date.fromisoformat(scope["from"]) if scope.get("from") else None
    end = dt.date.fromisoformat(scope["to"]) if scope.get("to") else None
    out: list[CaseSelection] = []
    for case in cases:
        day = case_day(case, org.time_zone)
        if (start and day < start) or (end and day > end):
            continue
        signed = await db.scalar(
            select(Evaluation.id).where(
                Evaluation.case_id == case.id, Evaluation.status == "signed"
            )
        )
        attachments = (
            await db.scalars(
                select(Attachment)
                .where(Attachment.case_id == case.id, Attachment.status == "ready")
                .order_by(Attachment.created_at, Attachment.id)
            )
        ).all()
        out.append(CaseSelection(case, day, signed is not None, tuple(attachments)))
    return sorted(out, key=lambda s: (s.day, s.case.created_at))


def count_items(selection: Sequence[CaseSelection], scope: Mapping[str, object]) -> int:
    originals = bool(scope.get("include_originals"))
    total = 0
    for chosen in selection:
        total += 1 if chosen.signed else 0
        for attachment in chosen.attachments:
            total += 1
            if originals and attachment.display_key:
                total += 1
    return total


def _is_all(req: RecordsRequest) -> bool:
    return bool((req.scope or {}).get("all"))


async def signed_live_sessions(db: AsyncSession, req: RecordsRequest) -> list[LiveSession]:
    """The patient's signed live sessions in the request's organization, oldest first."""
    return list(
        (
            await db.scalars(
                select(LiveSession)
                .where(
                    LiveSession.organization_id == req.organization_id,
                    LiveSession.patient_id == req.patient_id,
                    LiveSession.signed_at.is_not(None),
                )
                .order_by(LiveSession.started_at, LiveSession.id)
            )
        ).all()
    )


async def _has_coordination(db: AsyncSession, req: RecordsRequest) -> bool:
    found = await db.scalar(
        select(CoordinationActivity.id)
        .where(
            CoordinationActivity.organization_id == req.organization_id,
            CoordinationActivity.patient_id == req.patient_id,
        )
        .limit(1)
    )
    return found is not None


async def count_other_records(db: AsyncSession, req: RecordsRequest) -> int:
    """Items beyond the cases in an "all records" copy (for the fee): each signed live
    session's record and the coordination documentation."""
    if not _is_all(req):
        return 0
    return len(await signed_live_sessions(db, req)) + int(await _has_coordination(db, req))


async def _latest_package_pdf(
    db: AsyncSession, blobs: BlobStore, encounter: ColumnElement[bool]
) -> tuple[bytes, str] | None:
    """The newest claim package's record PDF of one encounter (``encounter``: the package's
    case or live-session column compared with its id), and where it came from."""
    stored = await db.scalar(
        select(ClaimPackage).where(encounter).order_by(ClaimPackage.version.desc()).limit(1)
    )
    if stored is None:
        return None
    return await blobs.read(stored.pdf_key), f"claim_package:{stored.id}"


async def _live_pdf(db: AsyncSession, blobs: BlobStore, session: LiveSession) -> tuple[bytes, str]:
    stored = await _latest_package_pdf(db, blobs, ClaimPackage.live_session_id == session.id)
    if stored is not None:
        return stored
    from reviewer.billing.facts import load_live_facts

    facts = await load_live_facts(db, session)
    pdf = await anyio.to_thread.run_sync(render_live_record, facts.record)
    return pdf, f"live_session:{session.id}:rendered"


async def other_records(
    db: AsyncSession,
    blobs: BlobStore,
    req: RecordsRequest,
    org: Organization,
    patient: Patient,
    now: dt.datetime,
) -> list[PackageItem]:
    """What an "all records" copy holds beside the cases: ``live-sessions/NN-YYYY-MM-DD/
    D9995-record.pdf`` per signed live session and ``coordination/D9992-coordination.pdf``."""
    if not _is_all(req) or patient.organization_id != req.organization_id:
        return []
    items: list[PackageItem] = []
    for number, session in enumerate(await signed_live_sessions(db, req), start=1):
        day = local_date(session.started_at, org.time_zone)
        pdf, source = await _live_pdf(db, blobs, session)
        items.append(
            PackageItem(
                f"live-sessions/{number:02d}-{day.isoformat()}/D9995-record.pdf",
                f"Live teledentistry session record (D9995) of {day.isoformat()}, "
                "signed by the dentist",
                "application/pdf",
                pdf,
                str(session.case_id) if session.case_id else None,
                source,
            )
        )
    if await _has_coordination(db, req):
        from reviewer.coordination.services import build_documentation

        report = await build_documentation(db, patient, now=now)
        items.append(
            PackageItem(
                "coordination/D9992-coordination.pdf",
                "Case management and care coordination documentation (D9991/D9992/D9997), "
                f"{len(report.activities)} logged activit"
                f"{'y' if len(report.activities) == 1 else 'ies'}",
                "application/pdf",
                report.pdf,
                None,
                f"coordination:{patient.id}",
            )
        )
    return items


async def _record_pdf(db: AsyncSession, blobs: BlobStore, case: Case) -> tuple[bytes, str]:
    stored = await _latest_package_pdf(db, blobs, ClaimPackage.case_id == case.id)
    if stored is not None:
        return stored
    facts = await load_case_facts(db, case, blobs=blobs)
    # fpdf2 is CPU work: a worker thread, never the event loop
    pdf = await anyio.to_thread.run_sync(render_async_record, facts.record)
    return pdf, f"case:{case.id}:rendered"


async def case_items(
    db: AsyncSession, blobs: BlobStore, chosen: CaseSelection, folder: str, originals: bool
) -> list[PackageItem]:
    case = chosen.case
    items: list[PackageItem] = []
    if chosen.signed:
        try:
            pdf, source = await _record_pdf(db, blobs, case)
        except NotSigned:
            pdf, source = b"", ""
        if pdf:
            items.append(
                PackageItem(
                    f"{folder}/D9996-record.pdf",
                    f"Teledentistry record (D9996) of the {case.kind.replace('_', ' ')} case "
                    f"of {chosen.day.isoformat()}, with the dentist's evaluation",
                    "application/pdf",
                    pdf,
                    str(case.id),
                    source,
                )
            )
    for index, a in enumerate(chosen.attachments, start=1):
        what = f"{a.kind}, {a.view.replace('_', ' ')}" + (f", teeth {a.teeth}" if a.teeth else "")
        ext = EXTENSIONS.get(a.content_type, ".bin")
        if a.display_key:
            items.append(
                PackageItem(
                    f"{folder}/images/{index:02d}-{a.kind}.jpg",
                    f"{what} (display copy)",
                    "image/jpeg",
                    await blobs.read(a.display_key),
                    str(case.id),
                    f"attachment:{a.id}:display",
                )
            )
            if originals:
                items.append(
                    PackageItem(
                        f"{folder}/originals/{index:02d}-{a.kind}{ext}",
                        f"{what} (original file, metadata cleaned)",
                        a.content_type,
                        await blobs.read(a.original_key),
                        str(case.id),
                        f"attachment:{a.id}:original",
                    )
                )
        else:
            items.append(
                PackageItem(
                    f"{folder}/files/{index:02d}-{a.kind}{ext}",
                    what,
                    a.content_type,
                    await blobs.read(a.original_key),
                    str(case.id),
                    f"attachment:{a.id}:original",
                )
            )
    return items


async def fhir_item(
    db: AsyncSession,
    blobs: BlobStore,
    ctx: AuditContext,
    base_url: str,
    req: RecordsRequest,
    patient: Patient,
    selection: Sequence[CaseSelection],
    items: Sequence[PackageItem],
    now: dt.datetime,
) -> PackageItem:
    """The ``$everything`` Bundle of an electronic copy, its records pointing at their PDFs
    in the ZIP."""
    paths: dict[uuid.UUID, str] = {}
    for item in items:
        kind, _, ref = item.source.partition(":")
        if kind == "claim_package" and item.name.endswith("/D9996-record.pdf"):
            paths[uuid.UUID(ref)] = item.name
    bundle = await fhir_export.records_copy_bundle(
        db, blobs, ctx, base_url, patient, [s.case for s in selection],
        request_id=req.id, prepared_at=now, record_paths=paths,
    )
    count = len(bundle.entry or [])
    return PackageItem(
        BUNDLE_NAME,
        f"FHIR R4 $everything Bundle (JSON): the patient and {count - 1} resource(s) of the "
        "cases in this copy",
        fhir.FHIR_JSON,
        fhir.to_json(bundle),
        None,
        f"fhir:{patient.id}:everything",
    )


async def assemble(
    db: AsyncSession,
    blobs: BlobStore,
    req: RecordsRequest,
    org: Organization,
    patient: Patient,
    now: dt.datetime,
    scope_text: str,
    *,
    ctx: AuditContext,
    base_url: str,
) -> BuiltPackage:
    selection = await select_cases(db, req, org)
    originals = bool((req.scope or {}).get("include_originals"))
    items: list[PackageItem] = []
    for number, chosen in enumerate(selection, start=1):
        folder = f"cases/{number:02d}-{chosen.day.isoformat()}"
        items.extend(await case_items(db, blobs, chosen, folder, originals))
    others = await other_records(db, blobs, req, org, patient, now)
    items.extend(others)
    if req.format == Format.ELECTRONIC and patient.organization_id == req.organization_id:
        items.append(await fhir_item(db, blobs, ctx, base_url, req, patient, selection, items,
                                     now))
    live = sum(1 for i in others if i.name.startswith("live-sessions/"))
    coordination = sum(1 for i in others if i.name.startswith("coordination/"))
    contents = f"{len(selection)} case review(s)"
    if _is_all(req):
        contents += (
            f", {live} live-session record(s), {coordination} care-coordination document(s)"
        )
    address = ", ".join(p for p in (org.address_line, org.city, org.state, org.postal_code) if p)
    label = PackageLabel(
        organization=org.name,
        organization_address=address,
        time_zone=org.time_zone,
        request_id=str(req.id),
        patient_name=patient.full_name,
        patient_date_of_birth=patient.date_of_birth,
        requester=req.requester_type,
        requester_name=req.requester_name,
        received_at=req.received_at,
        prepared_at=now,
        scope=scope_text,
        format=req.format,
        contents=contents,
    )
    return await anyio.to_thread.run_sync(build_records_package, label, items)
