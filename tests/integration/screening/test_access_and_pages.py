"""Who may reach the screening routes (403 by role, 404 outside the organization, CSRF), and
the tablet pages: full page, htmx fragments, the roster form."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Organization
from tests.integration.screening.conftest import (
    ADMIN,
    COORDINATOR,
    DENTIST,
    FRONT_DESK,
    HYGIENIST,
    PATIENT,
    ROSTER_BAD,
    ROSTER_GOOD,
    Client,
    children,
    create_event,
    headers,
    import_roster,
)
from tests.support.portal import sign_in


@pytest.mark.parametrize("email", [DENTIST, PATIENT, ADMIN])
async def test_other_roles_are_refused(
    client: Client, event_id: str, email: str
) -> None:
    await client.post("/logout", headers=await headers(client))
    client.cookies.clear()
    await sign_in(client, email)
    assert (await client.get(f"/api/v1/screening-events/{event_id}")).status_code == 403
    assert (await create_event(client)).status_code == 403
    assert (await import_roster(client, event_id, ROSTER_GOOD.read_bytes())).status_code == 403
    assert (await client.get(f"/api/v1/screening-events/{event_id}/report")).status_code == 403
    assert (await client.get(f"/screening/events/{event_id}")).status_code == 403


async def test_anonymous_and_csrf(client: Client, event_id: str) -> None:
    event = f"/api/v1/screening-events/{event_id}"
    roster = {"file": ("r.csv", ROSTER_GOOD.read_bytes(), "text/csv")}
    assert (await client.post(f"{event}/roster", files=roster)).status_code == 403  # no token
    client.cookies.clear()
    assert (await client.get(event)).status_code == 401


async def test_coordinator_reads_and_reports_front_desk_registers(
    client: Client, db: AsyncSession
) -> None:
    await sign_in(client, FRONT_DESK)
    created = await create_event(client)
    assert created.status_code == 201, created.text  # the one school program of the two orgs
    event_id = created.json()["id"]
    assert (await import_roster(client, event_id, ROSTER_BAD.read_bytes())).status_code == 200
    kid = (await children(client, event_id))["S-2001"]
    marked = await client.post(
        f"/api/v1/screening-events/{event_id}/children/{kid['enrollment_id']}/not-screened",
        json={"reason": "absent"}, headers=await headers(client))
    assert marked.status_code == 403  # screening is the hygienist's
    assert (await client.get(f"/api/v1/screening-events/{event_id}/report")).status_code == 200

    client.cookies.clear()
    await sign_in(client, COORDINATOR)
    assert (await client.get(f"/api/v1/screening-events/{event_id}")).status_code == 200
    assert (await client.get(f"/api/v1/screening-events/{event_id}/report")).status_code == 200
    assert (await client.get("/api/v1/screening-reports/schools")).status_code == 200
    assert (await create_event(client)).status_code == 403


async def test_events_of_another_organization_are_not_found(
    client: Client, db: AsyncSession
) -> None:
    clinic = await db.scalar(select(Organization).where(Organization.name == "Demo Dental Clinic"))
    assert clinic is not None
    await sign_in(client, FRONT_DESK)
    created = await create_event(client, organization_id=str(clinic.id))
    assert created.status_code == 201
    event_id = created.json()["id"]
    client.cookies.clear()
    await sign_in(client, HYGIENIST)  # the school program only
    assert (await client.get(f"/api/v1/screening-events/{event_id}")).status_code == 404
    assert (await import_roster(client, event_id, ROSTER_GOOD.read_bytes())).status_code == 404
    assert (await client.get(f"/api/v1/screening-events/{uuid.uuid4()}")).status_code == 404
    elsewhere = await create_event(client, organization_id=str(clinic.id))
    assert elsewhere.status_code == 404
    listed = (await client.get("/api/v1/screening-events")).json()["events"]
    assert event_id not in {e["id"] for e in listed}


async def test_pages_and_fragments(hygienist: Client, event_id: str) -> None:
    index = await hygienist.get("/screening")
    assert index.status_code == 200 and "Lincoln Elementary" in index.text
    page = await hygienist.get(f"/screening/events/{event_id}")
    assert page.status_code == 200 and "<html" in page.text
    for fragment in ("class-list", "class-progress"):
        part = await hygienist.get(f"/screening/events/{event_id}",
                                   headers={"hx-request": "true", "hx-target": fragment})
        assert part.status_code == 200 and "<html" not in part.text
        assert f'id="{fragment}"' in part.text
    assert "Zoë" in page.text and "李" in page.text and "No consent" in page.text

    imported = await hygienist.post(
        f"/screening/events/{event_id}/roster",
        files={"file": ("r.csv", ROSTER_GOOD.read_bytes(), "text/csv")},
        headers={**await headers(hygienist), "accept": "text/html", "hx-request": "true",
                 "hx-target": "roster-import"},
    )
    assert imported.status_code == 200
    assert imported.headers["hx-trigger"] == "roster-imported"
    assert 'id="roster-import"' in imported.text and "<html" not in imported.text
    assert "0</strong> imported" in imported.text and "4</strong> updated" in imported.text

    bad = await hygienist.post(
        f"/screening/events/{event_id}/roster",
        files={"file": ("r.csv", ROSTER_BAD.read_bytes(), "text/csv")},
        headers={**await headers(hygienist), "hx-request": "true", "hx-target": "roster-import"},
    )
    assert "Line 3: first name is missing" in bad.text

    created = await hygienist.post(
        "/screening/events", data={"site": "Oak School", "date": "2026-12-01", "state": ""},
        headers=await headers(hygienist), follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"].startswith(
        "/screening/events/")
    refused = await hygienist.post(
        "/screening/events", data={"site": "", "date": "2026-12-01"},
        headers=await headers(hygienist))
    assert refused.status_code == 422

    report = await hygienist.get(f"/screening/events/{event_id}/report")
    assert report.status_code == 200 and "Untreated decay" in report.text
    schools = await hygienist.get("/screening/reports")
    assert schools.status_code == 200 and "Lincoln Elementary" in schools.text


async def test_the_offline_service_worker_is_served_under_screening(hygienist: Client) -> None:
    worker = await hygienist.get("/screening/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/screening/"
    assert "toothline-screening-v1" in worker.text
    hygienist.cookies.clear()
    anonymous = await hygienist.get("/screening/sw.js", follow_redirects=False)
    assert anonymous.status_code in {302, 303, 401}
