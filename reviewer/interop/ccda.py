"""A C-CDA R2.1 Unstructured Document wrapping the D9996 record PDF (docs/interop.md).

The format the claim-attachments rule names: the US Realm Header
(2.16.840.1.113883.10.20.22.1.1:2015-08-01) with the Unstructured Document template
(2.16.840.1.113883.10.20.22.1.10:2015-08-01) and one ``nonXMLBody`` holding the signed record
PDF as base64 (the PDF already embeds the attachment images). The attachment control number
is the document's ``id/@extension``, so a payer matches the document to the claim's PWK06
(and the X12 275's attachment control number). Pure: plain data in, XML bytes out, the same
input giving the same bytes. Built with the standard library's ElementTree (writing needs no
more; the tests parse it back with lxml).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Final

from reviewer.clock import as_utc
from reviewer.documents.model import AsyncRecord, record_moment

NS: Final = "urn:hl7-org:v3"
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
US_REALM_HEADER: Final = ("2.16.840.1.113883.10.20.22.1.1", "2015-08-01")
UNSTRUCTURED_DOCUMENT: Final = ("2.16.840.1.113883.10.20.22.1.10", "2015-08-01")
LOINC_OID: Final = "2.16.840.1.113883.6.1"
CDT_OID: Final = "2.16.840.1.113883.6.13"
NPI_OID: Final = "2.16.840.1.113883.4.6"
CONFIDENTIALITY_OID: Final = "2.16.840.1.113883.5.25"


def _uuid_oid(name: str) -> str:
    """A UUID-derived OID (ITU-T X.667, the ``2.25`` arc): globally unique without
    registering anything, and the same on every installation."""
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, f'urn:toothline:{name}').int}"


ACN_ROOT: Final = _uuid_oid("attachment-control-number")
"""The OID root of Toothline's attachment control numbers (the document ids). An
organization with a registered OID of its own may put it here (docs/interop.md)."""
PATIENT_ROOT: Final = _uuid_oid("patient-id")
"""The OID root of Toothline's patient ids (the patient row's id as extension)."""
SERVICE_CODE: Final = "D9996"

ET.register_namespace("", NS)
ET.register_namespace("xsi", XSI)


@dataclass(frozen=True)
class Party:
    """A person or organization as the header names it; empty parts become ``nullFlavor``."""

    name: str
    npi: str = ""
    address_line: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    phone: str = ""


@dataclass(frozen=True)
class CcdaInput:
    attachment_control_number: str
    set_id: str
    """The control number without its version suffix: the same for every version."""
    version: int
    created_at: dt.datetime
    """The document's ``effectiveTime``: when this version was made."""
    signed_at: dt.datetime
    """The dentist's signature: author, legal authenticator."""
    service_from: dt.date
    service_to: dt.date
    patient_id: str
    first_name: str
    last_name: str
    birth_date: dt.date
    patient: Party
    """The patient's home address and phone."""
    dentist: Party
    custodian: Party
    record_pdf: bytes
    title: str = "D9996 teledentistry record"


def input_for_record(
    record: AsyncRecord, *, attachment_control_number: str, version: int, record_pdf: bytes
) -> CcdaInput:
    """The C-CDA's data from the signed review the record PDF was rendered from.

    The dentist's address and phone are the practice's (the distant site); the custodian is
    the practice. The service dates are those of the D9996 line(s), else the signature day.
    """
    practice = record.practice
    patient = record.patient
    days = sorted({line.date_of_service for line in record.lines if line.code == SERVICE_CODE})
    signed_day = as_utc(record.signed_at).date()
    first, last = patient.first_name, patient.last_name
    if not (first or last):
        first, _, last = patient.name.rpartition(" ")
    org = Party(
        practice.name, practice.npi, practice.address_line, practice.city, practice.state,
        practice.postal_code, practice.phone,
    )
    return CcdaInput(
        attachment_control_number=attachment_control_number,
        set_id=attachment_control_number.rsplit("V", 1)[0],
        version=version,
        created_at=record_moment(record),
        signed_at=record.signed_at,
        service_from=days[0] if days else signed_day,
        service_to=days[-1] if days else signed_day,
        patient_id=patient.reference,
        first_name=first,
        last_name=last,
        birth_date=patient.date_of_birth,
        patient=Party(patient.name, "", patient.address_line, patient.city, patient.state,
                      patient.postal_code, patient.phone),
        dentist=Party(record.dentist.name, record.dentist.npi, practice.address_line,
                      practice.city, practice.state, practice.postal_code, practice.phone),
        custodian=org,
        record_pdf=record_pdf,
    )


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _el(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, _q(tag), attrs)


def _ts(moment: dt.datetime) -> str:
    return as_utc(moment).strftime("%Y%m%d%H%M%S+0000")


def _addr(parent: ET.Element, party: Party, use: str) -> None:
    if not (party.address_line and party.city):
        _el(parent, "addr", nullFlavor="UNK")
        return
    addr = _el(parent, "addr", use=use)
    for tag, value in (("streetAddressLine", party.address_line), ("city", party.city),
                       ("state", party.state), ("postalCode", party.postal_code)):
        if value:
            _el(addr, tag).text = value
    _el(addr, "country").text = "US"


