"""The D9996 record of a post-op case and of a school case, built from database rows, read back:
every element the record must hold is in the text; the ZIP's manifest checksums match; the
same inputs give the same bytes; a live session's record is labelled D9995."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile

import pytest
from lxml import etree
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing import services
from reviewer.billing.facts import load_case_facts
from reviewer.documents.package import build_claim_package
from reviewer.documents.pdf import ASYNC_LABEL, SYNC_LABEL, render_live_record
from storage.blobs import BlobStore
from storage.models import Case, Organization, Patient
from tests.integration.billing.conftest import CTX, actor_for, seed_post_op, seed_school


def text_of(pdf: bytes) -> str:
    raw = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", raw)


def assert_has(text: str, *needles: str) -> None:
    missing = [n for n in needles if re.sub(r"\s+", " ", n) not in text]
    assert not missing, f"missing from the record: {missing}"


COMMON = (
    ASYNC_LABEL,
    "Originating site", "Distant site",
    "Dr. Dana Demo", "CA DDS 100001", "1326044579",  # provider: name, license, NPI
    "Collected by", "Sent to the dentist", "Reviewed by the dentist",
    "Information gathered", "Questionnaire", "History",
    "Findings", "Diagnosis", "Treatment recommendations", "Rationale", "Advice given",
    "Referral", "Follow-up", "Claim lines", "Signature and attestation",
    "I reviewed the images and answers listed above and this record is accurate.",
    "Addenda",
)


@pytest.mark.parametrize("kind", ["post_op", "school"])
async def test_record_holds_every_element(demo_db: AsyncSession, blobs: BlobStore, kind: str):
    seeded = await (seed_post_op if kind == "post_op" else seed_school)(demo_db, blobs)
    case = await demo_db.get_one(Case, seeded.case_id)
    facts = await load_case_facts(demo_db, case, blobs=blobs)
    built = build_claim_package(facts.record, facts.profile, attachment_control_number="TLTEST01")
    text = text_of(built.record_pdf)
    assert_has(text, *COMMON)
    for sha in seeded.attachment_sha256:
        assert_has(text, sha)
    for line in facts.record.lines:
        assert_has(text, line.code)
    if kind == "post_op":
        assert_has(
            text, "Demo Dental Clinic", "1234567893", "Pat Demo", "1988-04-12",
            str(seeded.patient_id), "DDP-0042", "the patient's home",
            "view: upper_occlusal; teeth: 3", "2026-11-20 08:15:02 (device clock)",
            "view: other; teeth: 3", "Is the extraction site healing?",
            "Allergies", "Penicillin (hives)", "ibuprofen 400 mg",
            "Socket of tooth 3 closing well", "healing extraction socket",
            "Normal healing after extraction of tooth 3.", "D2740",
            "fractured cusp seen on tooth 2", "warm salt water", "oral surgery",
            "bone spicule check", "in 14 day(s)", "Pat Demo (patient", "2026-11-20",
            "2026-11-20 08:05 PST",  # sent
            "2026-11-21 09:10 PST",  # reviewed
            "2026-11-21 09:30 PST",  # signed
            "D0171", "D0391", "D9996",
        )
    else:
        assert_has(
            text, "Demo School Program", "1245319599", "Zoë Nguyễn", "2017-03-02", "李雷",
            "Lincoln Elementary", "S-1001", "school: Lincoln Elementary",
            "Hana Hygienist (hygienist, NPI 1750384913)", "view: bitewing; teeth: 3,14,19,30",
            "Untreated decay", "Treatment urgency", "early",
            "Early childhood caries, tooth 30.", "cavitated occlusal lesion", "D2391",
            "general dentist", "D0191", "D1206", "D1351", "D0708", "D0140", "2026-11-18",
        )


async def test_addenda_appear_in_the_next_version(demo_db: AsyncSession, blobs: BlobStore):
    import datetime as dt

    from storage.models import Addendum
    from tests.integration.billing.conftest import user

    seeded = await seed_post_op(demo_db, blobs)
    dentist = await user(demo_db, "dentist@demo.test")
    demo_db.add(Addendum(evaluation_id=seeded.evaluation_id, author_id=dentist.id,
                         text="Patient phoned: pain has gone completely.",
                         signed_at=dt.datetime(2026, 11, 23, 16, 0, tzinfo=dt.UTC)))
    await demo_db.commit()
    case = await demo_db.get_one(Case, seeded.case_id)
    facts = await load_case_facts(demo_db, case, blobs=blobs)
    built = build_claim_package(facts.record, facts.profile, attachment_control_number="X",
                                version=2)
    assert_has(text_of(built.record_pdf), "Addendum 1", "Patient phoned: pain has gone completely.",
               "2026-11-23 08:00 PST")


async def test_zip_manifest_and_determinism(demo_db: AsyncSession, blobs: BlobStore):
    seeded = await seed_school(demo_db, blobs)
    case = await demo_db.get_one(Case, seeded.case_id)
    facts = await load_case_facts(demo_db, case, blobs=blobs)
    one = build_claim_package(facts.record, facts.profile, attachment_control_number="TL1")
    facts_again = await load_case_facts(demo_db, case, blobs=blobs)
    two = build_claim_package(facts_again.record, facts_again.profile,
                              attachment_control_number="TL1")
    assert one.zip_bytes == two.zip_bytes and one.record_pdf == two.record_pdf
    with zipfile.ZipFile(io.BytesIO(one.zip_bytes)) as archive:
        names = archive.namelist()
        assert names == ["D9996-record.pdf", "claim-attachment.pdf", "D9996-record.cda.xml",
                         "manifest.json"]
        ccda = etree.fromstring(archive.read("D9996-record.cda.xml"))
        manifest = json.loads(archive.read("manifest.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"]
            assert entry["size"] == len(archive.read(entry["name"]))
        attachment_text = text_of(archive.read("claim-attachment.pdf"))
    assert manifest["attachment_control_number"] == "TL1"
    # the C-CDA's header comes from the stored patient and organization (docs/interop.md)
    ns = {"h": "urn:hl7-org:v3"}
    patient = await demo_db.get_one(Patient, case.patient_id)
    org = await demo_db.get_one(Organization, case.organization_id)
    name = ccda.find("h:recordTarget/h:patientRole/h:patient/h:name", ns)
    assert (name.findtext("h:given", namespaces=ns), name.findtext("h:family", namespaces=ns)) == (
        patient.first_name, patient.last_name)
    assert ccda.find("h:id", ns).get("extension") == "TL1"
    custodian = ccda.find(
        "h:custodian/h:assignedCustodian/h:representedCustodianOrganization", ns)
    assert custodian.findtext("h:name", namespaces=ns) == org.name
    if org.city and org.address_line:
        assert custodian.findtext("h:addr/h:city", namespaces=ns) == org.city
    assert manifest["patient_reference"] == str(seeded.patient_id)
    assert "Zoë" not in json.dumps(manifest, ensure_ascii=False)  # a reference, not the name
    assert manifest["place_of_service"] == ["02"]
    assert manifest["provider"]["npi"] == "1326044579"
    assert {f["report_type"] for f in manifest["files"]} == {"DG", "RB"}
    assert manifest["dates"]["radiographs_captured_on"] == ["2026-11-18"]
    assert [i["code"] for i in manifest["line_items"]][-1] == "D9996"
    assert "TL1" in attachment_text and "Narrative" in attachment_text


async def test_live_and_async_records_are_labelled_apart(
    demo_db: AsyncSession, blobs: BlobStore
):
    seeded = await seed_post_op(demo_db, blobs)
    dentist = await actor_for(demo_db, "dentist@demo.test")
    live = await services.create_live_session(
        demo_db, dentist, CTX,
        {"patient_id": str(seeded.patient_id), "case_id": str(seeded.case_id),
         "scheduled_at": "2026-11-22T18:00:00Z", "started_at": "2026-11-22T18:00:00Z",
         "ended_at": "2026-11-22T18:15:00Z", "participants": [{"name": "Pat Demo",
                                                              "role": "patient"}],
         "platform": "Doxy.me", "notes": "Live follow-up"},
    )
    assert live.live_facts is not None
    live_text = text_of(render_live_record(live.live_facts.record))
    case = await demo_db.get_one(Case, seeded.case_id)
    facts = await load_case_facts(demo_db, case, blobs=blobs)
    async_text = text_of(build_claim_package(
        facts.record, facts.profile, attachment_control_number="A").record_pdf)
    assert SYNC_LABEL in live_text and "D9996" not in live_text.replace(
        "asynchronous review is a separate D9996 encounter", "")
    assert ASYNC_LABEL in async_text and "D9995" not in async_text
    assert_has(live_text, "Doxy.me", "Live follow-up", "Pat Demo", "15 minutes")
