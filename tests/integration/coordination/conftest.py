from __future__ import annotations

from tests.support.services import blobs, demo_db  # noqa: F401 (fixtures for this folder's tests)
