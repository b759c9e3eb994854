"""Folders and files of patient data are created owner-only."""

from __future__ import annotations

import stat
from pathlib import Path

from storage.database import create_engine
from storage.private import private_dir, private_file


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_missing_folders_are_made_0700_and_existing_ones_kept(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    private_dir(tmp_path / "a" / "b")
    assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700
    assert _mode(tmp_path) == 0o755


def test_a_new_file_is_0600(tmp_path: Path) -> None:
    path = private_file(tmp_path / "var" / "x.db")
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700


async def test_the_sqlite_database_is_created_0600(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/var/toothline.db")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    finally:
        await engine.dispose()
    assert _mode(tmp_path / "var" / "toothline.db") == 0o600
    assert _mode(tmp_path / "var") == 0o700
