"""The blob sweep on the file and the memory store: every registered prefix is swept
against its columns, young orphans and audit checkpoints are kept."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit_checkpoint import PREFIX as CHECKPOINTS
from storage.blobs import BlobStore, FileBlobStore, MemoryBlobStore, new_blob_key
from storage.blobs.sweep import sweep_orphan_blobs
from storage.models import ClaimPackage, Organization

LATER = dt.timedelta(hours=2)


@pytest.fixture(params=["file", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    blobs: BlobStore = (
        FileBlobStore(tmp_path / "blobs", fsync=False) if request.param == "file"
        else MemoryBlobStore()
    )
    yield blobs
    await blobs.aclose()


async def _package(db: AsyncSession, pdf_key: str, zip_key: str) -> None:
    org = Organization(name="Sweep Dental", time_zone="America/Los_Angeles", state="CA")
    db.add(org)
    await db.flush()
    db.add(ClaimPackage(
        organization_id=org.id, encounter_type="asynchronous", version=1,
        attachment_control_number="TL00V01", pdf_key=pdf_key, pdf_sha256="0" * 64,
        zip_key=zip_key, zip_sha256="0" * 64, zip_size=1, lines=[],
    ))
    await db.commit()


async def test_orphan_package_blobs_go_referenced_young_and_checkpoints_stay(
    db: AsyncSession, store: BlobStore
) -> None:
    kept_pdf, kept_zip = (new_blob_key("claim-packages/record"),
                          new_blob_key("claim-packages/zip"))
    orphan_pdf = new_blob_key("claim-packages/record")
    orphan_records = new_blob_key("records/packages")
    orphan_document = new_blob_key("records/documents")
    orphan_attachment = new_blob_key("attachments/original")
    checkpoint = f"{CHECKPOINTS}20261203t070000.000000z-abc.json"
    for key in (kept_pdf, kept_zip, orphan_pdf, orphan_records, orphan_document,
                orphan_attachment, checkpoint):
        await store.put(key, b"data")
    await _package(db, kept_pdf, kept_zip)

    # Everything is younger than the grace period now: nothing goes.
    young = await sweep_orphan_blobs(db, store)
    assert young.removed == 0 and young.too_recent == 6  # the checkpoint is not even listed

    later = dt.datetime.now(dt.UTC) + LATER
    dry = await sweep_orphan_blobs(db, store, now=later, dry_run=True)
    assert (dry.removed, dry.kept) == (4, 2)
    result = await sweep_orphan_blobs(db, store, now=later, collect_keys=True)
    assert sorted(result.removed_keys or []) == sorted(
        [orphan_pdf, orphan_records, orphan_document, orphan_attachment]
    )
    assert result.kept == 2
    remaining = {stat.key async for stat in store.list("")}
    assert remaining == {kept_pdf, kept_zip, checkpoint}


async def test_an_orphan_younger_than_the_grace_period_is_kept(
    db: AsyncSession, store: BlobStore
) -> None:
    young = new_blob_key("claim-packages/zip")
    await store.put(young, b"young")
    written = (await store.stat(young)).modified_at
    grace = dt.timedelta(hours=1)
    # A minute short of the grace period after its write: kept, however orphaned.
    kept = await sweep_orphan_blobs(db, store, now=written + grace - dt.timedelta(minutes=1),
                                    min_age=grace)
    assert (kept.removed, kept.too_recent) == (0, 1)
    assert (await store.stat(young)).size == 5
    # Once the grace period has passed, it goes.
    gone = await sweep_orphan_blobs(db, store, now=written + grace, min_age=grace)
    assert gone.removed == 1
    assert [s.key async for s in store.list("claim-packages/")] == []


async def test_the_checkpoint_prefix_can_never_be_swept(db: AsyncSession) -> None:
    blobs = MemoryBlobStore()
    await blobs.put(f"{CHECKPOINTS}x.json", b"{}")
    with pytest.raises(ValueError, match="never swept"):
        await sweep_orphan_blobs(db, blobs, prefixes={CHECKPOINTS: ()},
                                 now=dt.datetime.now(dt.UTC) + LATER)
    assert [s.key async for s in blobs.list("")] == [f"{CHECKPOINTS}x.json"]
    await blobs.aclose()
