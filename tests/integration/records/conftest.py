from __future__ import annotations

from tests.support.services import app_db, blobs, demo_db  # noqa: F401 (fixtures, by name)
