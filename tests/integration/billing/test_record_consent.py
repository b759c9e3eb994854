"""What the D9996 record and the claim attachment say about consent, collection and the
collector: the teledentistry consent in force at signing (form, version, date, who; the
guardian for a child) with the store-and-forward disclosure, the roster consent of a school
case, "Collected" as the span of the capture times (never the signing day) and the collecting
hygienist's license on a school record. Read back from the PDFs' text."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.accounts.admin import record_license
from reviewer.billing.facts import load_case_facts
from reviewer.consent_forms import TELEDENTISTRY, current_form, form_version
from reviewer.documents.package import build_claim_package
from reviewer.intake.consents import ConsentRequest, accept_consent, has_current_consent
from reviewer.intake.identity import resolve_identity
from storage.blobs import BlobStore
from storage.models import Attachment, Case, Consent
from tests.integration.billing.conftest import CTX, actor_for, seed_post_op, seed_school, user
from tests.integration.billing.test_documents import assert_has, text_of
from tests.support.intake import uploader

DISCLOSURE = "you may ask for a live consultation (video or in person) instead"
BEFORE_SIGNING = dt.datetime(2026, 11, 10, 17, 0, tzinfo=dt.UTC)  # 09:00 in Sacramento


async def _consent(
    db: AsyncSession, email: str, patient_id: uuid.UUID, accepted_at: dt.datetime, **how: str
) -> Consent:
    """Accepted through intake's service (as ``email``), then dated ``accepted_at``."""
    consent = await accept_consent(
        db, await uploader(db, email), CTX,
        ConsentRequest(form=TELEDENTISTRY, version=current_form(TELEDENTISTRY).version,
                       patient_id=patient_id, **how),
    )
    consent.accepted_at = accepted_at
    await db.commit()
    return consent


async def _texts(db: AsyncSession, blobs: BlobStore, case_id: uuid.UUID) -> tuple[str, str, dict]:
    case = await db.get_one(Case, case_id, populate_existing=True)
    facts = await load_case_facts(db, case, blobs=blobs)
    built = build_claim_package(facts.record, facts.profile, attachment_control_number="TLC1")
    attachment = next(f for f in built.files if f.name == "claim-attachment.pdf")
    return text_of(built.record_pdf), text_of(attachment.data), built.manifest


def test_the_current_teledentistry_form_discloses_the_live_option():
    form = current_form(TELEDENTISTRY)
    assert form.version == 2
    assert DISCLOSURE in form.text and form.disclosure in form.paragraphs
    assert DISCLOSURE in form.disclosure
    assert form_version(TELEDENTISTRY, 1).disclosure == ""  # the published text is unchanged


async def test_post_op_record_prints_consent_allergy_and_collected_span(
    demo_db: AsyncSession, blobs: BlobStore
):
    seeded = await seed_post_op(demo_db, blobs)
    await _consent(demo_db, "patient@demo.test", seeded.patient_id, BEFORE_SIGNING)
    record, attachment, manifest = await _texts(demo_db, blobs, seeded.case_id)
    consent = ("Teledentistry consent Consent to teledentistry, version 2, accepted "
               "2026-11-10 09:00 PST by the patient, Pat Demo (portal)")
    assert_has(record, "Allergies", "Penicillin (hives)", "D0171", "Consent", consent,
               "Disclosure", DISCLOSURE, "Collected 2026-11-20 08:00 to 2026-11-20 08:15")
    assert "Collected 2026-11-21" not in record  # never the signing day
    assert_has(attachment, consent, DISCLOSURE, "Collected 2026-11-20 08:00 to 2026-11-20 08:15")
    assert [(c["version"], c["given_by"], c["method"], c["live_consultation_disclosed"])
            for c in manifest["consents"]] == [(2, "patient", "portal", True)]
    assert manifest["dates"]["collected_from"] == "2026-11-20T08:00:02"
    assert "Pat Demo" not in str(manifest["consents"])  # the manifest names nobody


