"""FHIR R4 resources built from plain data: no database, no I/O (docs/interop.md).

The models are those of ``fhir.resources.R4B`` (FHIR 4.3, wire-compatible with R4 for the
resources used here; the package's default models are R5). Every builder returns a validated
model: constructing it raises ``pydantic.ValidationError`` on invalid data, so nothing
invalid is ever served. :func:`to_json` serializes one.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.imagingstudy import ImagingStudy
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource

FHIR_JSON: Final = "application/fhir+json"
FHIR_VERSION: Final = "4.0.1"
"""What the responses declare (``fhirVersion`` of the media type): R4."""
DICOM_DCM: Final = "http://dicom.nema.org/resources/ontology/DCM"
DICOM_UID: Final = "urn:dicom:uid"
LOINC: Final = "http://loinc.org"
RECORD_TYPE: Final = {"system": LOINC, "code": "11488-4", "display": "Consult note"}
"""The LOINC document type of the D9996 record (a dentist's teledentistry consultation)."""
RECORD_CATEGORY: Final = {
    "system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
    "code": "clinical-note", "display": "Clinical Note",
}

MODALITY_NAMES: Final = {"XC": "External-camera Photography", "IO": "Intra-oral Radiography",
                         "PX": "Panoramic X-Ray"}
SOP_CLASSES: Final = {
    "XC": "1.2.840.10008.5.1.4.1.1.77.1.4",  # VL Photographic Image Storage
    "IO": "1.2.840.10008.5.1.4.1.1.1.3",  # Digital Intra-Oral X-Ray Image (for presentation)
    "PX": "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image (for presentation)
}


@dataclass(frozen=True)
class PatientData:
    id: uuid.UUID
    organization_id: uuid.UUID
    first_name: str
    last_name: str
    birth_date: dt.date
    phone: str | None = None
    email: str | None = None
    address_line: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    guardian_name: str | None = None
    guardian_phone: str | None = None
    guardian_email: str | None = None


@dataclass(frozen=True)
class ImageData:
    """One ready photo or radiograph of a case."""

    id: uuid.UUID
    kind: str  # photo | radiograph
    view: str
    teeth: str
    captured_at: dt.datetime


@dataclass(frozen=True)
class StudyData:
    """A case with images: one ImagingStudy."""

    case_id: uuid.UUID
    kind: str
    images: tuple[ImageData, ...]


@dataclass(frozen=True)
class RecordData:
    """One signed D9996 record: the current package version of a signed case."""

    package_id: uuid.UUID
    case_id: uuid.UUID
    version: int
    attachment_control_number: str
    signed_at: dt.datetime
    created_at: dt.datetime
    pdf_sha1: bytes
    pdf_size: int
    url: str
    dentist: str = ""


def _instant(moment: dt.datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def dicom_uid(value: uuid.UUID) -> str:
    """A DICOM UID derived from a UUID (the ``2.25.`` root of DICOM PS3.5 B.2)."""
    return f"2.25.{value.int}"


def patient_system(base_url: str, organization_id: uuid.UUID) -> str:
    """The identifier system of an organization's patient ids: an opaque URL."""
    return f"{base_url}/fhir/sid/organization/{organization_id}/patient"


def modality(image: ImageData) -> str:
    """XC for photos; PX for a panoramic radiograph, IO for every other (intraoral) one."""
    if image.kind != "radiograph":
        return "XC"
    return "PX" if image.view == "panoramic" else "IO"


def _coding(code: str) -> dict[str, str]:
    return {"system": DICOM_DCM, "code": code, "display": MODALITY_NAMES[code]}


def patient_resource(base_url: str, p: PatientData) -> Patient:
    body: dict[str, Any] = {
        "resourceType": "Patient", "id": str(p.id), "active": True,
        "identifier": [{"use": "usual", "system": patient_system(base_url, p.organization_id),
                        "value": str(p.id)}],
        "name": [{"use": "official", "family": p.last_name, "given": [p.first_name],
                  "text": f"{p.first_name} {p.last_name}"}],
        "birthDate": p.birth_date.isoformat(),
    }
    telecom = [{"system": "phone", "value": p.phone}] if p.phone else []
    telecom += [{"system": "email", "value": p.email}] if p.email else []
    if telecom:
        body["telecom"] = telecom
    lines = [p.address_line] if p.address_line else []
    address = {k: v for k, v in (("city", p.city), ("state", p.state),
                                 ("postalCode", p.postal_code)) if v}
    if lines or address:
        body["address"] = [{"use": "home", **({"line": lines} if lines else {}), **address}]
    if p.guardian_name or p.guardian_phone or p.guardian_email:
        contact: dict[str, Any] = {"relationship": [{"text": "guardian"}]}
        if p.guardian_name:
            contact["name"] = {"text": p.guardian_name}
        guardian = [{"system": "phone", "value": p.guardian_phone}] if p.guardian_phone else []
        guardian += [{"system": "email", "value": p.guardian_email}] if p.guardian_email else []
        if guardian:
            contact["telecom"] = guardian
        body["contact"] = [contact]
    return Patient.model_validate(body)


def imaging_study(patient_id: uuid.UUID, study: StudyData) -> ImagingStudy:
    """One study per case; one series (of one instance) per image, started when captured."""
    images = sorted(study.images, key=lambda i: (i.captured_at, str(i.id)))
    series = []
    for number, image in enumerate(images, start=1):
        code = modality(image)
        described = image.view.replace("_", " ") + (f", teeth {image.teeth}" if image.teeth else "")
        series.append({
            "uid": dicom_uid(image.id), "number": number, "modality": _coding(code),
            "description": described, "started": _instant(image.captured_at),
            "numberOfInstances": 1,
            "instance": [{
                "uid": dicom_uid(uuid.uuid5(image.id, "instance")), "number": 1,
                "sopClass": {"system": "urn:ietf:rfc:3986",
                             "code": f"urn:oid:{SOP_CLASSES[code]}"},
                "title": image.view,
            }],
        })
    codes = sorted({modality(i) for i in images})
    body: dict[str, Any] = {
        "resourceType": "ImagingStudy", "id": str(study.case_id), "status": "available",
        "identifier": [{"system": DICOM_UID, "value": f"urn:oid:{dicom_uid(study.case_id)}"}],
        "subject": {"reference": f"Patient/{patient_id}"},
        "modality": [_coding(c) for c in codes],
        "description": f"{study.kind.replace('_', ' ')} case",
        "numberOfSeries": len(series), "numberOfInstances": len(series), "series": series,
    }
    if images:
        body["started"] = _instant(images[0].captured_at)
    return ImagingStudy.model_validate(body)


def document_reference(
    base_url: str, patient_id: uuid.UUID, record: RecordData
) -> DocumentReference:
    """The signed D9996 record PDF: where to download it, its SHA-1 (base64, as FHIR's
    Attachment.hash requires), dated at the signature."""
    body: dict[str, Any] = {
        "resourceType": "DocumentReference", "id": str(record.package_id),
        "masterIdentifier": {"system": f"{base_url}/fhir/sid/attachment-control-number",
                             "value": record.attachment_control_number},
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{record.package_id}"}],
        "status": "current", "docStatus": "final",
        "type": {"coding": [RECORD_TYPE], "text": "D9996 teledentistry record"},
        "category": [{"coding": [RECORD_CATEGORY]}],
        "subject": {"reference": f"Patient/{patient_id}"},
        "date": _instant(record.signed_at),
        "description": f"D9996 record, version {record.version}",
        "content": [{"attachment": {
            "contentType": "application/pdf", "url": record.url, "size": record.pdf_size,
            "hash": base64.b64encode(record.pdf_sha1).decode(),
            "title": f"D9996-record-v{record.version}.pdf",
            "creation": _instant(record.created_at),
        }}],
        "context": {"related": [{"reference": f"ImagingStudy/{record.case_id}"}]},
    }
    if record.dentist:
        body["author"] = [{"display": record.dentist}]
        body["authenticator"] = {"display": record.dentist}
    return DocumentReference.model_validate(body)


def _full_url(base_url: str, resource: Resource) -> str:
    """The Patient's read route; the others have no read route of their own (they are
    searched by patient), so their entries are named by ``urn:uuid``."""
    if resource.get_resource_type() == "Patient":
        return f"{base_url}/api/v1/fhir/Patient/{resource.id}"
    return f"urn:uuid:{uuid.UUID(str(resource.id))}"


def bundle(
    base_url: str, kind: str, resources: Sequence[Resource], *, self_url: str | None = None,
    timestamp: dt.datetime | None = None, bundle_id: str | None = None,
) -> Bundle:
    """``kind``: ``searchset`` (entries marked ``match``, with ``total``) or ``collection``.
    ``bundle_id``: a fixed id (a records copy names its Bundle by the request), else random."""
    entries: list[dict[str, Any]] = []
    for resource in resources:
        entry: dict[str, Any] = {
            "fullUrl": _full_url(base_url, resource),
            "resource": resource.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
        if kind == "searchset":
            entry["search"] = {"mode": "match"}
        entries.append(entry)
    body: dict[str, Any] = {"resourceType": "Bundle", "id": bundle_id or str(uuid.uuid4()),
                            "type": kind,
                            "entry": entries}
    if kind == "searchset":
        body["total"] = len(entries)
    if timestamp is not None:
        body["timestamp"] = _instant(timestamp)
    if self_url:
        body["link"] = [{"relation": "self", "url": self_url}]
    return Bundle.model_validate(body)


def to_json(resource: Resource) -> bytes:
    return resource.model_dump_json(exclude_none=True).encode()
