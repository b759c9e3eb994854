"""DICOMweb archive against a real Orthanc (Debian's ``orthanc`` + ``orthanc-dicomweb``,
tests/support/orthanc.py): a case with two photos and a DICOM radiograph, signed through the
API, reaches the archive as one study of three instances; a wrong archive URL is recorded and
retried; the settings and sends stay inside the organization; the password is write-only."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from dicomweb_client.api import DICOMwebClient
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import portal.jobs.inprocess
from portal.accounts.passwords import hash_password
from portal.settings import Settings
from reviewer.interop.archive import password_purpose
from reviewer.interop.dicom_wrap import SECONDARY_CAPTURE, VL_PHOTOGRAPHIC, study_uid
from reviewer.interop.dicomweb import MAX_ATTEMPTS, archive_sweep
from storage.models import Attachment, AuditEvent, Case, Organization, Patient, Role, User
from storage.models.archive import ArchiveSend, ArchiveSettings
from storage.sealed import SealBroken, unseal
from tests.integration.accounts.helpers import OTHER_ORG, add_other_organization
from tests.integration.billing.conftest import _attach, org, seed_post_op, user
from tests.integration.portal.test_event_loop_blocking import (
    _report,
    dentist_signs,
    guarded_client,
    patient_submits,
)
from tests.support.dicoms import write_dicom
from tests.support.live import free_port
from tests.support.loop_guard import LoopGuard
from tests.support.orthanc import Orthanc
from tests.support.portal import DEMO_PASSWORD, csrf_token, sign_in

Client = AsyncTestClient[Litestar]
OTHER_ADMIN = "admin@other.test"
DRAFT = {
    "findings": "Socket of tooth 3 closing well.",
    "teeth_findings": [{"tooth": "3", "condition": "healing_normal"}],
    "diagnosis": "Normal healing after extraction.",
    "advice": "Keep rinsing gently with warm salt water after meals.",
    "urgency": "routine", "procedures": [], "referral": None, "follow_up_days": 14,
    "internal_notes": "",
}


def _files(tmp_path: Path) -> tuple[tuple[str, str, str, str], ...]:
    # intake keeps a DICOM without patient tags as it is (nothing to mismatch)
    dicom = write_dicom(tmp_path / "periapical.dcm", name=None, birth_date=None)
    return (
        ("phone_postop_rotated_gps.jpg", "photo", "upper_occlusal", "3"),
        ("phone_postop_upright.jpg", "photo", "anterior", "8,9"),
        (str(dicom), "radiograph", "periapical", "3"),
    )


async def _as(client: Client, email: str) -> dict[str, str]:
    await client.post("/logout", headers={"x-csrftoken": await csrf_token(client)})
    await sign_in(client, email)
    return {"x-csrftoken": await csrf_token(client)}


async def _set_archive(client: Client, clinic: uuid.UUID, url: str, **fields: object) -> dict:
    headers = await _as(client, "admin@demo.test")
    body = {"base_url": url, "restore_identity": True, "enabled": True, **fields}
    answer = await client.put(f"/api/v1/organizations/{clinic}/archive", json=body,
                              headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _submitted_case(db: AsyncSession, client: Client, tmp_path: Path) -> Case:
    """A post-op case waiting in the queue, its pictures uploaded through intake."""
    clinic = await org(db, "Demo Dental Clinic")
    patient = await db.scalar(select(Patient).where(Patient.email == "patient@demo.test"))
    submitter = await user(db, "patient@demo.test")
    assert patient is not None
    now = dt.datetime.now(dt.UTC)
    case = Case(
        organization_id=clinic.id, patient_id=patient.id, kind="post_op", status="submitted",
        urgency="routine", urgency_rank=2, questionnaire={"pain": 2, "question": "Healing?"},
        location_state="CA", location_site="home", submitted_by_id=submitter.id,
        collected_on=now.date(), submitted_at=now - dt.timedelta(minutes=5),
        first_submitted_at=now - dt.timedelta(minutes=5), due_at=now + dt.timedelta(hours=10),
    )
    db.add(case)
    await db.flush()
    await _attach(db, client.app.state.blobs, case, submitter, _files(tmp_path),
                  dt.datetime(2026, 11, 20, 8, 0))
    await db.commit()
    return case


async def _send_state(client: Client, case_id: uuid.UUID) -> dict:
    answer = await client.get(f"/api/v1/cases/{case_id}/archive")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_signing_sends_the_case_to_orthanc_as_one_study(
    client: Client, app_db: AsyncSession, orthanc: Orthanc, tmp_path: Path
) -> None:
    clinic = (await org(app_db, "Demo Dental Clinic")).id
    saved = await _set_archive(client, clinic, orthanc.dicomweb_url + "/")
    assert saved["base_url"] == orthanc.dicomweb_url and saved["enabled"] is True
    case = await _submitted_case(app_db, client, tmp_path)
    case_id = case.id
    images = (await app_db.scalars(select(Attachment).where(Attachment.case_id == case_id)
                                   .order_by(Attachment.created_at))).all()
    assert [a.status for a in images] == ["ready"] * 3

    headers = await _as(client, "dentist@demo.test")
    url = f"/api/v1/cases/{case_id}"
    assert (await client.post(f"{url}/claim", headers=headers)).status_code == 200
    assert (await client.put(f"{url}/evaluation", json=DRAFT, headers=headers)).status_code == 200
    for image in images:
        opened = await client.get(f"{url}/attachments/{image.id}/display")
        assert opened.status_code == 200, opened.text
    signed = await client.post(f"{url}/evaluation/sign", headers=headers,
                               json={"password": DEMO_PASSWORD, "attest": True})
    assert signed.status_code == 200, signed.text
    await client.app.state.jobs.drained()

    state = await _send_state(client, case_id)
    assert state["state"] == "sent", state
    assert state["instances"] == 3 and state["attempts"] == 1 and state["last_error"] is None
    assert state["study_instance_uid"] == study_uid(case_id)

    archive = DICOMwebClient(orthanc.dicomweb_url)
    found = archive.search_for_instances(study_instance_uid=study_uid(case_id),
                                         fields=["PatientName", "SOPClassUID"])
    assert len(found) == 3
    classes = sorted(item["00080016"]["Value"][0] for item in found)
    assert classes.count(VL_PHOTOGRAPHIC) == 2 and SECONDARY_CAPTURE not in classes
    # the radiograph went as stored, with the patient restored (the practice's own archive)
    radiograph = next(i for i in found if i["00080016"]["Value"][0] != VL_PHOTOGRAPHIC)
    series = archive.search_for_series(study_instance_uid=study_uid(case_id))
    assert len(series) == 3
    stored = archive.retrieve_instance(
        study_uid(case_id), radiograph["0020000E"]["Value"][0],
        radiograph["00080018"]["Value"][0])
    assert str(stored.PatientName) == "Demo^Pat" and stored.PatientBirthDate == "19880412"
    assert stored.Modality == "IO" and stored.SeriesDescription == "Periapical"

    # Sending again stores the same three instances (same UIDs), nothing twice.
    again = await client.post(f"{url}/archive", headers=headers)
    assert again.status_code == 202 and again.json()["state"] == "queued"
    await client.app.state.jobs.drained()
    assert (await _send_state(client, case_id))["state"] == "sent"
    assert len(archive.search_for_instances(study_instance_uid=study_uid(case_id))) == 3
    events = (await app_db.scalars(select(AuditEvent.action).where(
        AuditEvent.subject_id == str(case_id), AuditEvent.action.like("archive.%")))).all()
    assert sorted(events) == ["archive.queued", "archive.queued", "archive.sent",
                              "archive.sent"]


async def test_a_wrong_archive_url_is_recorded_and_retried(
    client: Client, app_db: AsyncSession, orthanc: Orthanc, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portal.jobs.inprocess, "RETRY_AFTER_S", 0.01)  # shorter back-off
    seeded = await seed_post_op(app_db, client.app.state.blobs, package=False)
    await _set_archive(client, seeded.organization_id,
                       f"http://127.0.0.1:{free_port()}/dicom-web", restore_identity=False)
    headers = await _as(client, "dentist@demo.test")
    queued = await client.post(f"/api/v1/cases/{seeded.case_id}/archive", headers=headers)
    assert queued.status_code == 202, queued.text
    await client.app.state.jobs.drained()

    state = await _send_state(client, seeded.case_id)
    assert state["state"] == "failed"
    assert state["attempts"] == portal.jobs.inprocess.ATTEMPTS  # the runner tried again
    assert "ConnectionError" in state["last_error"]
    page = await client.get(f"/archive/cases/{seeded.case_id}", headers={"hx-request": "true"})
    assert page.status_code == 200 and "Sending to the archive failed" in page.text
    assert 'id="archive-status"' in page.text and "<html" not in page.text

    # The sweep waits out the back-off, then tries the now-right archive.
    await _set_archive(client, seeded.organization_id, orthanc.dicomweb_url,
                       restore_identity=False)
    assert await archive_sweep(app_db, client.app.state.blobs) == 0  # too soon
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert await archive_sweep(app_db, client.app.state.blobs, now=later) == 1
    await _as(client, "dentist@demo.test")
    state = await _send_state(client, seeded.case_id)
    assert state["state"] == "sent" and state["instances"] == 3, state
    found = DICOMwebClient(orthanc.dicomweb_url).search_for_instances(
        study_instance_uid=study_uid(seeded.case_id), fields=["PatientName", "Modality"])
    assert len(found) == 3
    # not the practice's own archive: no names, Toothline's patient id only
    assert all("Value" not in item.get("00100010", {}) for item in found)
    assert {item["00080060"]["Value"][0] for item in found} == {"XC", "IO"}
    assert "Demo" not in str(found)


async def test_the_sweep_gives_up_after_the_maximum_attempts(
    client: Client, app_db: AsyncSession
) -> None:
    seeded = await seed_post_op(app_db, client.app.state.blobs, package=False)
    await _set_archive(client, seeded.organization_id,
                       f"http://127.0.0.1:{free_port()}/dicom-web")
    app_db.add(ArchiveSend(case_id=seeded.case_id, organization_id=seeded.organization_id,
                           state="failed", attempts=MAX_ATTEMPTS, last_error="x",
                           study_instance_uid=study_uid(seeded.case_id)))
    await app_db.commit()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    assert await archive_sweep(app_db, client.app.state.blobs, now=later) == 0


async def _other_admin(db: AsyncSession, database_url: str) -> None:
    await add_other_organization(database_url)
    other = await db.scalar(select(Organization).where(Organization.name == OTHER_ORG))
    db.add(User(email=OTHER_ADMIN, role=Role.ADMIN, display_name="Other Admin",
                password_hash=hash_password(DEMO_PASSWORD), organizations=[other]))
    await db.commit()


async def test_settings_and_sends_stay_inside_the_organization(
    client: Client, app_db: AsyncSession, database_url: str
) -> None:
    seeded = await seed_post_op(app_db, client.app.state.blobs, package=False)
    clinic = seeded.organization_id
    api = f"/api/v1/organizations/{clinic}/archive"
    headers = await _as(client, "admin@demo.test")
    assert (await client.get(api)).json()["configured"] is False
    bad = await client.put(api, json={"base_url": "ftp://pacs.example/dicom-web"},
                           headers=headers)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_archive_settings"
    in_url = await client.put(api, json={"base_url": "https://u:p@pacs.example/dicom-web"},
                              headers=headers)
    assert in_url.status_code == 400
    # no archive turned on yet: a send is refused
    dentist = await _as(client, "dentist@demo.test")
    refused = await client.post(f"/api/v1/cases/{seeded.case_id}/archive", headers=dentist)
    assert refused.status_code == 409 and refused.json()["code"] == "no_archive"

    saved = await _set_archive(client, clinic, "https://pacs.example.org/dicom-web",
                               username="toothline", password="s3cret-Archive-pw")
    assert saved["has_password"] is True and "s3cret" not in str(saved)
    headers = await _as(client, "admin@demo.test")
    read = await client.get(api)
    assert read.json()["username"] == "toothline" and "s3cret" not in read.text
    page = await client.get(f"/admin/archive?organization_id={clinic}")
    assert page.status_code == 200 and "pacs.example.org" in page.text
    assert "s3cret" not in page.text
    # a null password keeps the stored one
    kept = await client.put(api, json={"base_url": "https://pacs.example.org/dicom-web",
                                       "username": "toothline", "enabled": True},
                            headers=headers)
    assert kept.json()["has_password"] is True
    # stored sealed (storage/sealed.py): a copy of the database does not hand it out
    stored = await app_db.scalar(select(ArchiveSettings.password).where(
        ArchiveSettings.organization_id == uuid.UUID(str(clinic)))
        .execution_options(populate_existing=True))
    assert stored is not None and stored.startswith("v1:") and "s3cret" not in stored
    assert unseal(stored, password_purpose(uuid.UUID(str(clinic)))) == "s3cret-Archive-pw"
    with pytest.raises(SealBroken):  # bound to its organization
        unseal(stored, password_purpose(uuid.uuid4()))
    details = (await app_db.scalars(select(AuditEvent.details).where(
        AuditEvent.action == "archive_settings.changed"))).all()
    assert len(details) == 2 and "s3cret" not in str(details)

    # front desk of the clinic: not theirs to send
    desk = await _as(client, "billing@demo.test")
    assert (await client.post(f"/api/v1/cases/{seeded.case_id}/archive",
                              headers=desk)).status_code == 403

    # an admin of another organization: neither the settings nor the case exist for them
    await _other_admin(app_db, database_url)
    other = await _as(client, OTHER_ADMIN)
    assert (await client.get(api)).status_code == 404
    changed = await client.put(api, json={"base_url": "https://evil.example/dicom-web",
                                          "enabled": True}, headers=other)
    assert changed.status_code == 404
    assert (await client.get(f"/admin/archive?organization_id={clinic}")).status_code == 404
    assert (await client.post(f"/api/v1/cases/{seeded.case_id}/archive",
                              headers=other)).status_code == 404
    assert (await client.get(f"/api/v1/cases/{seeded.case_id}/archive")).status_code == 404
    assert (await client.post(f"/archive/cases/{seeded.case_id}", headers=other,
                              )).status_code in (303, 404)
    app_db.expire_all()
    assert (await app_db.scalar(select(ArchiveSend).where(
        ArchiveSend.case_id == seeded.case_id))) is None
    headers = await _as(client, "admin@demo.test")
    assert (await client.get(api)).json()["base_url"] == "https://pacs.example.org/dicom-web"


async def test_admin_page_saves_the_settings(client: Client, app_db: AsyncSession) -> None:
    clinic = (await org(app_db, "Demo Dental Clinic")).id
    await _as(client, "admin@demo.test")
    form = {"organization_id": str(clinic), "base_url": "not a url", "enabled": "yes",
            "_csrf_token": await csrf_token(client)}
    refused = await client.post("/admin/archive", data=form, follow_redirects=False)
    assert refused.status_code == 422 and 'id="archive-error"' in refused.text
    form["base_url"] = "https://pacs.example.org/dicom-web"
    saved = await client.post("/admin/archive", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    read = (await client.get(f"/api/v1/organizations/{clinic}/archive")).json()
    assert read["enabled"] is True and read["restore_identity"] is False


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_send_leaves_the_event_loop_free(
    settings: Settings, orthanc: Orthanc, capsys: pytest.CaptureFixture[str]
) -> None:
    """Submit, sign, and the job sends to Orthanc, on a loop the guard watches
    (docs/development.md "CPU work stays off the event loop"): the wrapping (Pillow reads
    headers) and the synchronous STOW-RS client run in worker threads."""
    with LoopGuard() as guard:
        async with guarded_client(settings, guard) as client:
            clinic = client.blocking_portal.call(_clinic_id, client.app)
            await _set_archive(client, clinic, orthanc.dicomweb_url)
            case_id = await patient_submits(client)
            await dentist_signs(client, case_id)  # drains the jobs: the send has run
            state = await _send_state(client, uuid.UUID(case_id))
            assert state["state"] == "sent" and state["instances"] == 2, state
        _report(guard, capsys)
    assert guard.failures() == []


async def _clinic_id(app: Litestar) -> uuid.UUID:
    async with app.state.db_sessionmaker() as db:
        return (await org(db, "Demo Dental Clinic")).id


async def test_review_page_fragment_shows_the_send_and_sends_again(
    client: Client, app_db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portal.jobs.inprocess, "RETRY_AFTER_S", 0.01)
    seeded = await seed_post_op(app_db, client.app.state.blobs, package=False)
    fragment = f"/archive/cases/{seeded.case_id}"
    htmx = {"hx-request": "true", "hx-target": "archive-status"}
    await _as(client, "dentist@demo.test")
    review = await client.get(f"/review/cases/{seeded.case_id}")
    assert review.status_code == 200 and f'hx-get="{fragment}"' in review.text
    off = await client.get(fragment, headers=htmx)
    assert off.status_code == 200 and 'id="archive-status"' in off.text
    assert "Send to archive" not in off.text  # no archive turned on: nothing to offer

    await _set_archive(client, seeded.organization_id, f"http://127.0.0.1:{free_port()}/x")
    headers = {**htmx, **await _as(client, "dentist@demo.test")}
    on = await client.get(fragment, headers=htmx)
    assert "Not sent to the archive." in on.text and "Send to archive" in on.text
    sent = await client.post(fragment, headers=headers)
    assert sent.status_code == 200, sent.text
    assert "Waiting to be sent" in sent.text and "<html" not in sent.text
    await client.app.state.jobs.drained()
    failed = await client.get(fragment, headers=htmx)
    assert "Sending to the archive failed" in failed.text
    assert "Send to archive again" in failed.text


async def test_an_unsigned_case_is_not_sent(client: Client, app_db: AsyncSession) -> None:
    seeded = await seed_post_op(app_db, client.app.state.blobs, package=False)
    base = await app_db.get(Case, seeded.case_id)
    assert base is not None
    unsigned = Case(
        organization_id=base.organization_id, patient_id=base.patient_id, kind="question",
        status="submitted", urgency="routine", urgency_rank=2, questionnaire={},
        location_state="CA", location_site="home", submitted_by_id=base.submitted_by_id,
    )
    app_db.add(unsigned)
    await app_db.commit()
    await _set_archive(client, seeded.organization_id, f"http://127.0.0.1:{free_port()}/x")
    headers = await _as(client, "dentist@demo.test")
    refused = await client.post(f"/api/v1/cases/{unsigned.id}/archive", headers=headers)
    assert refused.status_code == 409 and refused.json()["code"] == "case_not_signed"
    assert (await _send_state(client, unsigned.id))["state"] is None