async def test_consent_in_force_at_signing_is_the_one_printed(
    demo_db: AsyncSession, blobs: BlobStore
):
    seeded = await seed_post_op(demo_db, blobs)
    record, _, _ = await _texts(demo_db, blobs, seeded.case_id)
    assert_has(record, "No teledentistry consent was on file when the review was signed.")
    # version 1, accepted before the review (from before version 2 was published)
    demo_db.add(Consent(organization_id=seeded.organization_id, patient_id=seeded.patient_id,
                        form=TELEDENTISTRY, version=1, given_by="patient",
                        given_by_name="Pat Demo", method="paper",
                        accepted_at=dt.datetime(2026, 10, 1, 16, 0, tzinfo=dt.UTC)))
    await demo_db.commit()
    # a patient who accepted version 1 only is asked again
    assert not await has_current_consent(demo_db, seeded.patient_id, TELEDENTISTRY)
    # version 2, accepted after the signature: not what the review was done under
    await _consent(demo_db, "patient@demo.test", seeded.patient_id,
                   dt.datetime(2026, 11, 25, 17, 0, tzinfo=dt.UTC))
    record, _, _ = await _texts(demo_db, blobs, seeded.case_id)
    assert_has(record, "Consent to teledentistry, version 1, accepted 2026-10-01 09:00 PDT "
                       "by the patient, Pat Demo (paper)", "not part of version 1 of the form")
    assert "version 2" not in record and DISCLOSURE not in record


async def test_school_record_prints_roster_consent_and_hygienist_license(
    demo_db: AsyncSession, blobs: BlobStore
):
    seeded = await seed_school(demo_db, blobs)
    record, _, _ = await _texts(demo_db, blobs, seeded.case_id)
    assert_has(record, "Hygienist license not on file",
               "No teledentistry consent was on file when the review was signed.")

    await _consent(demo_db, "hygienist@demo.test", seeded.patient_id, BEFORE_SIGNING,
                   method="roster", given_by="guardian")
    admin = await actor_for(demo_db, "admin@demo.test")
    hygienist = await user(demo_db, "hygienist@demo.test")
    await record_license(demo_db, admin, hygienist.id, state="CA",
                         number="RDH 200001", expires_on=dt.date(2030, 6, 30))
    await demo_db.commit()
    record, attachment, _ = await _texts(demo_db, blobs, seeded.case_id)
    roster = ("Roster consent Consent to teledentistry, version 2, accepted 2026-11-10 09:00 "
              "PST by the guardian, 李雷 (roster)")
    assert_has(record, roster, DISCLOSURE, "Hygienist license CA RDH 200001",
               "Hana Hygienist (hygienist, NPI 1750384913)",
               "Collected 2026-11-18 10:00 Hygienist license")
    assert_has(attachment, roster, "Collected by Hana Hygienist, license CA RDH 200001")


async def test_collected_span_from_dicom_and_exif_times_else_upload_times(
    demo_db: AsyncSession, blobs: BlobStore
):
    files = (
        ("xray_intraoral.dcm", "radiograph", "other", "3"),  # DICOM StudyDate 2026-11-20
        ("phone_postop_rotated_gps.jpg", "photo", "upper_occlusal", "3"),  # EXIF 08:15:02
    )
    seeded = await seed_post_op(demo_db, blobs, files)
    # the fixture's DICOM names another (synthetic) patient: held until a person confirms it
    held = await demo_db.scalar(select(Attachment).where(
        Attachment.case_id == seeded.case_id, Attachment.status == "identity_mismatch"))
    assert held is not None
    record, _, _ = await _texts(demo_db, blobs, seeded.case_id)
    assert "2026-11-20 00:00" not in record  # a held file's time is not the record's
    await resolve_identity(demo_db, await actor_for(demo_db, "dentist@demo.test"), CTX,
                           seeded.case_id, held.id, "confirm", "Same patient, name misspelled")
    await demo_db.commit()
    record, _, _ = await _texts(demo_db, blobs, seeded.case_id)
    assert_has(record, "Collected 2026-11-20 00:00 to 2026-11-20 08:15")
    # no device time at all: the upload times (16:05 UTC), in the practice's zone
    for row in (await demo_db.scalars(
        select(Attachment).where(Attachment.case_id == seeded.case_id)
    )).all():
        row.captured_at = None
    await demo_db.commit()
    record, _, _ = await _texts(demo_db, blobs, seeded.case_id)
    assert_has(record, "Collected 2026-11-20 08:05")
    assert "Collected 2026-11-21" not in record
