"""The FHIR export of one patient, gathered from the database for an actor (docs/interop.md).

Reach is that of the patient API: the patient through :func:`reviewer.access.get_patient`
(staff of another organization, or a patient login for someone not theirs: NotFound), the
cases through :func:`reviewer.access.case_visibility`. Admins and hygienists read nothing
here (``FHIR_ROLES``). Each export is one ``fhir.exported`` view row (no PHI in details),
written after the read succeeded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Final

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.imagingstudy import ImagingStudy
from fhir.resources.R4B.patient import Patient as FhirPatient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import case_visibility, get_patient
from reviewer.actor import Actor
from reviewer.errors import NotFound
from reviewer.interop import fhir
from storage.audit import AuditContext, record_view
from storage.blobs import BlobStore
from storage.models import Attachment, Case, ClaimPackage, Evaluation, Patient, Role, User

FHIR_ROLES: Final = frozenset({Role.PATIENT, Role.DENTIST, Role.FRONT_DESK, Role.COORDINATOR})
IMAGE_KINDS: Final = ("photo", "radiograph")


async def _patient(db: AsyncSession, actor: Actor, patient_id: uuid.UUID) -> Patient:
    if actor.role not in FHIR_ROLES:
        raise NotFound("No such patient.")
    return await get_patient(db, actor, patient_id)


def _audit(
    db: AsyncSession, ctx: AuditContext, patient: Patient, resource: str, count: int,
    **more: str,
) -> None:
    record_view(db, "fhir.exported", ctx, organization_id=patient.organization_id,
                subject_type="patient", subject_id=patient.id,
                details={"resource": resource, "count": count, **more})


def patient_data(p: Patient) -> fhir.PatientData:
    return fhir.PatientData(
        id=p.id, organization_id=p.organization_id, first_name=p.first_name,
        last_name=p.last_name, birth_date=p.date_of_birth, phone=p.phone, email=p.email,
        address_line=p.address_line, city=p.city, state=p.state, postal_code=p.postal_code,
        guardian_name=p.guardian_name, guardian_phone=p.guardian_phone,
        guardian_email=p.guardian_email,
    )


async def _cases(db: AsyncSession, actor: Actor, patient: Patient) -> list[Case]:
    rows = await db.scalars(
        select(Case).where(Case.patient_id == patient.id, case_visibility(actor))
        .order_by(Case.created_at, Case.id)
    )
    return list(rows.all())


async def _studies(db: AsyncSession, cases: list[Case]) -> list[fhir.StudyData]:
    if not cases:
        return []
    rows = (await db.scalars(
        select(Attachment).where(Attachment.case_id.in_([c.id for c in cases]),
                                 Attachment.kind.in_(IMAGE_KINDS),
                                 Attachment.status == "ready")
        .order_by(Attachment.created_at, Attachment.id)
    )).all()
    by_case: dict[uuid.UUID, list[fhir.ImageData]] = {}
    for a in rows:
        by_case.setdefault(a.case_id, []).append(fhir.ImageData(
            id=a.id, kind=a.kind, view=a.view, teeth=a.teeth,
            captured_at=a.captured_at or a.created_at,
        ))
    return [fhir.StudyData(case_id=c.id, kind=c.kind, images=tuple(by_case[c.id]))
            for c in cases if c.id in by_case]


async def _records(
    db: AsyncSession, blobs: BlobStore, base_url: str, cases: list[Case]
) -> list[fhir.RecordData]:
    """The newest package version of each signed case (its D9996 record PDF)."""
    if not cases:
        return []
    signed = {e.case_id: e for e in (await db.scalars(
        select(Evaluation).where(Evaluation.case_id.in_([c.id for c in cases]),
                                 Evaluation.status == "signed")
    )).all()}
    packages = (await db.scalars(
        select(ClaimPackage).where(ClaimPackage.case_id.in_(list(signed)),
                                   ClaimPackage.encounter_type == "asynchronous")
        .order_by(ClaimPackage.case_id, ClaimPackage.version.desc())
    )).all() if signed else []
    newest: dict[uuid.UUID, ClaimPackage] = {}
    for row in packages:
        assert row.case_id is not None
        newest.setdefault(row.case_id, row)
    records = []
    for case in cases:
        package = newest.get(case.id)
        evaluation = signed.get(case.id)
        if package is None or evaluation is None or evaluation.signed_at is None:
            continue
        pdf = await blobs.read(package.pdf_key)
        dentist = await db.get(User, evaluation.dentist_id)
        records.append(fhir.RecordData(
            package_id=package.id, case_id=case.id, version=package.version,
            attachment_control_number=package.attachment_control_number,
            signed_at=evaluation.signed_at, created_at=package.created_at,
            pdf_sha1=hashlib.sha1(pdf, usedforsecurity=False).digest(), pdf_size=len(pdf),
            url=f"{base_url}/billing/packages/{package.id}/record.pdf",
            dentist=dentist.display_name if dentist else "",
        ))
    return records


async def patient_resource(
    db: AsyncSession, actor: Actor, ctx: AuditContext, base_url: str, patient_id: uuid.UUID
) -> FhirPatient:
    patient = await _patient(db, actor, patient_id)
    resource = fhir.patient_resource(base_url, patient_data(patient))
    _audit(db, ctx, patient, "Patient", 1)
    return resource


async def imaging_studies(
    db: AsyncSession, actor: Actor, ctx: AuditContext, base_url: str, patient_id: uuid.UUID,
    *, self_url: str | None = None,
) -> Bundle:
    patient = await _patient(db, actor, patient_id)
    studies = [fhir.imaging_study(patient.id, s)
               for s in await _studies(db, await _cases(db, actor, patient))]
    result = fhir.bundle(base_url, "searchset", studies, self_url=self_url)
    _audit(db, ctx, patient, "ImagingStudy", len(studies))
    return result


async def document_references(
    db: AsyncSession, blobs: BlobStore, actor: Actor, ctx: AuditContext, base_url: str,
    patient_id: uuid.UUID, *, self_url: str | None = None,
) -> Bundle:
    patient = await _patient(db, actor, patient_id)
    documents = [fhir.document_reference(base_url, patient.id, r)
                 for r in await _records(db, blobs, base_url, await _cases(db, actor, patient))]
    result = fhir.bundle(base_url, "searchset", documents, self_url=self_url)
    _audit(db, ctx, patient, "DocumentReference", len(documents))
    return result


async def everything(
    db: AsyncSession, blobs: BlobStore, actor: Actor, ctx: AuditContext, base_url: str,
    patient_id: uuid.UUID,
) -> Bundle:
    """The patient, their imaging studies and signed records in one ``collection`` Bundle (a
    records request's electronic delivery, D9961, can offer it)."""
    patient = await _patient(db, actor, patient_id)
    cases = await _cases(db, actor, patient)
    studies: list[ImagingStudy] = [fhir.imaging_study(patient.id, s)
                                   for s in await _studies(db, cases)]
    documents: list[DocumentReference] = [
        fhir.document_reference(base_url, patient.id, r)
        for r in await _records(db, blobs, base_url, cases)
    ]
    result = fhir.bundle(
        base_url, "collection",
        [fhir.patient_resource(base_url, patient_data(patient)), *studies, *documents],
        timestamp=dt.datetime.now(dt.UTC),
    )
    _audit(db, ctx, patient, "$everything", len(result.entry or []))
    return result


async def records_copy_bundle(
    db: AsyncSession, blobs: BlobStore, ctx: AuditContext, base_url: str, patient: Patient,
    cases: Sequence[Case], *, request_id: uuid.UUID, prepared_at: dt.datetime,
    record_paths: Mapping[uuid.UUID, str],
) -> Bundle:
    """The ``$everything`` Bundle of a records request's electronic copy (D9961).

    The same resources as :func:`everything`, but for the cases the request covers (chosen
    and scoped by the records desk, not by the actor's case list). A DocumentReference whose
    record PDF is in the copy points at it by its path in the ZIP (``record_paths``: claim
    package id to path), so the reader needs no Toothline login to open it. The Bundle is
    named by the request and dated when the copy was prepared. Audited as ``fhir.exported``.
    """
    case_list = list(cases)
    studies: list[ImagingStudy] = [fhir.imaging_study(patient.id, s)
                                   for s in await _studies(db, case_list)]
    documents: list[DocumentReference] = []
    for record in await _records(db, blobs, base_url, case_list):
        path = record_paths.get(record.package_id)
        if path is not None:
            record = dataclasses.replace(record, url=path)
        documents.append(fhir.document_reference(base_url, patient.id, record))
    result = fhir.bundle(
        base_url, "collection",
        [fhir.patient_resource(base_url, patient_data(patient)), *studies, *documents],
        timestamp=prepared_at, bundle_id=str(request_id),
    )
    _audit(db, ctx, patient, "$everything", len(result.entry or []),
           records_request=str(request_id))
    return result
