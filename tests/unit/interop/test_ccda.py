"""The C-CDA Unstructured Document in the claim ZIP, parsed back with lxml from the ZIP bytes:
every header element the US Realm Header and Unstructured Document templates require, the
attachment control number as the document id, and a body that decodes to the exact record
PDF. No CDA schema (CDA.xsd) ships with any installed package, so the checks are explicit."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import io
import json
import zipfile

from lxml import etree

from reviewer.coding.payer import DEFAULT_PROFILE
from reviewer.documents.package import CCDA_NAME, RECORD_NAME, build_claim_package
from reviewer.interop.ccda import (
    ACN_ROOT,
    NPI_OID,
    CcdaInput,
    Party,
    unstructured_document,
)
from tests.unit.documents.test_package import record

NS = {"h": "urn:hl7-org:v3"}
ACN = "TLABCDEF012345V02"


def _full_record():
    base = record(images=2)
    return dataclasses.replace(
        base,
        practice=dataclasses.replace(base.practice, address_line="100 Main Street",
                                     city="Sacramento", state="CA", postal_code="95814",
                                     phone="555-0199"),
        patient=dataclasses.replace(base.patient, first_name="Zoë", last_name="Nguyễn 李雷",
                                    phone="555-0100", address_line="1 Elm St",
                                    city="Davis", state="CA", postal_code="95616"),
    )


def _package():
    return build_claim_package(_full_record(), DEFAULT_PROFILE, attachment_control_number=ACN,
                               version=2)


def _from_zip(zip_bytes: bytes) -> tuple[etree._Element, dict, zipfile.ZipFile]:
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    doc = etree.fromstring(archive.read(CCDA_NAME))
    return doc, json.loads(archive.read("manifest.json")), archive


def _one(node: etree._Element, path: str) -> etree._Element:
    found = node.xpath(path, namespaces=NS)
    assert len(found) == 1, f"{path}: {len(found)} found"
    return found[0]


def test_the_zip_holds_the_ccda_listed_in_the_manifest():
    built = _package()
    _doc, manifest, archive = _from_zip(built.zip_bytes)
    names = archive.namelist()
    assert names.index(CCDA_NAME) == len(names) - 2 and names[-1] == "manifest.json"
    [entry] = [e for e in manifest["files"] if e["name"] == CCDA_NAME]
    data = archive.read(CCDA_NAME)
    assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == len(data)
    assert entry["media_type"] == "application/xml" and entry["report_type"] == "DG"
    assert entry["alternative_to"] == RECORD_NAME
    assert entry["document_id"] == {"root": ACN_ROOT, "extension": ACN}
    assert manifest["attachment_control_number"] == ACN
    # the same record gives the same document
    assert _package().zip_bytes == built.zip_bytes


def test_us_realm_header_and_unstructured_document_elements():
    doc, _, _ = _from_zip(_package().zip_bytes)
    assert doc.tag == "{urn:hl7-org:v3}ClinicalDocument"
    assert _one(doc, "h:realmCode").get("code") == "US"
    type_id = _one(doc, "h:typeId")
    assert (type_id.get("root"), type_id.get("extension")) == (
        "2.16.840.1.113883.1.3", "POCD_HD000040")
    templates = {(t.get("root"), t.get("extension")) for t in doc.xpath("h:templateId",
                                                                         namespaces=NS)}
    assert templates == {("2.16.840.1.113883.10.20.22.1.1", "2015-08-01"),
                         ("2.16.840.1.113883.10.20.22.1.10", "2015-08-01")}
    doc_id = _one(doc, "h:id")
    assert (doc_id.get("root"), doc_id.get("extension")) == (ACN_ROOT, ACN)
    code = _one(doc, "h:code")
    assert (code.get("code"), code.get("codeSystem")) == ("11488-4", "2.16.840.1.113883.6.1")
    assert _one(doc, "h:title").text == "D9996 teledentistry record"
    assert _one(doc, "h:effectiveTime").get("value") == "20261121173000+0000"
    confidentiality = _one(doc, "h:confidentialityCode")
    assert (confidentiality.get("code"), confidentiality.get("codeSystem")) == (
        "N", "2.16.840.1.113883.5.25")
    assert _one(doc, "h:languageCode").get("code") == "en-US"
    set_id = _one(doc, "h:setId")
    assert (set_id.get("root"), set_id.get("extension")) == (ACN_ROOT, "TLABCDEF012345")
    assert _one(doc, "h:versionNumber").get("value") == "2"


def test_record_target_author_custodian_and_legal_authenticator():
    doc, _, _ = _from_zip(_package().zip_bytes)
    role = _one(doc, "h:recordTarget/h:patientRole")
    assert _one(role, "h:id").get("extension") == "patient-ref-1"
    assert _one(role, "h:addr/h:city").text == "Davis"
    assert _one(role, "h:addr/h:streetAddressLine").text == "1 Elm St"
    assert _one(role, "h:telecom").get("value") == "tel:555-0100"
    patient = _one(role, "h:patient")
    assert _one(patient, "h:name/h:given").text == "Zoë"
    assert _one(patient, "h:name/h:family").text == "Nguyễn 李雷"
    assert _one(patient, "h:administrativeGenderCode").get("nullFlavor") == "UNK"
    assert _one(patient, "h:birthTime").get("value") == "20170302"

    author = _one(doc, "h:author")
    assert _one(author, "h:time").get("value") == "20261121173000+0000"
    assigned = _one(author, "h:assignedAuthor")
    npi = _one(assigned, "h:id")
    assert (npi.get("root"), npi.get("extension")) == (NPI_OID, "1326044579")
    assert _one(assigned, "h:addr/h:city").text == "Sacramento"
    assert _one(assigned, "h:telecom").get("value") == "tel:555-0199"
    assert _one(assigned, "h:assignedPerson/h:name").text == "Dr. Dana Demo"

    org = _one(doc, "h:custodian/h:assignedCustodian/h:representedCustodianOrganization")
    assert _one(org, "h:id").get("extension") == "1234567893"
    assert _one(org, "h:name").text == "Demo Dental Clinic"
    assert _one(org, "h:telecom").get("value") == "tel:555-0199"
    assert _one(org, "h:addr/h:postalCode").text == "95814"

    legal = _one(doc, "h:legalAuthenticator")
    assert _one(legal, "h:time").get("value") == "20261121173000+0000"
    assert _one(legal, "h:signatureCode").get("code") == "S"
    entity = _one(legal, "h:assignedEntity")
    assert _one(entity, "h:id").get("extension") == "1326044579"
    assert _one(entity, "h:assignedPerson/h:name").text == "Dr. Dana Demo"


def test_service_event_and_the_body_is_the_exact_record_pdf():
    built = _package()
    doc, _, archive = _from_zip(built.zip_bytes)
    event = _one(doc, "h:documentationOf/h:serviceEvent")
    code = _one(event, "h:code")
    assert (code.get("code"), code.get("codeSystem")) == ("D9996", "2.16.840.1.113883.6.13")
    assert _one(event, "h:effectiveTime/h:low").get("value") == "20261121"
    assert _one(event, "h:effectiveTime/h:high").get("value") == "20261121"
    assert _one(event, "h:performer/h:assignedEntity/h:id").get("extension") == "1326044579"
    text = _one(doc, "h:component/h:nonXMLBody/h:text")
    assert (text.get("mediaType"), text.get("representation")) == ("application/pdf", "B64")
    assert base64.b64decode(text.text) == archive.read(RECORD_NAME) == built.record_pdf
    # header order of the CDA schema: the body last
    assert etree.QName(doc[-1]).localname == "component"


def test_missing_address_phone_and_npi_are_null_flavored():
    data = CcdaInput(
        attachment_control_number="TL1V01", set_id="TL1", version=1,
        created_at=dt.datetime(2026, 11, 21, 17, 30), signed_at=dt.datetime(2026, 11, 21, 17, 0),
        service_from=dt.date(2026, 11, 21), service_to=dt.date(2026, 11, 21),
        patient_id="p1", first_name="A", last_name="B", birth_date=dt.date(2017, 3, 2),
        patient=Party("A B"), dentist=Party("Dr. C"), custodian=Party("Clinic"),
        record_pdf=b"%PDF-1.7 x",
    )
    doc = etree.fromstring(unstructured_document(data))
    assert _one(doc, "h:recordTarget/h:patientRole/h:addr").get("nullFlavor") == "UNK"
    assert _one(doc, "h:recordTarget/h:patientRole/h:telecom").get("nullFlavor") == "UNK"
    author_id = _one(doc, "h:author/h:assignedAuthor/h:id")
    assert (author_id.get("root"), author_id.get("nullFlavor")) == (NPI_OID, "UNK")
    org = _one(doc, "h:custodian/h:assignedCustodian/h:representedCustodianOrganization")
    assert _one(org, "h:id").get("nullFlavor") == "UNK"
    assert _one(doc, "h:effectiveTime").get("value") == "20261121173000+0000"
