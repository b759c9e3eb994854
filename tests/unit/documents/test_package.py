"""The claim-attachment package, pure: same record → same bytes, manifest checksums, the
payer profile's limits (and a clear refusal when they cannot be met), the narrative limit,
separate JPEGs without metadata, the D9995 record kept apart."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import random
import zipfile

import pytest
from PIL import Image
from pypdf import PdfReader

from reviewer.cases.enums import CaseKind, OriginatingSite
from reviewer.coding.payer import DEFAULT_PROFILE, PayerProfile
from reviewer.coding.rules import (
    AsyncReviewFacts,
    LiveSessionFacts,
    ProblemStatus,
    Provider,
    ProviderRole,
    propose_async_lines,
    propose_live_lines,
)
from reviewer.documents.model import (
    AsyncRecord,
    Clinician,
    GatheredItem,
    LiveRecord,
    Participant,
    PatientIdentity,
    Practice,
    Site,
)
from reviewer.documents.package import (
    CCDA_NAME,
    AttachmentDoesNotFit,
    build_claim_package,
    narrative_for,
)
from reviewer.documents.pdf import ASYNC_LABEL, SYNC_LABEL, render_live_record

SIGNED = dt.datetime(2026, 11, 21, 17, 30, tzinfo=dt.UTC)
DENTIST = Provider("1326044579", "Dr. Dana Demo", ProviderRole.DENTIST)


def picture(seed: int, size: tuple[int, int] = (640, 480), noisy: bool = False) -> bytes:
    if noisy:
        rng = random.Random(seed)
        im = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    else:
        im = Image.new("RGB", size, (seed * 40 % 255, 90, 120))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=95, exif=Image.Exif())
    return out.getvalue()


def record(images: int = 2, noisy: bool = False, findings: str = "Healing well.") -> AsyncRecord:
    facts = AsyncReviewFacts(
        encounter_id="case-1", case_kind=CaseKind.POST_OP, problem=ProblemStatus.NEW,
        dentist=DENTIST, signed_on=SIGNED.date(), originating_site=OriginatingSite.HOME,
    )
    items = tuple(
        GatheredItem(
            ref=f"att-{i}", kind="radiograph" if i == 0 else "photo", view="periapical",
            teeth="3", captured_at=dt.datetime(2026, 11, 20, 8, 0, i),
            sha256=hashlib.sha256(str(i).encode()).hexdigest(), content_type="image/jpeg",
            display_jpeg=picture(i, (2048, 1536) if noisy else (640, 480), noisy),
        )
        for i in range(images)
    )
    return AsyncRecord(
        encounter_id="case-1", case_kind="post_op",
        practice=Practice("Demo Dental Clinic", "1234567893", "100 Main Street",
                          time_zone="America/Los_Angeles"),
        dentist=Clinician("Dr. Dana Demo", "dentist", "1326044579", "CA DDS 100001"),
        patient=PatientIdentity("patient-ref-1", "Zoë Nguyễn 李雷", dt.date(2017, 3, 2)),
        originating_site=Site("home", "the patient's home", "CA"),
        distant_site=Site("practice", "Demo Dental Clinic", "CA"),
        items=items, questionnaire=(("Pain", "3"),), history=(("Medical alerts", "none"),),
        screening=(), collected_by=Clinician("Zoë Nguyễn 李雷", "patient"),
        collected_on=dt.date(2026, 11, 20), sent_at=SIGNED - dt.timedelta(days=1),
        reviewed_at=None, signed_at=SIGNED, findings=findings, teeth_findings=(),
        diagnosis="Normal healing.", recommendations=(), advice="Rinse.", referral="",
        follow_up="", lines=tuple(propose_async_lines(facts)), attestation="",
        content_sha256="cd" * 32,
    )


def test_same_record_same_bytes_and_checksums_match():
    one = build_claim_package(record(), DEFAULT_PROFILE, attachment_control_number="TL9")
    two = build_claim_package(record(), DEFAULT_PROFILE, attachment_control_number="TL9")
    assert one.zip_bytes == two.zip_bytes
    with zipfile.ZipFile(io.BytesIO(one.zip_bytes)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"]
        assert {i.date_time for i in archive.infolist()} == {(2026, 11, 21, 17, 30, 0)}
    reader = PdfReader(io.BytesIO(one.record_pdf))
    assert reader.metadata is not None
    assert reader.metadata.creation_date is not None
    assert reader.metadata.creation_date.astimezone(dt.UTC) == SIGNED
    text = " ".join(p.extract_text() for p in reader.pages)
    assert "Zoë Nguyễn 李雷" in text and ASYNC_LABEL in text


def test_a_ten_image_case_fits_the_default_limits():
    built = build_claim_package(record(images=10, noisy=True), DEFAULT_PROFILE,
                                attachment_control_number="TL10")
    sizes = {f.name: len(f.data) for f in built.files if f.name != CCDA_NAME}
    assert [f.name for f in built.files] == ["D9996-record.pdf", "claim-attachment.pdf",
                                             CCDA_NAME]
    assert all(size <= DEFAULT_PROFILE.attachment_max_bytes for size in sizes.values())
    pdf = PdfReader(io.BytesIO(built.files[1].data))
    images = sum(len(page.images) for page in pdf.pages)
    assert images == 10


def test_does_not_fit_says_why():
    tight = PayerProfile(name="Tight", attachment_max_bytes=60_000)
    with pytest.raises(AttachmentDoesNotFit) as refused:
        build_claim_package(record(images=3, noisy=True), tight, attachment_control_number="X")
    assert "60,000 bytes" in refused.value.message and "Tight" in refused.value.message
    assert refused.value.code == "attachment_does_not_fit"

    many = PayerProfile(name="Separate", wants_separate_images=True, attachment_max_files=3)
    with pytest.raises(AttachmentDoesNotFit) as refused:
        build_claim_package(record(images=2), many, attachment_control_number="X")
    assert "4 files to send" in refused.value.message and "at most 3" in refused.value.message

    no_pdf = PayerProfile(name="Images only", attachment_formats=frozenset({"image/jpeg"}))
    with pytest.raises(AttachmentDoesNotFit, match="does not take PDF"):
        build_claim_package(record(), no_pdf, attachment_control_number="X")


def test_separate_images_are_plain_jpegs_with_their_own_report_type():
    profile = PayerProfile(name="Separate", wants_separate_images=True)
    built = build_claim_package(record(images=2), profile, attachment_control_number="TL2")
    names = [f.name for f in built.files]
    assert names == ["D9996-record.pdf", "claim-attachment.pdf", "images/01-radiograph.jpg",
                     "images/02-photo.jpg", CCDA_NAME]
    for f in built.files[2:4]:
        with Image.open(io.BytesIO(f.data)) as im:
            assert im.format == "JPEG"
            assert not im.getexif() and "icc_profile" not in im.info and "comment" not in im.info
    entries = {e["name"]: e for e in built.manifest["files"]}
    assert entries["images/01-radiograph.jpg"]["report_type"] == "RB"
    assert entries["images/01-radiograph.jpg"]["captured_on"] == "2026-11-20"
    assert entries["images/02-photo.jpg"]["report_type"] == "OZ"
    assert entries["D9996-record.pdf"]["report_type"] == "DG"


def test_narrative_respects_the_limit():
    long = record(findings="word " * 2000)
    for limit in (2000, 300):
        text = narrative_for(long, limit)
        assert len(text) <= limit and text.endswith("(full text in the attached record)")
    assert narrative_for(record(), 2000).startswith("Asynchronous teledentistry review")


def test_live_record_is_labelled_d9995_and_has_only_its_lines():
    facts = LiveSessionFacts(encounter_id="live-1", dentist=DENTIST,
                             session_date=dt.date(2026, 11, 22),
                             originating_site=OriginatingSite.HOME)
    base = record()
    live = LiveRecord(
        encounter_id="live-1", practice=base.practice, dentist=base.dentist,
        patient=base.patient, originating_site=base.originating_site,
        distant_site=base.distant_site, scheduled_at=SIGNED, started_at=SIGNED,
        ended_at=SIGNED + dt.timedelta(minutes=20),
        participants=(Participant("Zoë Nguyễn", "patient"),), platform="Doxy.me",
        notes="Call", findings="", diagnosis="", advice="", recommendations=(),
        lines=tuple(propose_live_lines(facts)), linked_case_id=None, recorded_at=SIGNED,
    )
    pdf = render_live_record(live)
    assert pdf == render_live_record(dataclasses.replace(live))
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert SYNC_LABEL in text and "D9995" in text and "D9996" not in text
    assert "20 minutes" in text