def _telecom(parent: ET.Element, phone: str, use: str) -> None:
    if phone:
        _el(parent, "telecom", use=use, value=f"tel:{phone}")
    else:
        _el(parent, "telecom", nullFlavor="UNK")


def _npi(parent: ET.Element, npi: str) -> None:
    if npi:
        _el(parent, "id", root=NPI_OID, extension=npi)
    else:
        _el(parent, "id", root=NPI_OID, nullFlavor="UNK")


def _person(parent: ET.Element, party: Party, time: dt.datetime, tag: str) -> ET.Element:
    """An author or legal authenticator: time, then the assigned entity (NPI, address,
    phone, name)."""
    _el(parent, "time", value=_ts(time))
    assigned = _el(parent, tag)
    _npi(assigned, party.npi)
    _addr(assigned, party, "WP")
    _telecom(assigned, party.phone, "WP")
    _el(_el(assigned, "assignedPerson"), "name").text = party.name
    return assigned


def _header(doc: ET.Element, data: CcdaInput) -> None:
    _el(doc, "realmCode", code="US")
    _el(doc, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    for root, extension in (US_REALM_HEADER, UNSTRUCTURED_DOCUMENT):
        _el(doc, "templateId", root=root, extension=extension)
    _el(doc, "id", root=ACN_ROOT, extension=data.attachment_control_number)
    _el(doc, "code", code="11488-4", codeSystem=LOINC_OID, codeSystemName="LOINC",
        displayName="Consult note")
    _el(doc, "title").text = data.title
    _el(doc, "effectiveTime", value=_ts(data.created_at))
    _el(doc, "confidentialityCode", code="N", codeSystem=CONFIDENTIALITY_OID)
    _el(doc, "languageCode", code="en-US")
    _el(doc, "setId", root=ACN_ROOT, extension=data.set_id)
    _el(doc, "versionNumber", value=str(data.version))


def _record_target(doc: ET.Element, data: CcdaInput) -> None:
    role = _el(_el(doc, "recordTarget"), "patientRole")
    _el(role, "id", root=PATIENT_ROOT, extension=data.patient_id)
    _addr(role, data.patient, "HP")
    _telecom(role, data.patient.phone, "HP")
    patient = _el(role, "patient")
    name = _el(patient, "name", use="L")
    _el(name, "given").text = data.first_name
    _el(name, "family").text = data.last_name
    # Toothline does not record gender: the header allows a null flavor.
    _el(patient, "administrativeGenderCode", nullFlavor="UNK")
    _el(patient, "birthTime", value=data.birth_date.strftime("%Y%m%d"))


def _custodian(doc: ET.Element, data: CcdaInput) -> None:
    org = _el(_el(_el(doc, "custodian"), "assignedCustodian"),
              "representedCustodianOrganization")
    _npi(org, data.custodian.npi)
    _el(org, "name").text = data.custodian.name
    _telecom(org, data.custodian.phone, "WP")
    _addr(org, data.custodian, "WP")


def _service_event(doc: ET.Element, data: CcdaInput) -> None:
    event = _el(_el(doc, "documentationOf"), "serviceEvent", classCode="PCPR")
    _el(event, "code", code=SERVICE_CODE, codeSystem=CDT_OID, codeSystemName="CDT",
        displayName="Synchronous/asynchronous teledentistry: asynchronous (store and forward)")
    span = _el(event, "effectiveTime")
    _el(span, "low", value=data.service_from.strftime("%Y%m%d"))
    _el(span, "high", value=data.service_to.strftime("%Y%m%d"))
    performer = _el(event, "performer", typeCode="PRF")
    assigned = _el(performer, "assignedEntity")
    _npi(assigned, data.dentist.npi)
    _el(_el(assigned, "assignedPerson"), "name").text = data.dentist.name


def unstructured_document(data: CcdaInput) -> bytes:
    """The document as UTF-8 XML bytes, elements in the CDA schema's order."""
    doc = ET.Element(_q("ClinicalDocument"))
    _header(doc, data)
    _record_target(doc, data)
    _person(_el(doc, "author"), data.dentist, data.signed_at, "assignedAuthor")
    _custodian(doc, data)
    legal = _el(doc, "legalAuthenticator")
    _el(legal, "time", value=_ts(data.signed_at))
    _el(legal, "signatureCode", code="S")
    assigned = _el(legal, "assignedEntity")
    _npi(assigned, data.dentist.npi)
    _addr(assigned, data.dentist, "WP")
    _telecom(assigned, data.dentist.phone, "WP")
    _el(_el(assigned, "assignedPerson"), "name").text = data.dentist.name
    _service_event(doc, data)
    body = _el(_el(doc, "component"), "nonXMLBody")
    text = _el(body, "text", mediaType="application/pdf", representation="B64")
    text.text = base64.b64encode(data.record_pdf).decode()
    return ET.tostring(doc, encoding="utf-8", xml_declaration=True)
