"""Job engine fixtures: a queue per test (tests/support/jobs.py) and the shared seeding."""

from __future__ import annotations

from tests.support import jobs as job_fixtures
from tests.support import services as shared_fixtures

app_db = shared_fixtures.app_db
queue_name = job_fixtures.queue_name
