"""FHIR R4 routes: each answer parses back into the fhir.resources (R4B) model, the record's
hash is the PDF's SHA-1, other organizations get 404, every read is a view row."""

from __future__ import annotations

import base64
import hashlib

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ViewEvent
from tests.integration.accounts.helpers import OTHER_DESK, OTHER_PATIENT, add_other_organization
from tests.integration.billing.conftest import Seeded, seed_post_op
from tests.support.portal import csrf_token, sign_in

FHIR = "/api/v1/fhir"


@pytest.fixture
async def post_op(client: AsyncTestClient[Litestar], app_db: AsyncSession) -> Seeded:
    return await seed_post_op(app_db, client.app.state.blobs)


async def _views(db: AsyncSession) -> list[ViewEvent]:
    db.expire_all()
    return list((await db.scalars(
        select(ViewEvent).where(ViewEvent.action == "fhir.exported")
        .order_by(ViewEvent.created_at))).all())


async def _switch(client: AsyncTestClient[Litestar], email: str) -> None:
    await client.post("/logout", headers={"x-csrftoken": await csrf_token(client)})
    await sign_in(client, email)


async def test_patient_resource(
    client: AsyncTestClient[Litestar], post_op: Seeded, app_db: AsyncSession
):
    await sign_in(client, "dentist@demo.test")
    response = await client.get(f"{FHIR}/Patient/{post_op.patient_id}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    patient = Patient.model_validate_json(response.content)
    assert patient.id == str(post_op.patient_id)
    assert patient.identifier[0].value == str(post_op.patient_id)
    assert str(post_op.organization_id) in patient.identifier[0].system
    assert patient.birthDate is not None and patient.name[0].family
    views = await _views(app_db)
    assert [(v.subject_id, v.details["resource"]) for v in views] == [
        (str(post_op.patient_id), "Patient")]


async def test_imaging_study_bundle(client: AsyncTestClient[Litestar], post_op: Seeded):
    await sign_in(client, "billing@demo.test")
    for url in (f"{FHIR}/Patient/{post_op.patient_id}/ImagingStudy",
                f"{FHIR}/ImagingStudy?patient={post_op.patient_id}"):
        response = await client.get(url)
        assert response.status_code == 200, response.text
        bundle = Bundle.model_validate_json(response.content)
        assert bundle.type == "searchset" and bundle.total == 1
        study = bundle.entry[0].resource
        assert study.get_resource_type() == "ImagingStudy"
        assert study.id == str(post_op.case_id)
        assert study.subject.reference == f"Patient/{post_op.patient_id}"
        # two photos (XC) and one radiograph (IO), in capture order
        assert sorted(s.modality.code for s in study.series) == ["IO", "XC", "XC"]
        started = [s.started for s in study.series]
        assert started == sorted(started)
        assert {c.code for c in study.modality} == {"XC", "IO"}
        assert study.numberOfSeries == 3
        assert study.started == study.series[0].started


async def test_document_reference_bundle(client: AsyncTestClient[Litestar], post_op: Seeded):
    await sign_in(client, "billing@demo.test")
    response = await client.get(f"{FHIR}/Patient/{post_op.patient_id}/DocumentReference")
    assert response.status_code == 200, response.text
    bundle = Bundle.model_validate_json(response.content)
    assert bundle.total == 1
    document = bundle.entry[0].resource
    attachment = document.content[0].attachment
    assert attachment.contentType == "application/pdf"
    assert document.type.coding[0].system == "http://loinc.org"
    assert document.masterIdentifier.value.startswith("TL")
    assert document.date.isoformat().startswith("2026-11-21T17:30")
    pdf = await client.get(attachment.url.split("127.0.0.1:8000", 1)[-1])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # the model decodes base64Binary; the wire carries base64 of the SHA-1
    assert attachment.hash == hashlib.sha1(pdf.content).digest()
    wire = response.json()["entry"][0]["resource"]["content"][0]["attachment"]["hash"]
    assert base64.b64decode(wire) == attachment.hash
    assert attachment.size == len(pdf.content)
    again = await client.get(f"{FHIR}/DocumentReference?patient={post_op.patient_id}")
    assert Bundle.model_validate_json(again.content).entry[0].resource.id == document.id


async def test_everything_bundle(
    client: AsyncTestClient[Litestar], post_op: Seeded, app_db: AsyncSession
):
    await sign_in(client, "patient@demo.test")  # the patient, for themselves
    response = await client.get(f"{FHIR}/Patient/{post_op.patient_id}/$everything")
    assert response.status_code == 200, response.text
    bundle = Bundle.model_validate_json(response.content)
    assert bundle.type == "collection"
    assert [e.resource.get_resource_type() for e in bundle.entry] == [
        "Patient", "ImagingStudy", "DocumentReference"]
    views = await _views(app_db)
    assert views[-1].details == {"resource": "$everything", "count": 3}
    assert views[-1].actor_role == "patient"


async def test_refusals(
    client: AsyncTestClient[Litestar], post_op: Seeded, database_url: str, app_db: AsyncSession
):
    await add_other_organization(database_url)
    urls = [f"{FHIR}/Patient/{post_op.patient_id}{tail}"
            for tail in ("", "/ImagingStudy", "/DocumentReference", "/$everything")]
    assert (await client.get(urls[0])).status_code == 401
    await sign_in(client, OTHER_DESK)  # staff of another organization
    for url in urls:
        assert (await client.get(url)).status_code == 404, url
    assert (await client.get(f"{FHIR}/ImagingStudy?patient={post_op.patient_id}")
            ).status_code == 404
    await _switch(client, OTHER_PATIENT)  # a patient login, not this patient
    for url in urls:
        assert (await client.get(url)).status_code == 404, url
    for email in ("hygienist@demo.test", "admin@demo.test"):
        await _switch(client, email)
        assert (await client.get(urls[0])).status_code == 403, email
    assert await _views(app_db) == []
    count = await app_db.scalar(select(func.count()).select_from(ViewEvent).where(
        ViewEvent.action == "fhir.exported"))
    assert count == 0
