"""Issue 17, the right patient: a DICOM whose patient tags name someone else is held
(``identity_mismatch``), shown to staff with both identities, and used only after a person
confirms it (audited) or removed when they reject it. Matching tags: ready as before."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from litestar import Litestar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.blobs import BlobNotFound
from storage.models import Attachment, AuditEvent
from tests.integration.intake.conftest import (
    PATIENT,
    Client,
    attachments,
    blob_store,
    headers,
    upload,
    wait_ready,
)
from tests.support.dicoms import write_dicom
from tests.support.portal import csrf_token, form_token, sign_in


def _api(case_id: uuid.UUID) -> str:
    return f"/api/v1/cases/{case_id}/attachments"


@asynccontextmanager
async def signed_in(client: Client, email: str) -> AsyncIterator[Client]:
    """The same client as another account for a while, then the patient again (one client:
    one event loop for the database pool)."""
    await client.post("/logout", headers=await headers(client))
    await sign_in(client, email)
    yield client
    await client.post("/logout", headers=await headers(client))
    await sign_in(client, PATIENT)


async def _upload_dicom(patient: Client, draft: uuid.UUID, path: Path) -> str:
    response = await upload(patient, _api(draft), path.read_bytes(), path.name,
                            kind="radiograph", view="bitewing", teeth="3,30")
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _wait_status(db: AsyncSession, attachment_id: str, status: str) -> Attachment:
    with anyio.fail_after(20):
        while True:
            db.expire_all()
            row = await db.get(Attachment, uuid.UUID(attachment_id))
            if row is not None and row.status == status:
                return row
            await anyio.sleep(0.05)


async def _events(db: AsyncSession, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(await db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def test_matching_tags_are_ready_as_before(
    patient: Client, draft: uuid.UUID, db: AsyncSession, tmp_path: Path
):
    path = write_dicom(tmp_path / "mine.dcm", name="DEMO^PAT", birth_date="19880412",
                       patient_id="CHART-77")  # the patient has no chart id: unknown
    attachment_id = await _upload_dicom(patient, draft, path)
    await wait_ready(patient, draft, [attachment_id])
    [row] = await attachments(db, draft)
    assert row.status == "ready" and row.dicom_identity is None
    assert await _events(db, "attachment.identity_held") == []
    async with signed_in(patient, "dentist@demo.test") as dentist:  # the viewer's caption
        page = await dentist.get(f"/review/cases/{draft}")
        assert page.status_code == 200
        assert ('data-viewer-caption="Pat Demo · born 1988-04-12 · captured 2026-11-20 00:00'
                ' · ') in page.text
        assert "· teeth 3, 30\"" in page.text and "Identity does not match" not in page.text


async def test_another_patients_dicom_is_held_and_staff_see_both_identities(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession, tmp_path: Path
):
    path = write_dicom(tmp_path / "theirs.dcm", name="Other^Olivia", birth_date="20100101",
                       sex="F")
    attachment_id = await _upload_dicom(patient, draft, path)
    row = await _wait_status(db, attachment_id, "identity_mismatch")  # after the derivation
    assert row.display_key and row.dicom_identity == {
        "name": "Other^Olivia", "birth_date": "2010-01-01", "sex": "F", "patient_id": None,
        "mismatched": ["name", "birth_date"],
    }
    assert "Other" not in row.original_key and "Olivia" not in str(row.provenance)
    [held] = await _events(db, "attachment.identity_held")
    assert held.details["mismatched"] == ["name", "birth_date"]
    assert "Olivia" not in str(held.details)  # field names in the audit trail, never values

    # The patient sees "held for a check" and nothing of the file; the API says so.
    case = (await patient.get(f"/api/v1/cases/{draft}")).json()
    assert [a["status"] for a in case["attachments"]] == ["identity_mismatch"]
    page = await patient.get(f"/patient/cases/{draft}")
    assert "Held for a check" in page.text and "Olivia" not in page.text
    for variant in ("display", "thumbnail", "original"):
        response = await patient.get(f"{_api(draft)}/{attachment_id}/{variant}")
        assert response.status_code == 409 and response.json()["code"] == "identity_held"
    # ... and may not decide.
    response = await patient.post(f"{_api(draft)}/{attachment_id}/identity",
                                  json={"decision": "confirm"}, headers=await headers(patient))
    assert response.status_code == 403

    # The reviewing dentist: the panel with both identities, no normal image.
    async with signed_in(patient, "dentist@demo.test") as dentist:
        page = await dentist.get(f"/review/cases/{draft}")
        assert page.status_code == 200, page.text
        assert "Identity does not match" in page.text
        assert "Pat Demo" in page.text and "1988-04-12" in page.text
        assert "Other Olivia" in page.text and "2010-01-01" in page.text
        assert f"{attachment_id}/thumbnail" not in page.text


async def test_confirm_makes_the_file_ready_and_is_audited(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession, tmp_path: Path
):
    path = write_dicom(tmp_path / "theirs.dcm", name="Other^Olivia", birth_date="19880412")
    attachment_id = await _upload_dicom(patient, draft, path)
    await _wait_status(db, attachment_id, "identity_mismatch")
    url = f"{_api(draft)}/{attachment_id}/identity"
    async with signed_in(patient, "hygienist@demo.test") as stranger:  # staff of the school only
        response = await stranger.post(url, json={"decision": "confirm"},
                                       headers=await headers(stranger))
        assert response.status_code == 404
    async with signed_in(patient, "admin@demo.test") as admin:
        response = await admin.post(url, json={"decision": "confirm"},
                                    headers=await headers(admin))
        assert response.status_code == 403
    async with signed_in(patient, "billing@demo.test") as desk:
        bad = await desk.post(url, json={"decision": "maybe"}, headers=await headers(desk))
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_decision"
        response = await desk.post(url, json={"decision": "confirm", "reason": "Maiden name"},
                                   headers=await headers(desk))
        assert response.status_code == 200, response.text
        assert response.json() == {"attachment_id": attachment_id, "decision": "confirm",
                                   "status": "ready"}
        again = await desk.post(url, json={"decision": "reject"}, headers=await headers(desk))
        assert again.status_code == 409 and again.json()["code"] == "not_held"
    [row] = await attachments(db, draft)
    assert row.status == "ready" and row.dicom_identity is None
    [event] = await _events(db, "attachment.identity_confirmed")
    assert event.details == {"case_id": str(draft), "mismatched": ["name"],
                             "reason": "Maiden name"}
    assert event.actor_role == "front_desk" and event.occurred_at is not None
    assert (await patient.get(f"{_api(draft)}/{attachment_id}/display")).status_code == 200


async def test_reject_removes_the_file_and_its_blobs(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession, tmp_path: Path
):
    path = write_dicom(tmp_path / "theirs.dcm", name="Other^Olivia", birth_date="20100101")
    attachment_id = await _upload_dicom(patient, draft, path)
    row = await _wait_status(db, attachment_id, "identity_mismatch")
    keys = [k for k in (row.original_key, row.display_key, row.thumbnail_key) if k]
    assert len(keys) == 3
    async with signed_in(patient, "dentist@demo.test") as dentist:
        page = await dentist.get(f"/review/cases/{draft}")
        response = await dentist.post(
            f"/cases/{draft}/attachments/{attachment_id}/identity",
            data={"_csrf_token": form_token(page.text), "decision": "reject",
                  "reason": "Another child's X-ray", "next": f"/review/cases/{draft}"},
            headers={"x-csrftoken": await csrf_token(dentist)}, follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == f"/review/cases/{draft}"
    assert await attachments(db, draft) == []
    for key in keys:
        try:
            await blob_store(app).read(key)
        except BlobNotFound:
            continue
        raise AssertionError(f"blob {key} still stored")
    [event] = await _events(db, "attachment.identity_rejected")
    assert event.details["reason"] == "Another child's X-ray"
    assert event.subject_id == attachment_id
