"""The billing tests' signed cases (tests/integration/billing/conftest.py), for the FHIR
routes."""

from __future__ import annotations

from tests.support import services as shared_fixtures

app_db = shared_fixtures.app_db
blobs = shared_fixtures.blobs
demo_db = shared_fixtures.demo_db
