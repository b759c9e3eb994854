"""A signed evaluation and its documents survive a restart byte for byte: a real portal
process (SQLite file + blob folder), the whole journey through the JSON API with bearer
tokens, then the same downloads after the process is stopped and started again."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.resilience.api import (
    DRAFT,
    api_token,
    direct_client,
    open_draft_case,
    upload_photo,
)
from tests.support.live import running_portal

pytestmark = [pytest.mark.slow]

DOCUMENTS = ("documentation.pdf", "claim-attachment.zip")


def _evaluation_rows(var_dir: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(var_dir / "toothline.db") as db:
        return list(db.execute("SELECT * FROM evaluation ORDER BY id"))


def _download(client: Any, path: str, timeout_s: float = 60.0) -> Any:
    """GET a document as a client should: while the package is being built (202, after
    signing) ask again after ``Retry-After``, for a bounded time."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get(path)
        if response.status_code != 202 or time.monotonic() > deadline:
            return response
        time.sleep(min(float(response.headers.get("retry-after", "1")), 1.0))


def test_a_signed_evaluation_and_its_documents_survive_a_restart(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    with running_portal(var_dir) as server:
        password = server.password
        patient = api_token(server.url, "patient@demo.test", password)
        dentist = api_token(server.url, "dentist@demo.test", password)
        billing = api_token(server.url, "billing@demo.test", password)
        with direct_client(server.url, patient) as client:
            case_id = open_draft_case(client)
            photo = upload_photo(client, case_id)
            assert photo.status_code == 201, photo.text
            submitted = client.post(f"/api/v1/cases/{case_id}/submit")
            assert submitted.status_code == 200, submitted.text
        with direct_client(server.url, dentist) as client:
            claimed = client.post("/api/v1/queue/claim")
            assert claimed.status_code == 200, claimed.text
            assert claimed.json()["id"] == str(case_id)
            saved = client.put(f"/api/v1/cases/{case_id}/evaluation", json=DRAFT)
            assert saved.status_code == 200, saved.text
            assert saved.json()["problems"] == []
            # the dentist opens the photo (its original), as signing needs every image opened
            opened = client.get(f"/api/v1/cases/{case_id}/attachments/{photo.json()['id']}"
                                "/original")
            assert opened.status_code == 200
            signed = client.post(f"/api/v1/cases/{case_id}/evaluation/sign",
                                 json={"password": password, "attest": True})
            assert signed.status_code == 200, signed.text
            case_before = client.get(f"/api/v1/cases/{case_id}").json()
        assert case_before["evaluation"]["advice"] == DRAFT["advice"]
        with direct_client(server.url, billing) as client:
            before = {}
            for name in DOCUMENTS:
                response = _download(client, f"/api/v1/cases/{case_id}/{name}")
                assert response.status_code == 200, response.text
                assert response.content
                before[name] = response.content
        rows_before = _evaluation_rows(var_dir)
        assert len(rows_before) == 1
    assert before["documentation.pdf"].startswith(b"%PDF")
    assert before["claim-attachment.zip"].startswith(b"PK")

    with running_portal(var_dir) as server:  # the same var dir: same database, same blobs
        with direct_client(server.url) as client:
            assert client.get("/readyz").status_code == 200
        with direct_client(server.url, billing) as client:
            for name in DOCUMENTS:
                response = client.get(f"/api/v1/cases/{case_id}/{name}")
                assert response.status_code == 200, response.text
                assert hashlib.sha256(response.content).hexdigest() == \
                    hashlib.sha256(before[name]).hexdigest(), f"{name} changed"
        with direct_client(server.url, dentist) as client:
            assert client.get(f"/api/v1/cases/{case_id}").json() == case_before
        assert _evaluation_rows(var_dir) == rows_before
