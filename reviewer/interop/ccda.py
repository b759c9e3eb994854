"""A C-CDA R2.1 Unstructured Document wrapping the D9996 record PDF (docs/interop.md).

The format the claim-attachments rule names: the US Realm Header
(2.16.840.1.113883.10.20.22.1.1) with the Unstructured Document template
(2.16.840.1.113883.10.20.22.1.10) and a ``nonXMLBody`` holding the PDF as base64. The
attachment control number is the document's ``id/@extension`` (and ``setId``), so a payer
matches the document to the claim's PWK06. Pure: plain data in, XML bytes out. Built with the
standard library's ElementTree (lxml is not a dependency).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Final

NS: Final = "urn:hl7-org:v3"
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
US_REALM_HEADER: Final = ("2.16.840.1.113883.10.20.22.1.1", "2015-08-01")
UNSTRUCTURED_DOCUMENT: Final = ("2.16.840.1.113883.10.20.22.1.10", "2015-08-01")
LOINC_OID: Final = "2.16.840.1.113883.6.1"
ACN_ROOT: Final = "2.16.840.1.113883.3.9999.1"
"""Placeholder OID root of Toothline's attachment control numbers: replace with the
organization's registered OID before production (docs/interop.md)."""

ET.register_namespace("", NS)
ET.register_namespace("xsi", XSI)


@dataclass(frozen=True)
class Party:
    name: str
    id: uuid.UUID
    address_line: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    phone: str = ""


@dataclass(frozen=True)
class CcdaInput:
    attachment_control_number: str
    version: int
    signed_at: dt.datetime
    patient_id: uuid.UUID
    first_name: str
    last_name: str
    birth_date: dt.date
    patient_address: Party
    dentist: Party
    dentist_npi: str | None
    custodian: Party
    record_pdf: bytes
    title: str = "D9996 teledentistry record"


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _el(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, _q(tag), attrs)


def _ts(moment: dt.datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S+0000")


def _addr(parent: ET.Element, party: Party) -> None:
    if not (party.address_line or party.city):
        _el(parent, "addr", nullFlavor="UNK")
        return
    addr = _el(parent, "addr", use="WP")
    for tag, value in (("streetAddressLine", party.address_line), ("city", party.city),
                       ("state", party.state), ("postalCode", party.postal_code)):
        if value:
            _el(addr, tag).text = value
    _el(addr, "country").text = "US"


def _telecom(parent: ET.Element, phone: str) -> None:
    if phone:
        _el(parent, "telecom", use="WP", value=f"tel:{phone}")
    else:
        _el(parent, "telecom", nullFlavor="UNK")


def unstructured_document(data: CcdaInput) -> bytes:
    doc = ET.Element(_q("ClinicalDocument"))
    _el(doc, "realmCode", code="US")
    _el(doc, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    for root, extension in (US_REALM_HEADER, UNSTRUCTURED_DOCUMENT):
        _el(doc, "templateId", root=root, extension=extension)
    _el(doc, "id", root=ACN_ROOT, extension=data.attachment_control_number)
    _el(doc, "code", code="11488-4", codeSystem=LOINC_OID, codeSystemName="LOINC",
        displayName="Consult note")
    _el(doc, "title").text = data.title
    _el(doc, "effectiveTime", value=_ts(data.signed_at))
    _el(doc, "confidentialityCode", code="N", codeSystem="2.16.840.1.113883.5.25")
    _el(doc, "languageCode", code="en-US")
    _el(doc, "setId", root=ACN_ROOT, extension=data.attachment_control_number.split("V")[0])
    _el(doc, "versionNumber", value=str(data.version))

    role = _el(_el(doc, "recordTarget"), "patientRole")
    _el(role, "id", root="2.25", extension=str(data.patient_id))
    _addr(role, data.patient_address)
    _telecom(role, data.patient_address.phone)
    patient = _el(role, "patient")
    name = _el(patient, "name", use="L")
    _el(name, "given").text = data.first_name
    _el(name, "family").text = data.last_name
    _el(patient, "administrativeGenderCode", nullFlavor="UNK")
    _el(patient, "birthTime", value=data.birth_date.strftime("%Y%m%d"))

    author = _el(doc, "author")
    _el(author, "time", value=_ts(data.signed_at))
    assigned = _el(author, "assignedAuthor")
    if data.dentist_npi:
        _el(assigned, "id", root="2.16.840.1.113883.4.6", extension=data.dentist_npi)
    else:
        _el(assigned, "id", root="2.25", extension=str(data.dentist.id))
    _addr(assigned, data.dentist)
    _telecom(assigned, data.dentist.phone)
    _el(_el(assigned, "assignedPerson"), "name").text = data.dentist.name

    org = _el(_el(_el(doc, "custodian"), "assignedCustodian"),
              "representedCustodianOrganization")
    _el(org, "id", root="2.25", extension=str(data.custodian.id))
    _el(org, "name").text = data.custodian.name
    _telecom(org, data.custodian.phone)
    _addr(org, data.custodian)

    body = _el(_el(doc, "component"), "nonXMLBody")
    text = _el(body, "text", mediaType="application/pdf", representation="B64")
    text.text = base64.b64encode(data.record_pdf).decode()
    return ET.tostring(doc, encoding="utf-8", xml_declaration=True)
