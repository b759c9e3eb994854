"""A resumable upload on the S3 blob store (moto): PATCH bodies smaller than S3's 5 MiB part,
one cut mid-way, become one attachment whose received bytes are the file's."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from litestar import Litestar
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.intake.uploads import append_upload
from storage.blobs.parts import PartialAppend
from tests.integration.intake.conftest import PATIENT, Client, attachments, blob_store
from tests.integration.intake.test_tus_uploads import create, offset_of, send
from tests.support.intake import uploader
from tests.support.portal import make_settings
from tests.support.s3server import S3Server

pytestmark = pytest.mark.s3
MiB = 1 << 20


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path,
             s3_server: S3Server):
    return make_settings(monkeypatch, database_url, tmp_path,
                         BLOB_URL=s3_server.url(S3Server.new_bucket_name("tus")))


def noise_png() -> bytes:
    """About 6.5 MB: more than one S3 part. Gray noise does not compress."""
    pixels = np.random.default_rng(19).integers(0, 256, (2560, 2560), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=1)
    return out.getvalue()


async def test_small_patches_and_a_cut_become_one_attachment_on_s3(
    app: Litestar, patient: Client, draft: uuid.UUID, db: AsyncSession, database_url: str
):
    if "postgres" in database_url:
        pytest.skip("the S3 path is the same on both databases; SQLite keeps it short")
    data = noise_png()
    assert len(data) > 5 * MiB
    url = (await create(patient, draft, len(data), kind="radiograph", view="other")).headers[
        "location"]
    assert (await send(patient, url, 0, data[:2 * MiB])).status_code == 204

    async def cut_body() -> AsyncIterator[bytes]:
        yield data[2 * MiB:4 * MiB]
        yield data[4 * MiB:5 * MiB + 12345]
        raise ConnectionResetError("gone")

    who = await uploader(db, PATIENT)
    with pytest.raises(PartialAppend):
        await append_upload(db, blob_store(app), who, url.rsplit("/", 1)[1], 2 * MiB,
                            cut_body())
    offset = await offset_of(patient, url)
    assert offset == 5 * MiB + 12345

    done = await send(patient, url, offset, data[offset:])
    assert done.status_code == 204, done.text
    (stored,) = await attachments(db, draft)
    assert stored.received_sha256 == hashlib.sha256(data).hexdigest()
    assert [s.key async for s in blob_store(app).list("uploads/")] == []
