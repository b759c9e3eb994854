"""Readable pages (issue 16): stored values shown as labels, times in the organization's zone
with its abbreviation, and a patient's own records page without staff actions."""

from __future__ import annotations

import re

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Organization
from tests.integration.billing.conftest import Seeded, seed_post_op
from tests.support.portal import sign_in
from tests.support.services import app_db

__all__ = ["app_db"]



@pytest.fixture
async def post_op(client: AsyncTestClient[Litestar], app_db: AsyncSession) -> Seeded:
    """The billing tests' signed post-op case, its clinic moved to New York (not the
    default zone, so a page that ignores the organization's zone shows)."""
    seeded = await seed_post_op(app_db, client.app.state.blobs)
    clinic = await app_db.get(Organization, seeded.organization_id)
    assert clinic is not None
    clinic.time_zone = "America/New_York"
    await app_db.commit()
    return seeded


def _text(html: str) -> str:
    """What a reader sees: the page without its tags (attribute values left out)."""
    return re.sub(r"<[^>]+>", " ", html)


async def _page(client: AsyncTestClient[Litestar], email: str, url: str) -> str:
    """The HTML of ``url`` as ``email`` sees it (a 200 asserted)."""
    await sign_in(client, email)
    page = await client.get(url)
    assert page.status_code == 200, page.text
    return page.text


async def test_worklist_shows_labels_and_the_organizations_local_time(
    client: AsyncTestClient[Litestar], post_op: Seeded
):
    text = _text(await _page(client, "billing@demo.test", "/billing?status=all"))
    assert "2026-11-21 12:30 EST" in text  # signed 17:30 UTC
    assert "UTC" not in text
    assert "Proposed" in text and "Nothing to bill" in text  # a row's status, the filter
    assert "nothing_to_bill" not in text and "nothing to bill" not in text


async def test_encounter_page_labels_and_local_package_time(
    client: AsyncTestClient[Litestar], post_op: Seeded
):
    html = await _page(client, "billing@demo.test", f"/billing/cases/{post_op.case_id}")
    text = _text(html)
    assert re.search(r'id="billing-status">Proposed<', html)
    assert "Dentist, NPI" in text  # the provider's role as a label
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T", text)  # the package version's time
    assert "UTC" not in text


async def test_review_page_shows_labels_not_stored_values(
    client: AsyncTestClient[Litestar], post_op: Seeded
):
    text = _text(await _page(client, "dentist@demo.test", f"/review/cases/{post_op.case_id}"))
    assert "Post-operative check" in text
    assert "Reviewed" in text  # the case status
    assert "Home, CA" in text  # the originating site
    for raw in ("post_op", "in_review", "healing_normal"):
        assert raw not in text, raw


async def test_a_patients_records_page_has_no_staff_actions(
    client: AsyncTestClient[Litestar], post_op: Seeded
):
    html = await _page(client, "patient@demo.test", "/patient/records")
    assert "Copies of my records" in html
    for staff in ('href="/records', 'action="/records', "/verify", "/refuse", "/billing"):
        assert staff not in html, staff
    # the staff pages of the same records stay closed to the patient
    assert (await client.get("/records")).status_code == 403
    assert (await client.get(f"/patients/{post_op.patient_id}")).status_code == 403
