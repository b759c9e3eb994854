"""The FHIR builders: valid R4B models from plain data, the codes and shapes docs/interop.md
promises, and a refusal of invalid data."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.imagingstudy import ImagingStudy
from fhir.resources.R4B.patient import Patient
from pydantic import ValidationError

from reviewer.interop import fhir

BASE = "https://portal.example"
PATIENT = fhir.PatientData(
    id=uuid.UUID(int=1), organization_id=uuid.UUID(int=2), first_name="Zoë",
    last_name="Nguyễn", birth_date=dt.date(2017, 3, 2), phone="555-0100",
    address_line="1 Main St", city="Sacramento", state="CA", postal_code="95814",
    guardian_name="李雷", guardian_phone="555-0101",
)
AT = dt.datetime(2026, 11, 18, 10, 0)
IMAGES = (
    fhir.ImageData(uuid.UUID(int=10), "radiograph", "panoramic", "", AT + dt.timedelta(minutes=2)),
    fhir.ImageData(uuid.UUID(int=11), "photo", "anterior", "8,9", AT),
    fhir.ImageData(uuid.UUID(int=12), "radiograph", "bitewing", "3,14", AT + dt.timedelta(1)),
)
RECORD = fhir.RecordData(
    package_id=uuid.UUID(int=20), case_id=uuid.UUID(int=3), version=2,
    attachment_control_number="TLABCDEF012345V02",
    signed_at=dt.datetime(2026, 11, 21, 17, 30, tzinfo=dt.UTC),
    created_at=dt.datetime(2026, 11, 21, 17, 31), pdf_sha1=hashlib.sha1(b"%PDF").digest(),
    pdf_size=4, url=f"{BASE}/billing/packages/x/record.pdf", dentist="Dr. Ada Molar",
)


def _round_trip(model_type, resource):
    return model_type.model_validate_json(fhir.to_json(resource))


def test_patient():
    patient = _round_trip(Patient, fhir.patient_resource(BASE, PATIENT))
    system = f"{BASE}/fhir/sid/organization/{uuid.UUID(int=2)}/patient"
    assert patient.identifier[0].system == system
    assert patient.identifier[0].value == str(PATIENT.id)
    assert (patient.name[0].family, patient.name[0].given) == ("Nguyễn", ["Zoë"])
    assert patient.birthDate == dt.date(2017, 3, 2)
    assert patient.gender is None  # not recorded
    assert patient.telecom[0].value == "555-0100"
    assert patient.address[0].postalCode == "95814"
    assert patient.contact[0].name.text == "李雷"


def test_patient_without_optional_fields():
    bare = fhir.PatientData(uuid.UUID(int=1), uuid.UUID(int=2), "A", "B", dt.date(2000, 1, 1))
    body = json.loads(fhir.to_json(fhir.patient_resource(BASE, bare)))
    assert not {"telecom", "address", "contact"} & set(body)


def test_modalities():
    assert [fhir.modality(i) for i in IMAGES] == ["PX", "XC", "IO"]


def test_imaging_study():
    study = _round_trip(ImagingStudy, fhir.imaging_study(
        PATIENT.id, fhir.StudyData(uuid.UUID(int=3), "school_screening", IMAGES)))
    assert study.status == "available"
    assert study.identifier[0].value == f"urn:oid:2.25.{uuid.UUID(int=3).int}"
    # capture order; one series per image
    assert [s.modality.code for s in study.series] == ["XC", "PX", "IO"]
    assert [s.number for s in study.series] == [1, 2, 3]
    assert study.series[0].uid == f"2.25.{uuid.UUID(int=11).int}"
    assert study.started.isoformat() == "2026-11-18T10:00:00+00:00"
    assert study.series[2].instance[0].sopClass.code == "urn:oid:1.2.840.10008.5.1.4.1.1.1.3"
    assert study.numberOfSeries == study.numberOfInstances == 3


def test_document_reference():
    doc = _round_trip(DocumentReference, fhir.document_reference(BASE, PATIENT.id, RECORD))
    assert doc.masterIdentifier.value == "TLABCDEF012345V02"
    assert doc.type.coding[0].code == "11488-4"
    attachment = doc.content[0].attachment
    assert attachment.contentType == "application/pdf"
    assert attachment.hash == hashlib.sha1(b"%PDF").digest()
    wire = json.loads(fhir.to_json(fhir.document_reference(BASE, PATIENT.id, RECORD)))
    assert wire["content"][0]["attachment"]["hash"] == base64.b64encode(
        hashlib.sha1(b"%PDF").digest()).decode()
    assert wire["date"] == "2026-11-21T17:30:00Z"


def test_bundles():
    patient = fhir.patient_resource(BASE, PATIENT)
    doc = fhir.document_reference(BASE, PATIENT.id, RECORD)
    search = Bundle.model_validate_json(fhir.to_json(
        fhir.bundle(BASE, "searchset", [doc], self_url=f"{BASE}/x")))
    assert (search.type, search.total, search.entry[0].search.mode) == ("searchset", 1, "match")
    collection = Bundle.model_validate_json(fhir.to_json(fhir.bundle(
        BASE, "collection", [patient, doc], timestamp=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))))
    assert collection.total is None
    assert collection.entry[0].fullUrl == f"{BASE}/api/v1/fhir/Patient/{PATIENT.id}"
    assert [e.resource.get_resource_type() for e in collection.entry] == [
        "Patient", "DocumentReference"]


def test_invalid_data_is_refused():
    bad = fhir.RecordData(**{**RECORD.__dict__, "attachment_control_number": ""})
    with pytest.raises(ValidationError):
        fhir.document_reference(BASE, PATIENT.id, bad)
