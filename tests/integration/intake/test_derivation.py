"""Views made after the answer: the derivation service, the worker's pick-up of rows a dead
process left ``processing``, two derivers racing, and ``toothline media derive-pending``.

The app here derives inline (no worker of its own races the tests); each test then turns an
uploaded attachment back into a ``processing`` row, as a process that died after its upload
answered would have left it.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner
from litestar import Litestar
from PIL import Image
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.cli import main
from portal.intake.worker import DerivationWorker
from portal.settings import Settings, get_settings
from reviewer.intake.derivation import derive_attachment, pending_attachment_ids
from storage.blobs import BlobStore, open_blob_store
from storage.database import create_engine, create_session_maker
from storage.media import MediaType, Views, derive_views
from storage.models import Attachment
from tests.integration.intake.conftest import (
    GOOD,
    Client,
    stored_keys,
    upload,
    wait_ready,
)
from tests.support.portal import csrf_token

PHOTO = (GOOD / "phone_postop_rotated_gps.jpg").read_bytes()


@pytest.fixture
def derive_inline() -> bool:
    return True


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on this test's event loop (the app's engine lives on the test client's)."""
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


async def _processing(
    patient: Client, draft: uuid.UUID, db: AsyncSession, *, age: timedelta = timedelta()
) -> uuid.UUID:
    """Upload the photo, then make its row look like one whose views were never made."""
    response = await upload(patient, f"/api/v1/cases/{draft}/attachments", PHOTO, "a.jpg")
    assert response.status_code == 201, response.text
    attachment_id = uuid.UUID(response.json()["id"])
    await db.execute(
        update(Attachment).where(Attachment.id == attachment_id).values(
            status="processing", display_key=None, thumbnail_key=None, display_sha256=None,
            created_at=datetime.now(UTC) - age,
        )
    )
    await db.commit()
    return attachment_id


async def _row(db: AsyncSession, attachment_id: uuid.UUID) -> Attachment | None:
    db.expire_all()
    return await db.scalar(select(Attachment).where(Attachment.id == attachment_id))


async def _displays(app: Litestar) -> int:
    return sum(1 for key in await stored_keys(app) if key.startswith("attachments/display/"))


async def test_derivation_makes_the_views_and_flips_the_row(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession, tmp_path: Path,
    sessions: async_sessionmaker[AsyncSession], store: BlobStore,
):
    attachment_id = await _processing(patient, draft, db)
    base = f"/api/v1/cases/{draft}/attachments/{attachment_id}"
    case = (await patient.get(f"/api/v1/cases/{draft}")).json()
    assert [a["status"] for a in case["attachments"]] == ["processing"]
    assert (await patient.get(f"{base}/thumbnail")).status_code == 202
    assert (await patient.get(f"{base}/original")).status_code == 200

    outcome = await derive_attachment(sessions, store, attachment_id, tmp_path / "work")

    assert outcome == "ready"
    row = await _row(db, attachment_id)
    assert row is not None and row.status == "ready"
    assert row.display_key and row.thumbnail_key and row.display_sha256
    stored = row.provenance["stored"]
    assert stored["display"]["sha256"] == row.display_sha256 and "original" in stored
    display = await patient.get(f"{base}/display")
    assert display.status_code == 200
    with Image.open(io.BytesIO(display.content)) as im:
        assert im.height > im.width  # the rotated phone photo, turned upright
    assert list((tmp_path / "work").iterdir()) == []  # the fetched original is gone again
    await wait_ready(patient, draft, [str(attachment_id)], timeout=1)
    assert await derive_attachment(sessions, store, attachment_id,
                                   tmp_path) == "gone"


async def test_two_derivers_one_wins_and_the_loser_leaves_no_blob(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession, tmp_path: Path,
    sessions: async_sessionmaker[AsyncSession], store: BlobStore,
):
    attachment_id = await _processing(patient, draft, db)
    before = await _displays(app)  # the inline views, now pointed at by no row
    outcomes = await asyncio.gather(
        *(derive_attachment(sessions, store, attachment_id, tmp_path / "work" / str(i))
          for i in range(2))
    )
    assert sorted(outcomes) in (["lost", "ready"], ["gone", "ready"])
    assert await _displays(app) == before + 1
    row = await _row(db, attachment_id)
    assert row is not None and row.status == "ready"
    assert row.display_key in await stored_keys(app)


async def test_a_row_removed_mid_derivation_keeps_no_views(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession, tmp_path: Path,
    sessions: async_sessionmaker[AsyncSession], store: BlobStore,
):
    attachment_id = await _processing(patient, draft, db)
    before = await _displays(app)

    async def remove_then_derive(path: Path, media_type: MediaType) -> Views:
        await db.execute(delete(Attachment).where(Attachment.id == attachment_id))
        await db.commit()
        return await anyio.to_thread.run_sync(derive_views, path, media_type)

    outcome = await derive_attachment(sessions, store, attachment_id, tmp_path / "work",
                                      remove_then_derive)
    assert outcome == "lost"
    assert await _displays(app) == before


