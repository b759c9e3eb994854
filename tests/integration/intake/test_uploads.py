"""The upload route's own refusals and promises: limits, broken bodies, CSRF, idempotency,
removal, streaming the stored files back (audited, 202 until ready) and the orphan sweep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from litestar import Litestar
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.blobs.sweep import sweep_orphan_blobs
from storage.models import Attachment
from tests.integration.intake.conftest import (
    GOOD,
    HYGIENIST,
    Client,
    attachments,
    audit_actions,
    blob_store,
    headers,
    stored_keys,
    upload,
    wait_ready,
)
from tests.support.portal import make_settings, sign_in
from tests.support.views import view_actions

PHOTO = (GOOD / "phone_postop_upright.jpg").read_bytes()
SMALL = (GOOD / "xray_8bit.jpg").read_bytes()  # 160 kB


def _api(case_id: uuid.UUID) -> str:
    return f"/api/v1/cases/{case_id}/attachments"


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path):
    """Small limits, so the limit tests need no big files."""
    return make_settings(
        monkeypatch, database_url, tmp_path, MAX_UPLOAD_BYTES=str(300 * 1024),
        MAX_FILES_PER_CASE="2",
    )


async def test_a_file_over_the_byte_limit_is_413(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession
):
    big = PHOTO + b"\0" * (400 * 1024)
    response = await upload(patient, _api(draft), big, "big.jpg")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert "MB" in response.json()["message"]
    assert await attachments(db, draft) == [] and await stored_keys(app) == []


async def test_the_file_limit_per_case_is_409(patient: Client, draft: uuid.UUID):
    for _ in range(2):
        assert (await upload(patient, _api(draft), SMALL, "a.jpg")).status_code == 201
    response = await upload(patient, _api(draft), SMALL, "a.jpg")
    assert response.status_code == 409
    assert response.json()["code"] == "too_many_files"


async def test_a_repeated_upload_key_stores_nothing_twice(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession
):
    first = await upload(patient, _api(draft), SMALL, "a.jpg", key="file-1")
    again = await upload(patient, _api(draft), SMALL, "a.jpg", key="file-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert len(await attachments(db, draft)) == 1
    await wait_ready(patient, draft, [first.json()["id"]])
    assert len(await stored_keys(app)) == 3


async def test_broken_multipart_bodies_answer_400_json(patient: Client, draft: uuid.UUID):
    token = await headers(patient)
    truncated = (b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
                 b"Content-Type: image/jpeg\r\n\r\n" + SMALL[:500])
    for body, content_type in (
        (truncated, "multipart/form-data; boundary=XyZ"),
        (b"garbage", "multipart/form-data; boundary=XyZ"),
        (b"--XyZ--\r\n", "multipart/form-data; boundary=XyZ"),
        (b"{}", "multipart/form-data"),
    ):
        response = await patient.post(
            _api(draft), content=body, headers={**token, "content-type": content_type}
        )
        assert response.status_code == 400, (body[:20], response.text)
        assert response.json()["code"] in {"malformed_upload", "file_required"}


async def test_json_instead_of_multipart_is_refused(patient: Client, draft: uuid.UUID):
    response = await patient.post(_api(draft), json={"file": "x"}, headers=await headers(patient))
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_upload"


async def test_multipart_without_the_csrf_header_is_refused(patient: Client, draft: uuid.UUID):
    response = await patient.post(
        _api(draft), files={"file": ("a.jpg", SMALL, "image/jpeg")},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 403


async def test_wrong_fields_answer_400(patient: Client, draft: uuid.UUID):
    for fields in ({"kind": "selfie"}, {"view": "ceiling"}, {"teeth": "8,99"}):
        response = await patient.post(
            _api(draft), data=fields, files={"file": ("a.jpg", SMALL, "image/jpeg")},
            headers=await headers(patient),
        )
        assert response.status_code == 400, (fields, response.text)


async def test_files_are_streamed_back_audited_each_time(
    client: Client, patient: Client, draft: uuid.UUID, db: AsyncSession
):
    created = (await upload(patient, _api(draft), SMALL, "a.jpg")).json()
    base = f"{_api(draft)}/{created['id']}"
    await wait_ready(patient, draft, [created["id"]])
    for variant, content_type in (("original", "image/jpeg"), ("display", "image/jpeg"),
                                  ("thumbnail", "image/jpeg")):
        response = await patient.get(f"{base}/{variant}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(content_type)
        assert response.headers["cache-control"] == "private, no-store"
        assert response.content[:2] == b"\xff\xd8"
    assert (await patient.get(f"{base}/raw")).status_code == 404
    assert await view_actions(db, created["id"]) == ["attachment.viewed"] * 3
    assert "attachment.viewed" not in await audit_actions(db)

    # another organization's hygienist cannot see it, and nothing is streamed
    await patient.post("/logout", headers=await headers(patient))
    await sign_in(client, HYGIENIST)
    assert (await client.get(f"{base}/display")).status_code == 404


async def test_a_derivative_not_made_yet_answers_202(
    patient: Client, draft: uuid.UUID, db: AsyncSession
):
    created = (await upload(patient, _api(draft), SMALL, "a.jpg")).json()
    await wait_ready(patient, draft, [created["id"]])  # then the worker leaves the row alone
    await db.execute(
        update(Attachment).where(Attachment.id == uuid.UUID(created["id"]))
        .values(status="processing", display_key=None)
    )
    await db.commit()
    for variant in ("display", "thumbnail"):
        response = await patient.get(f"{_api(draft)}/{created['id']}/{variant}")
        assert response.status_code == 202
        assert response.headers["retry-after"] == "1"
        assert response.json()["code"] == "not_ready"
    original = await patient.get(f"{_api(draft)}/{created['id']}/original")  # served at once
    assert original.status_code == 200 and original.content[:2] == b"\xff\xd8"


async def test_uploads_stop_once_the_case_is_submitted(patient: Client, draft: uuid.UUID):
    await patient.post(f"/api/v1/cases/{draft}/submit", headers=await headers(patient))
    response = await upload(patient, _api(draft), SMALL, "a.jpg")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


async def test_removing_a_file_leaves_its_blobs_to_the_sweep(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession
):
    keep = (await upload(patient, _api(draft), SMALL, "keep.jpg")).json()
    gone = (await upload(patient, _api(draft), SMALL, "gone.jpg")).json()
    await wait_ready(patient, draft, [keep["id"], gone["id"]])
    response = await patient.delete(f"{_api(draft)}/{gone['id']}", headers=await headers(patient))
    assert response.status_code == 204
    rows = await attachments(db, draft)
    assert [str(r.id) for r in rows] == [keep["id"]]
    assert len(await stored_keys(app)) == 6  # the removed row's blobs wait for the sweep

    store = blob_store(app)
    young = await sweep_orphan_blobs(db, store)
    assert young.removed == 0 and young.too_recent == 6
    later = datetime.now(UTC) + timedelta(hours=2)
    dry = await sweep_orphan_blobs(db, store, now=later, dry_run=True)
    assert (dry.removed, dry.kept) == (3, 3)
    assert len(await stored_keys(app)) == 6
    result = await sweep_orphan_blobs(db, store, now=later)
    assert (result.removed, result.kept) == (3, 3)
    row = rows[0]
    assert set(await stored_keys(app)) == {row.original_key, row.display_key, row.thumbnail_key}
    assert (await patient.get(f"{_api(draft)}/{keep['id']}/display")).status_code == 200


async def test_the_widget_answer_carries_thumbnail_and_delete_urls(
    patient: Client, draft: uuid.UUID, db: AsyncSession
):
    response = await upload(patient, f"/patient/cases/{draft}/attachments", SMALL, "a.jpg")
    assert response.status_code == 201
    body = response.json()
    assert body["thumbnail_url"].endswith(f"/attachments/{body['id']}/thumbnail")
    assert body["delete_url"] == f"/patient/cases/{draft}/attachments/{body['id']}"
    removed = await patient.delete(body["delete_url"], headers=await headers(patient))
    assert removed.status_code == 200
    assert await db.scalar(select(Attachment)) is None
