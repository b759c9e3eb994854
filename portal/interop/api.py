"""FHIR R4 read API under /api/v1/fhir (docs/interop.md): a patient, their imaging studies,
their signed D9996 records, and everything in one Bundle. Answers ``application/fhir+json``.

Access (docs/access.md): patient (themselves and linked children), dentist, front desk and
coordinator of the patient's organization; anyone else 403, a patient outside the caller's
reach 404. Every answer is audited as a ``fhir.exported`` view.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fhir.resources.R4B.resource import Resource
from litestar import Controller, Response, get
from litestar.params import FromPath, QueryParameter

from portal.accounts.guards import require_roles
from portal.interop import archive
from portal.requests import ActorDep, AnyRequest, AuditDep, BlobsDep, DbDep
from reviewer.interop import fhir, fhir_export

readers = require_roles(*fhir_export.FHIR_ROLES)
PatientQuery = Annotated[uuid.UUID, QueryParameter(description="The patient id.")]


def _base(request: AnyRequest) -> str:
    return str(request.app.state.settings.server.public_url)


def _fhir(resource: Resource) -> Response[Any]:
    return Response(fhir.to_json(resource), media_type=f"{fhir.FHIR_JSON}; fhirVersion=4.0",
                    headers={"Cache-Control": "no-store"})


def _self(request: AnyRequest) -> str:
    return _base(request) + request.url.path + (f"?{request.url.query}" if request.url.query
                                                else "")


class FhirApiController(Controller):
    path = "/fhir"
    tags = ["fhir"]
    guards = [readers]

    @get("/Patient/{patient_id:uuid}")
    async def patient(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        patient_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """The FHIR Patient resource."""
        return _fhir(await fhir_export.patient_resource(
            db_session, who, audit, _base(request), patient_id))

    @get("/Patient/{patient_id:uuid}/ImagingStudy")
    async def imaging_studies(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        patient_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """A searchset Bundle: one ImagingStudy per case with photos or radiographs."""
        return _fhir(await fhir_export.imaging_studies(
            db_session, who, audit, _base(request), patient_id, self_url=_self(request)))

    @get("/Patient/{patient_id:uuid}/DocumentReference")
    async def document_references(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep, patient_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """A searchset Bundle: one DocumentReference per signed D9996 record."""
        return _fhir(await fhir_export.document_references(
            db_session, blobs, who, audit, _base(request), patient_id, self_url=_self(request)))

    @get("/Patient/{patient_id:uuid}/$everything")
    async def everything(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep, patient_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """A collection Bundle: the Patient, their ImagingStudy and DocumentReference."""
        return _fhir(await fhir_export.everything(
            db_session, blobs, who, audit, _base(request), patient_id))

    @get("/ImagingStudy")
    async def search_imaging_studies(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        patient: PatientQuery,
    ) -> Response[Any]:
        """``?patient={id}``: the same Bundle as ``Patient/{id}/ImagingStudy``."""
        return _fhir(await fhir_export.imaging_studies(
            db_session, who, audit, _base(request), patient, self_url=_self(request)))

    @get("/DocumentReference")
    async def search_document_references(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        blobs: BlobsDep, patient: PatientQuery,
    ) -> Response[Any]:
        """``?patient={id}``: the same Bundle as ``Patient/{id}/DocumentReference``."""
        return _fhir(await fhir_export.document_references(
            db_session, blobs, who, audit, _base(request), patient, self_url=_self(request)))


PAGE_CONTROLLERS: list[type] = [*archive.PAGE_CONTROLLERS]
API_CONTROLLERS: list[type] = [FhirApiController, *archive.API_CONTROLLERS]