async def test_the_worker_picks_up_rows_a_dead_process_left(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession, tmp_path: Path,
    sessions: async_sessionmaker[AsyncSession], store: BlobStore,
):
    stale = await _processing(patient, draft, db, age=timedelta(minutes=2))
    fresh = await _processing(patient, draft, db)
    assert await pending_attachment_ids(db, older_than=timedelta(minutes=1)) == [stale]
    assert set(await pending_attachment_ids(db)) == {stale, fresh}

    worker = DerivationWorker(sessions, store, tmp_path / "work")
    await worker.start()
    try:
        await wait_ready(patient, draft, [str(stale)], timeout=60)  # the sweep at start
        row = await _row(db, fresh)
        assert row is not None and row.status == "processing"  # maybe still uploading
        worker.submit(fresh)  # what the upload route does once its row is committed
        await wait_ready(patient, draft, [str(stale), str(fresh)], timeout=30)
    finally:
        await worker.stop()


async def test_cli_derive_pending(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession
):
    ids = [await _processing(patient, draft, db) for _ in range(2)]
    get_settings.cache_clear()  # the CLI reads the same TOOTHLINE_* variables as the app
    try:
        result = await anyio.to_thread.run_sync(
            CliRunner().invoke, main, ["media", "derive-pending"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "Derived 2" in result.output
    await wait_ready(patient, draft, [str(i) for i in ids], timeout=1)
    thumbnail = await patient.get(f"/api/v1/cases/{draft}/attachments/{ids[0]}/thumbnail")
    assert thumbnail.status_code == 200 and thumbnail.content[:2] == b"\xff\xd8"


async def test_the_case_page_shows_a_placeholder_that_waits_for_the_thumbnail(
    patient: Client, draft: uuid.UUID, db: AsyncSession, tmp_path: Path,
    sessions: async_sessionmaker[AsyncSession], store: BlobStore,
):
    attachment_id = await _processing(patient, draft, db)
    thumbnail = f"/api/v1/cases/{draft}/attachments/{attachment_id}/thumbnail"
    page = (await patient.get(f"/patient/cases/{draft}")).text
    assert "Preparing…" in page and f'src="{thumbnail}"' not in page
    # one way of waiting: the widget's script polls the thumbnail (202 until it exists); the
    # page itself is not polled (each reload would be a case view)
    assert f'data-thumbnail-wait="{thumbnail}"' in page
    assert f'hx-get="/patient/cases/{draft}"' not in page and "load delay" not in page

    assert (await patient.get(thumbnail)).status_code == 202  # what the script polls

    await derive_attachment(sessions, store, attachment_id, tmp_path)
    assert (await patient.get(thumbnail)).status_code == 200
    page = (await patient.get(f"/patient/cases/{draft}")).text
    assert f'src="{thumbnail}"' in page and "Preparing" not in page
    assert "data-thumbnail-wait" not in page and 'aria-busy="true"' not in page


async def test_submitting_finishes_the_views_first(
    patient: Client, draft: uuid.UUID, db: AsyncSession
):
    attachment_id = await _processing(patient, draft, db)
    sent = await patient.post(f"/api/v1/cases/{draft}/submit",
                              headers={"x-csrftoken": await csrf_token(patient)})
    assert sent.status_code == 200, sent.text
    assert [a["status"] for a in sent.json()["attachments"]] == ["ready"]
    row = await _row(db, attachment_id)
    assert row is not None and row.status == "ready" and row.thumbnail_key


async def test_the_worker_waits_while_uploads_are_received_but_not_for_ever(
    patient: Client, draft: uuid.UUID, db: AsyncSession, tmp_path: Path,
    sessions: async_sessionmaker[AsyncSession], store: BlobStore,
):
    """An upload burst is answered first; its views follow once the process is quiet, and a
    steady stream of uploads holds them back no longer than ``max_defer_s``."""
    first = await _processing(patient, draft, db)
    second = await _processing(patient, draft, db)
    worker = DerivationWorker(sessions, store, tmp_path / "work", quiet_s=0.3, max_defer_s=3)
    await worker.start()
    try:
        with worker.receiving():
            worker.submit(first)
            with anyio.fail_after(10):
                await worker.holding.wait()  # taken from the queue, and held
            row = await _row(db, first)
            assert row is not None and row.status == "processing"  # held while receiving
        await wait_ready(patient, draft, [str(first)], timeout=30)  # made once quiet

        with worker.receiving():  # an upload that never ends
            worker.submit(second)
            await wait_ready(patient, draft, [str(first), str(second)], timeout=30)
    finally:
        await worker.stop()
