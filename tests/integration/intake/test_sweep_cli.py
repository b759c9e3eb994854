"""``toothline blobs sweep`` on the embedded default (SQLite file, blob folder)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from portal.cli import main
from portal.settings import get_settings
from storage.blobs import open_blob_store


def test_blobs_sweep_removes_old_orphans_only(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path: Path
):
    blobs = tmp_path / "blobs"
    monkeypatch.setenv("TOOTHLINE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("TOOTHLINE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("TOOTHLINE_BLOB_URL", f"file://{blobs}")
    get_settings.cache_clear()

    async def put(key: str) -> None:
        store = open_blob_store(f"file://{blobs}")
        try:
            await store.put(key, b"orphan")
        finally:
            await store.aclose()

    asyncio.run(put("attachments/original/0123456789abcdef0123456789abcdef"))
    asyncio.run(put("attachments/display/fedcba9876543210fedcba9876543210"))
    old = time.time() - 2 * 3600
    stored = [p for p in blobs.rglob("*") if p.is_file()]
    assert len(stored) == 2
    os.utime(stored[0], (old, old))

    try:
        dry = CliRunner().invoke(main, ["blobs", "sweep", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert "would remove 1" in dry.output
        assert all(p.exists() for p in stored)

        result = CliRunner().invoke(main, ["blobs", "sweep"])
        assert result.exit_code == 0, result.output
        assert "removed 1" in result.output and "1 younger" in result.output
        assert not stored[0].exists() and stored[1].exists()
    finally:
        get_settings.cache_clear()
