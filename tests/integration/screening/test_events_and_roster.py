"""Screening events and roster import through the API: the fixtures import exactly as their
README says, a second import updates and adds nothing, consent from the roster is recorded,
and the formula in roster_bad.csv is kept as text and exported with a leading apostrophe."""

from __future__ import annotations

import csv
import io
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.consent_forms import current_form
from storage.models import Consent, Organization, Patient, ScreeningEnrollment, ScreeningEvent
from tests.integration.screening.conftest import (
    ROSTER_BAD,
    ROSTER_GOOD,
    Client,
    audit_actions,
    children,
    create_event,
    import_roster,
)
from tests.support.views import view_actions


async def test_create_event_defaults_to_the_organizations_state(
    hygienist: Client, db: AsyncSession
) -> None:
    response = await create_event(hygienist)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["site"] == "Lincoln Elementary" and body["date"] == "2026-11-20"
    assert body["state"] == "CA"
    assert body["location"] == {"state": "CA", "site": "school"}
    event = await db.get_one(ScreeningEvent, uuid.UUID(body["id"]))
    org = await db.get_one(Organization, event.organization_id)
    assert org.name == "Demo School Program"
    assert "screening_event.created" in await audit_actions(db)

    other = await create_event(hygienist, state="or")
    assert other.status_code == 201 and other.json()["state"] == "OR"
    bad = await create_event(hygienist, state="XX")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_state"
    unknown = await create_event(hygienist, colour="red")
    assert unknown.status_code == 400


async def test_bad_roster_reports_each_line_and_keeps_the_good_ones(
    hygienist: Client, db: AsyncSession
) -> None:
    event_id = (await create_event(hygienist)).json()["id"]
    data = ROSTER_BAD.read_bytes()
    response = await import_roster(hygienist, event_id, data)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["imported"] == 2 and body["updated"] == 0
    errors = {e["line"]: e["reason"] for e in body["errors"]}
    assert sorted(errors) == [3, 4, 5, 7]
    assert "first name is missing" in errors[3]
    assert "not a real date" in errors[4]
    assert "repeats line 2" in errors[5]
    assert "consent" in errors[7] and "maybe" in errors[7]

    kept = await children(hygienist, event_id)
    assert sorted(kept) == ["S-2001", "S-2005"]
    assert kept["S-2001"]["first_name"] == "Ok"  # the first line of the repeated id
    assert kept["S-2001"]["roster_line"] == 2 and kept["S-2005"]["roster_line"] == 6
    assert kept["S-2005"]["first_name"] == '=HYPERLINK("http://x")'  # kept as text
    db.expire_all()
    stored = await db.scalar(select(Patient).where(Patient.student_id == "S-2005"))
    assert stored is not None and stored.first_name == '=HYPERLINK("http://x")'

    again = (await import_roster(hygienist, event_id, data)).json()
    assert again["imported"] == 0 and again["updated"] == 2
    assert [e["line"] for e in again["errors"]] == [3, 4, 5, 7]
    assert await db.scalar(select(func.count()).select_from(Patient).where(
        Patient.student_id.like("S-20%"))) == 2

    # the data sheet exports the name as text, never as a formula
    sheet = await hygienist.get(f"/api/v1/screening-events/{event_id}/data-sheet.csv")
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    names = {row["student_id"]: row["first_name"] for row in rows}
    assert names["S-2005"] == "'=HYPERLINK(\"http://x\")"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
    assert "screening_event.exported" in await audit_actions(db)


async def test_good_roster_twice_updates_and_adds_nothing(
    hygienist: Client, db: AsyncSession
) -> None:
    event_id = (await create_event(hygienist)).json()["id"]
    data = ROSTER_GOOD.read_bytes()
    first = (await import_roster(hygienist, event_id, data)).json()
    assert first == {"imported": 4, "updated": 0, "errors": []}
    second = (await import_roster(hygienist, event_id, data)).json()
    assert second == {"imported": 0, "updated": 4, "errors": []}

    db.expire_all()
    enrolled = await db.scalar(select(func.count()).select_from(ScreeningEnrollment).where(
        ScreeningEnrollment.event_id == uuid.UUID(event_id)))
    assert enrolled == 4
    patients = list(await db.scalars(select(Patient).where(Patient.student_id.like("S-100%"))))
    assert len(patients) == 4
    zoe = next(p for p in patients if p.student_id == "S-1001")
    assert (zoe.first_name, zoe.last_name) == ("Zoë", "Nguyễn")
    assert zoe.school == "Lincoln Elementary" and zoe.grade == "4"
    assert zoe.guardian_name == "Lan Nguyễn"

    # consent yes: one roster consent from the guardian for the current version (not twice)
    consents = list(await db.scalars(select(Consent)))
    by_patient = {c.patient_id: c for c in consents}
    assert len(consents) == 3
    version = current_form("teledentistry").version
    for consent in consents:
        assert (consent.form, consent.version) == ("teledentistry", version)
        assert (consent.method, consent.given_by) == ("roster", "guardian")
    li = next(p for p in patients if p.student_id == "S-1003")
    assert li.id not in by_patient
    assert by_patient[zoe.id].given_by_name == "Lan Nguyễn"

    kept = await children(hygienist, event_id)
    assert kept["S-1003"]["consent"] is False and kept["S-1001"]["consent"] is True
    assert {c["state"] for c in kept.values()} == {"pending"}
    actions = await audit_actions(db)
    assert actions.count("roster.imported") == 2
    assert actions.count("consent.accepted") == 3
    assert "screening_event.viewed" in await view_actions(db)


async def test_roster_consent_no_withdraws_an_earlier_roster_consent(
    hygienist: Client, db: AsyncSession
) -> None:
    event_id = (await create_event(hygienist)).json()["id"]
    await import_roster(hygienist, event_id, ROSTER_GOOD.read_bytes())
    withdrawn = ROSTER_GOOD.read_text(encoding="utf-8").replace(
        "+1-503-555-0101,yes", "+1-503-555-0101,no").encode()
    body = (await import_roster(hygienist, event_id, withdrawn)).json()
    assert body["updated"] == 4
    kept = await children(hygienist, event_id)
    assert kept["S-1001"]["consent"] is False
    assert "consent.revoked" in await audit_actions(db)


async def test_unreadable_roster_is_refused(hygienist: Client) -> None:
    event_id = (await create_event(hygienist)).json()["id"]
    response = await import_roster(hygienist, event_id, b"name,age\nx,1\n")
    assert response.status_code == 422
    assert response.json()["code"] == "roster_unreadable"
    binary = await import_roster(hygienist, event_id, b"\xff\xfe\x00bad")
    assert binary.status_code == 422
    missing = await hygienist.post(
        f"/api/v1/screening-events/{event_id}/roster",
        files={"other": ("r.csv", b"x", "text/csv")},
        headers={"x-csrftoken": hygienist.cookies["csrftoken"]},
    )
    assert missing.status_code == 400
