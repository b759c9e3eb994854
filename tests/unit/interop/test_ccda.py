"""The C-CDA Unstructured Document parses back and carries every header element the US
Realm Header and Unstructured Document templates require (lxml is not installed: the
standard library's parser)."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
import xml.etree.ElementTree as ET

from reviewer.interop.ccda import CcdaInput, Party, unstructured_document

NS = {"h": "urn:hl7-org:v3"}
PDF = b"%PDF-1.7 record"
DATA = CcdaInput(
    attachment_control_number="TLABCDEF012345V02", version=2,
    signed_at=dt.datetime(2026, 11, 21, 17, 30, tzinfo=dt.UTC), patient_id=uuid.UUID(int=1),
    first_name="Zoë", last_name="Nguyễn", birth_date=dt.date(2017, 3, 2),
    patient_address=Party("Zoë Nguyễn", uuid.UUID(int=1), "1 Main St", "Sacramento", "CA",
                          "95814", "555-0100"),
    dentist=Party("Dr. Ada Molar", uuid.UUID(int=2)), dentist_npi="1234567893",
    custodian=Party("Demo Dental Clinic", uuid.UUID(int=3), phone="555-0199"),
    record_pdf=PDF,
)


def _doc() -> ET.Element:
    return ET.fromstring(unstructured_document(DATA))


def test_header_elements():
    doc = _doc()
    assert doc.tag == "{urn:hl7-org:v3}ClinicalDocument"
    assert doc.find("h:realmCode", NS).get("code") == "US"
    type_id = doc.find("h:typeId", NS)
    assert (type_id.get("root"), type_id.get("extension")) == (
        "2.16.840.1.113883.1.3", "POCD_HD000040")
    templates = {t.get("root") for t in doc.findall("h:templateId", NS)}
    assert {"2.16.840.1.113883.10.20.22.1.1", "2.16.840.1.113883.10.20.22.1.10"} <= templates
    assert doc.find("h:id", NS).get("extension") == "TLABCDEF012345V02"
    assert doc.find("h:code", NS).get("codeSystem") == "2.16.840.1.113883.6.1"
    assert doc.find("h:title", NS).text
    assert doc.find("h:effectiveTime", NS).get("value") == "20261121173000+0000"
    assert doc.find("h:confidentialityCode", NS).get("code") == "N"
    assert doc.find("h:languageCode", NS).get("code") == "en-US"
    assert doc.find("h:versionNumber", NS).get("value") == "2"


def test_participants():
    doc = _doc()
    role = doc.find("h:recordTarget/h:patientRole", NS)
    assert role.find("h:id", NS).get("extension") == str(uuid.UUID(int=1))
    assert role.find("h:addr/h:city", NS).text == "Sacramento"
    assert role.find("h:telecom", NS).get("value") == "tel:555-0100"
    patient = role.find("h:patient", NS)
    assert patient.find("h:name/h:family", NS).text == "Nguyễn"
    assert patient.find("h:administrativeGenderCode", NS).get("nullFlavor") == "UNK"
    assert patient.find("h:birthTime", NS).get("value") == "20170302"
    author = doc.find("h:author", NS)
    assert author.find("h:time", NS) is not None
    assigned = author.find("h:assignedAuthor", NS)
    assert assigned.find("h:id", NS).get("extension") == "1234567893"
    assert assigned.find("h:addr", NS) is not None and assigned.find("h:telecom", NS) is not None
    assert assigned.find("h:assignedPerson/h:name", NS).text == "Dr. Ada Molar"
    org = doc.find("h:custodian/h:assignedCustodian/h:representedCustodianOrganization", NS)
    assert org.find("h:id", NS) is not None and org.find("h:name", NS).text
    assert org.find("h:telecom", NS) is not None and org.find("h:addr", NS) is not None


def test_body_is_the_pdf():
    text = _doc().find("h:component/h:nonXMLBody/h:text", NS)
    assert (text.get("mediaType"), text.get("representation")) == ("application/pdf", "B64")
    assert base64.b64decode(text.text) == PDF
