"""Resumable uploads (tus 1.0) at /api/v1/uploads: creation, offsets, a cut PATCH, the
refusals (409, 404, 410, 412, 413, 415), termination, and the end: a good file attached the
way the multipart route attaches it, a damaged one refused with nothing left."""

from __future__ import annotations

import base64
import hashlib
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from litestar import Litestar
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.intake.uploads import append_upload, sweep_expired_uploads, sweep_stray_parts
from storage.blobs.parts import PartialAppend, PartState
from storage.models import Upload
from tests.integration.intake.conftest import (
    BAD,
    GOOD,
    HYGIENIST,
    PATIENT,
    Client,
    attachments,
    audit_actions,
    blob_store,
    headers,
    wait_ready,
)
from tests.support.intake import uploader
from tests.support.portal import make_settings, sign_in

XRAY = (GOOD / "xray_8bit.jpg").read_bytes()
BASE = "/api/v1/uploads"
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path):
    return make_settings(monkeypatch, database_url, tmp_path, MAX_UPLOAD_BYTES=str(300 * 1024))


def metadata(**pairs: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


async def create(client: Client, case_id: uuid.UUID, length: int, **extra: str):
    meta = {"case_id": str(case_id), "filename": "xray.jpg", "kind": "radiograph",
            "view": "periapical", **extra}
    return await client.post(BASE, headers=await headers(
        client, **TUS, **{"Upload-Length": str(length), "Upload-Metadata": metadata(**meta)}))


async def send(client: Client, url: str, offset: int, body: bytes, **extra: str):
    fields = {"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream",
              **extra}
    return await client.patch(url, content=body, headers=await headers(client, **TUS, **fields))


async def offset_of(client: Client, url: str) -> int:
    response = await client.head(url, headers=TUS)
    assert response.status_code == 200, response.status_code
    assert response.headers["cache-control"] == "no-store"
    return int(response.headers["upload-offset"])


async def test_options_says_what_is_served(patient: Client):
    response = await patient.options(BASE)
    assert response.status_code == 204
    assert response.headers["tus-version"] == "1.0.0"
    assert response.headers["tus-extension"] == "creation,termination,expiration"
    assert response.headers["tus-max-size"] == str(300 * 1024)


async def test_an_upload_in_three_patches_is_attached(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession
):
    created = await create(patient, draft, len(XRAY), teeth="19")
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    assert url.startswith(f"{BASE}/") and len(url) > len(BASE) + 40  # an unguessable token
    assert "GMT" in created.headers["upload-expires"]
    assert await offset_of(patient, url) == 0

    cuts = [0, 1000, 50_000, len(XRAY)]
    for start, end in itertools.pairwise(cuts):
        response = await send(patient, url, start, XRAY[start:end])
        assert response.status_code == 204, response.text
        assert int(response.headers["upload-offset"]) == end

    attachment_id = response.headers["upload-attachment-id"]
    case = await wait_ready(patient, draft, [attachment_id])
    (row,) = case["attachments"]
    assert (row["kind"], row["view"]) == ("radiograph", "periapical")
    (stored,) = await attachments(db, draft)
    assert stored.received_sha256 == hashlib.sha256(XRAY).hexdigest()
    assert stored.received_size == len(XRAY)
    assert "upload.created" in await audit_actions(db)
    assert "attachment.added" in await audit_actions(db)
    assert [s.key async for s in blob_store(app).list("uploads/")] == []
    # a client that lost the last answer learns it from HEAD
    head = await patient.head(url, headers=TUS)
    assert head.headers["upload-offset"] == str(len(XRAY))
    assert head.headers["upload-attachment-id"] == attachment_id


async def test_a_cut_patch_keeps_what_arrived_and_resumes(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession
):
    """The service under the PATCH route, given a body that breaks after 40 kB (the test
    transport reads a body whole before the app sees it, so it cannot cut one mid-way; the
    browser test cuts a real connection)."""
    url = (await create(patient, draft, len(XRAY))).headers["location"]
    token = url.rsplit("/", 1)[1]

    async def cut_body() -> AsyncIterator[bytes]:
        yield XRAY[:40_000]
        raise ConnectionResetError("the network went away")

    who = await uploader(db, PATIENT)
    with pytest.raises(PartialAppend):
        await append_upload(db, blob_store(app), who, token, 0, cut_body())
    assert await offset_of(patient, url) == 40_000  # committed, seen by the next request

    stale = await send(patient, url, 0, XRAY)
    assert stale.status_code == 409
    done = await send(patient, url, 40_000, XRAY[40_000:])
    assert done.status_code == 204, done.text
    (stored,) = await attachments(db, draft)
    assert stored.received_sha256 == hashlib.sha256(XRAY).hexdigest()


async def send_stream(client: Client, url: str, offset: int, body: AsyncIterator[bytes]):
    return await client.patch(url, content=body, headers=await headers(
        client, **TUS, **{"Upload-Offset": str(offset),
                          "Content-Type": "application/offset+octet-stream"}))


async def test_protocol_refusals(patient: Client, draft: uuid.UUID):
    no_version = await patient.post(BASE, headers=await headers(
        patient, **{"Upload-Length": "10", "Upload-Metadata": metadata(case_id=str(draft))}))
    assert no_version.status_code == 412
    assert no_version.headers["tus-version"] == "1.0.0"

    too_big = await create(patient, draft, 301 * 1024)
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "too_large"

    no_case = await patient.post(BASE, headers=await headers(
        patient, **TUS, **{"Upload-Length": "10"}))
    assert no_case.status_code == 400

    url = (await create(patient, draft, len(XRAY))).headers["location"]
    wrong_type = await send(patient, url, 0, XRAY[:10], **{"Content-Type": "image/jpeg"})
    assert wrong_type.status_code == 415
    assert (await patient.head(url)).status_code == 412
    assert (await patient.head(f"{BASE}/not-a-real-upload", headers=TUS)).status_code == 404


async def test_a_bad_kind_or_view_is_refused_at_creation(patient: Client, draft: uuid.UUID):
    response = await create(patient, draft, 100, view="selfie")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_view"


async def test_no_csrf_token_no_upload(patient: Client, draft: uuid.UUID):
    response = await patient.post(BASE, headers={
        **TUS, "Upload-Length": "10", "Upload-Metadata": metadata(case_id=str(draft))})
    assert response.status_code == 403


async def test_another_user_sees_no_such_upload(
    patient: Client, draft: uuid.UUID, db: AsyncSession
):
    url = (await create(patient, draft, len(XRAY))).headers["location"]
    other = patient
    other.cookies.clear()
    await sign_in(other, HYGIENIST)  # same organization, another user who may submit
    assert (await other.head(url, headers=TUS)).status_code == 404
    assert (await send(other, url, 0, XRAY)).status_code == 404
    assert (await other.delete(url, headers=await headers(other, **TUS))).status_code == 404
    db.expire_all()
    (row,) = list(await db.scalars(select(Upload)))
    assert row.offset == 0


async def test_a_case_the_user_may_not_submit_to_is_404(
    patient: Client, db: AsyncSession
):
    response = await create(patient, uuid.uuid4(), 100)
    assert response.status_code == 404


async def test_termination_removes_the_upload_and_its_bytes(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession
):
    url = (await create(patient, draft, len(XRAY))).headers["location"]
    assert (await send(patient, url, 0, XRAY[:5000])).status_code == 204
    gone = await patient.delete(url, headers=await headers(patient, **TUS))
    assert gone.status_code == 204
    assert (await patient.head(url, headers=TUS)).status_code == 404
    db.expire_all()
    assert list(await db.scalars(select(Upload))) == []
    assert [p for p in (app.state.settings.var_dir).rglob("*.part")] == []


async def test_an_expired_upload_is_410_and_the_sweep_removes_it(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession
):
    url = (await create(patient, draft, len(XRAY))).headers["location"]
    assert (await send(patient, url, 0, XRAY[:5000])).status_code == 204
    await db.execute(update(Upload).values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    await db.commit()

    assert (await patient.head(url, headers=TUS)).status_code == 410
    assert (await send(patient, url, 5000, XRAY[5000:])).status_code == 410

    (row,) = list(await db.scalars(select(Upload)))
    state = PartState.from_json(row.part_state)
    assert await sweep_expired_uploads(db, blob_store(app)) == 1
    db.expire_all()
    assert list(await db.scalars(select(Upload))) == []
    assert not (Path(blob_store(app).root) / state.tail_key).exists()  # type: ignore[attr-defined]
    assert (await patient.head(url, headers=TUS)).status_code == 404


async def test_a_damaged_file_is_refused_at_completion_with_nothing_left(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession
):
    broken = (BAD / "truncated.jpg").read_bytes()
    url = (await create(patient, draft, len(broken), kind="photo", view="other")).headers[
        "location"]
    response = await send(patient, url, 0, broken)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "damaged"
    assert await attachments(db, draft) == []
    db.expire_all()
    assert list(await db.scalars(select(Upload))) == []
    assert [s.key async for s in blob_store(app).list()] == []
    assert (await patient.head(url, headers=TUS)).status_code == 404


async def test_stray_parts_no_row_knows_are_swept_and_live_ones_kept(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession
):
    live = (await create(patient, draft, len(XRAY))).headers["location"]
    stray = (await create(patient, draft, len(XRAY))).headers["location"]
    for url in (live, stray):
        assert (await send(patient, url, 0, XRAY[:5000])).status_code == 204
    rows = {row.token: row for row in await db.scalars(select(Upload))}
    stray_part = PartState.from_json(rows[stray.rsplit("/", 1)[1]].part_state).tail_key
    live_part = PartState.from_json(rows[live.rsplit("/", 1)[1]].part_state).tail_key
    await db.execute(delete(Upload).where(Upload.token == stray.rsplit("/", 1)[1]))
    await db.commit()  # as if the row was never committed

    store = blob_store(app)
    later = datetime.now(UTC) + timedelta(hours=2)
    assert await sweep_stray_parts(db, store, now=later, dry_run=True) == 1
    assert await sweep_stray_parts(db, store) == 0  # young: left alone
    assert await sweep_stray_parts(db, store, now=later) == 1
    keys = [s.key async for s in store.list("uploads/")]
    assert live_part in keys and stray_part not in keys
    assert await offset_of(patient, live) == 5000


async def test_a_finished_upload_whose_attachment_was_removed_is_not_resumed(
    patient: Client, draft: uuid.UUID
):
    url = (await create(patient, draft, len(XRAY))).headers["location"]
    done = await send(patient, url, 0, XRAY)
    attachment_id = done.headers["upload-attachment-id"]
    removed = await patient.delete(f"/api/v1/cases/{draft}/attachments/{attachment_id}",
                                   headers=await headers(patient))
    assert removed.status_code == 204
    again = await send(patient, url, len(XRAY), b"")
    assert again.status_code in (204, 410), again.text  # never a second attachment
    assert (await patient.head(url, headers=TUS)).status_code in (200, 410)
    case = (await patient.get(f"/api/v1/cases/{draft}")).json()
    assert case["attachments"] == []
