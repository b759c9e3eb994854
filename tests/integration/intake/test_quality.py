"""Photo quality scores stored with the views: made once when the views are made (inline or
by the derivation step), returned in the attachment JSON, photos only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.settings import Settings
from reviewer.intake.derivation import derive_attachment
from storage.blobs import BlobStore, open_blob_store
from storage.database import create_engine, create_session_maker
from storage.models import Attachment
from tests.integration.intake.conftest import Client, upload
from tests.support import quality_images


@pytest.fixture
def derive_inline() -> bool:
    return True


async def _upload(patient: Client, draft: uuid.UUID, data: bytes, kind: str = "photo") -> dict:
    response = await upload(patient, f"/api/v1/cases/{draft}/attachments", data, "p.jpg",
                            kind=kind)
    assert response.status_code == 201, response.text
    body: dict = response.json()
    return body


async def test_scores_are_returned_with_each_photo(patient: Client, draft: uuid.UUID) -> None:
    sharp = await _upload(patient, draft, quality_images.jpeg(quality_images.sharp()))
    blurred = await _upload(patient, draft, quality_images.jpeg(quality_images.blurred()))
    dark = await _upload(patient, draft, quality_images.jpeg(quality_images.underexposed()))
    assert sharp["quality"]["problems"] == []
    assert blurred["quality"]["problems"] == ["blurry"]
    assert dark["quality"]["problems"] == ["too_dark"]
    assert blurred["quality"]["sharpness"] < sharp["quality"]["sharpness"]
    assert sharp["quality"]["width"] == quality_images.SIZE[0]
    case = (await patient.get(f"/api/v1/cases/{draft}")).json()
    by_id = {a["id"]: a["quality"] for a in case["attachments"]}
    assert by_id[blurred["id"]]["problems"] == ["blurry"]


async def test_radiographs_get_no_photo_scores(patient: Client, draft: uuid.UUID) -> None:
    body = await _upload(patient, draft, quality_images.jpeg(quality_images.blurred()),
                         kind="radiograph")
    assert body["quality"] is None


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings.database.url)
    try:
        yield create_session_maker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[BlobStore]:
    blobs = open_blob_store(settings.blobs.url)
    try:
        yield blobs
    finally:
        await blobs.aclose()


async def test_derivation_step_stores_the_scores(
    patient: Client, draft: uuid.UUID, db: AsyncSession, tmp_path: Path,
    sessions: async_sessionmaker[AsyncSession], store: BlobStore,
) -> None:
    body = await _upload(patient, draft, quality_images.jpeg(quality_images.underexposed()))
    attachment_id = uuid.UUID(body["id"])
    await db.execute(update(Attachment).where(Attachment.id == attachment_id).values(
        status="processing", display_key=None, thumbnail_key=None, display_sha256=None,
        quality=None))
    await db.commit()

    assert await derive_attachment(sessions, store, attachment_id, tmp_path) == "ready"

    db.expire_all()
    row = await db.scalar(select(Attachment).where(Attachment.id == attachment_id))
    assert row is not None and row.quality is not None
    assert row.quality["problems"] == ["too_dark"]
    assert row.quality["mean_luminance"] < 50
