"""The billing tests' signed cases (tests/integration/billing/conftest.py), for the FHIR
routes."""

from __future__ import annotations

from tests.support import services as shared_fixtures

app_db = shared_fixtures.app_db
blobs = shared_fixtures.blobs
demo_db = shared_fixtures.demo_db

from tests.support.orthanc import orthanc as orthanc_server_fixture  # noqa: E402

orthanc = orthanc_server_fixture
"""Debian's Orthanc with DICOMweb, one per test module (tests/support/orthanc.py)."""
