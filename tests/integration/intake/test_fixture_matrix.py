"""Every file in tests/fixtures/good is accepted and every one in bad/ refused, through the
page upload endpoint and the API, on the file and the S3 blob store.

The matrix: both routes x both blob stores on SQLite; the API route on PostgreSQL too (the
page route on PostgreSQL is deselected in conftest: same code path, a slower database).
Each test runs every fixture file through one app, so the matrix costs a few app start-ups.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime
from pathlib import Path

import pydicom
import pytest
from litestar import Litestar
from PIL import Image
from pillow_heif import register_heif_opener
from sqlalchemy.ext.asyncio import AsyncSession

from storage.blobs import BlobStore
from tests.integration.intake.conftest import (
    BAD,
    GOOD,
    Client,
    attachments,
    blob_store,
    stored_keys,
    upload,
    wait_ready,
)

register_heif_opener()

ROUTES = ["api", "page"]
BACKENDS = ["file", pytest.param("s3", marks=pytest.mark.s3)]

EXPECTED_REFUSALS = {
    "animated.gif": (415, "unsupported_type"),
    "bomb_40000x40000.png": (422, "too_many_pixels"),
    "empty.jpg": (422, "damaged"),
    "exe_named.png": (415, "unsupported_type"),
    "html_named.png": (415, "unsupported_type"),
    "huge_dimensions.jpg": (422, "too_many_pixels"),
    "pdf_named.jpg": (415, "unsupported_type"),
    "script.svg": (415, "unsupported_type"),
    "truncated.jpg": (422, "damaged"),
    "zip_named.jpg": (415, "unsupported_type"),
}
CAPTURED = {
    "phone_postop_rotated_gps.jpg": datetime(2026, 11, 20, 8, 15, 2),
    "phone_postop_upright.jpg": datetime(2026, 11, 20, 8, 15, 2),
    "phone_postop.heic": datetime(2026, 11, 20, 8, 15, 2),
    "xray_intraoral.dcm": datetime(2026, 11, 20, 0, 0, 0),
}
RADIOGRAPHS = {"xray_8bit.jpg", "xray_bitewing_16bit.png", "xray_intraoral.dcm",
               "xray_periapical_16bit.tif"}
# Bytes that must never reach a stored blob: camera identifiers and the DICOM patient name.
FORBIDDEN = (b"SyntheticPhone", b"Model X", b"Testpatient")
GPS_IFD = 0x8825


def _url(route: str, case_id: uuid.UUID) -> str:
    prefix = "/api/v1" if route == "api" else "/patient"
    return f"{prefix}/cases/{case_id}/attachments"


def test_the_fixture_lists_are_the_ones_this_test_knows():
    assert {p.name for p in BAD.iterdir()} == set(EXPECTED_REFUSALS)
    assert len(list(GOOD.iterdir())) == 10


async def _check_no_location_or_identity(store: BlobStore, key: str, name: str) -> bytes:
    data = await store.read(key)
    for forbidden in FORBIDDEN:
        assert forbidden not in data, f"{name}: {key} still holds {forbidden!r}"
    if data[128:132] == b"DICM":
        ds = pydicom.dcmread(io.BytesIO(data))
        assert not str(ds.get("PatientName", "")), f"{name}: DICOM patient name kept"
        return data
    with Image.open(io.BytesIO(data)) as im:
        exif = im.getexif()
        assert GPS_IFD not in exif and not exif.get_ifd(GPS_IFD), f"{name}: GPS kept in {key}"
    return data


def _upright(display: bytes) -> None:
    """The fixture's blue marker is top-left once the EXIF orientation is applied."""
    with Image.open(io.BytesIO(display)) as im:
        rgb = im.convert("RGB")
        width, height = rgb.size
        assert height > width, "the rotated phone photo displays in portrait"
        r, g, b = rgb.getpixel((width // 40, height // 40))  # type: ignore[misc]
        assert b > 150 and r < 100, f"top-left is not the blue marker: {(r, g, b)}"
        r, g, b = rgb.getpixel((width - 1 - width // 40, height // 40))  # type: ignore[misc]
        assert not (b > 150 and r < 100), "the marker is in the top-right: not upright"


@pytest.mark.parametrize("blob_backend", BACKENDS)
@pytest.mark.parametrize("route", ROUTES)
async def test_fixture_good_files_are_accepted_and_cleaned(
    route: str, blob_backend: str, app: Litestar, patient: Client, draft: uuid.UUID,
    db: AsyncSession,
):
    store = blob_store(app)
    answered: dict[str, str] = {}
    for path in sorted(GOOD.iterdir()):
        kind = "radiograph" if path.name in RADIOGRAPHS else "photo"
        view = "periapical" if kind == "radiograph" else "anterior"  # each kind's own views
        response = await upload(patient, _url(route, draft), path.read_bytes(), path.name,
                                kind=kind, view=view, teeth="8,9")
        assert response.status_code == 201, f"{path.name}: {response.text}"
        body = response.json()
        assert body["kind"] == kind and body["teeth"] == ["8", "9"]
        answered[body["id"]] = path.name
        assert body["status"] == "processing"  # views are made by the background worker

    # The fixture DICOM names a synthetic patient, not the demo patient: held (issue 17).
    await wait_ready(patient, draft, answered, timeout=60, done=("ready", "identity_mismatch"))
    rows = {str(row.id): row for row in await attachments(db, draft)}
    assert set(rows) == set(answered)
    for attachment_id, name in answered.items():
        row = rows[attachment_id]
        assert row.status == ("identity_mismatch" if name == "xray_intraoral.dcm" else "ready")
        assert row.captured_at == CAPTURED.get(name), name
        assert row.received_sha256 and row.original_sha256 and row.display_sha256
        assert row.provenance["received"]["sha256"] == row.received_sha256
        for key in (row.original_key, row.display_key, row.thumbnail_key):
            assert key is not None and key.startswith("attachments/")
            assert Path(name).stem not in key  # random keys, nothing from the file name
            await _check_no_location_or_identity(store, key, name)
        assert row.display_key and row.thumbnail_key
        display = await store.read(row.display_key)
        with Image.open(io.BytesIO(display)) as im:
            assert im.format == "JPEG" and "exif" not in im.info and max(im.size) <= 2048
        with Image.open(io.BytesIO(await store.read(row.thumbnail_key))) as im:
            assert im.format == "JPEG" and "exif" not in im.info and max(im.size) <= 320
        if name == "phone_postop_rotated_gps.jpg":
            assert "GPS position" in row.provenance["removed"]
            _upright(display)
        if name == "xray_intraoral.dcm":
            assert "DICOM patient tags" in row.provenance["removed"]
    assert len(await stored_keys(app)) == 3 * len(answered)


@pytest.mark.parametrize("blob_backend", BACKENDS)
@pytest.mark.parametrize("route", ROUTES)
async def test_fixture_bad_files_are_refused_and_leave_nothing(
    route: str, blob_backend: str, app: Litestar, patient: Client, draft: uuid.UUID,
    db: AsyncSession, settings,
):
    for path in sorted(BAD.iterdir()):
        response = await upload(patient, _url(route, draft), path.read_bytes(), path.name)
        status, code = EXPECTED_REFUSALS[path.name]
        assert (response.status_code, response.json()["code"]) == (status, code), path.name
        message = response.json()["message"]
        assert message and "Traceback" not in message and "PIL" not in message
    assert await attachments(db, draft) == []
    assert await stored_keys(app) == []
    leftovers = list((settings.var_dir / "tmp").glob("*/*"))
    assert leftovers == [], "temporary upload files were left behind"
