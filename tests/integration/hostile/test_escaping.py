"""Every text a user can write and someone later sees is fed script and markup payloads
through the real routes, and every page showing it answers it escaped."""

from __future__ import annotations

from typing import Any

from tests.integration.hostile.conftest import (
    Client,
    as_user,
    assert_escaped,
    assert_no_raw,
    headers,
    long_payload,
    medium,
    page,
    payload,
    short,
)
from tests.integration.intake.conftest import accept_consent, new_case
from tests.support.portal import DEMO_PASSWORD

PATIENT = "patient@demo.test"
DENTIST = "dentist@demo.test"
DESK = "billing@demo.test"
COORDINATOR = "coordinator@demo.test"
ADMIN = "admin@demo.test"


async def _register_hostile_patient(client: Client) -> tuple[str, dict[str, str]]:
    """Front desk registers a child whose names and guardian are payloads."""
    names = {"first_name": short("F1"), "last_name": short("L1"),
             "guardian_name": short("G1")}
    hdrs = await as_user(client, DESK)
    clinic = (await client.get("/api/v1/me")).json()
    response = await client.post(
        "/api/v1/patients",
        json={**names, "date_of_birth": "2015-04-03", "state": "CA",
              "organization_id": _clinic_id(clinic), "school": payload("S1"),
              "grade": "<i>{{7*7}}zq", "medical_alerts": payload("M1"),
              "city": short("Y1"), "address_line": payload("AD1"), "payer_name": payload("P1")},
        headers=hdrs,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], names


def _clinic_id(me: dict) -> str:
    for org in me.get("organizations", []):
        if org["name"] == "Demo Dental Clinic":
            return str(org["id"])
    raise AssertionError(f"no clinic in {me}")


async def test_case_texts_are_escaped_on_every_page(client: Client) -> None:
    # --- the patient writes the questionnaire ---------------------------------------------
    hdrs = await as_user(client, PATIENT)
    assert (await accept_consent(client)).status_code == 201
    answers = {"area": payload("A1"), "notes": long_payload("N1")}
    created = await new_case(client, questionnaire=answers)
    assert created.status_code == 201, created.text
    mine = created.json()["id"]
    assert (await client.post(f"/api/v1/cases/{mine}/submit", headers=hdrs)).status_code == 200
    assert_escaped(await page(client, f"/patient/cases/{mine}"), *answers.values(),
                   where="patient case (questionnaire)")
    asked_id = (await new_case(client)).json()["id"]
    assert (await client.post(f"/api/v1/cases/{asked_id}/submit",
                              headers=hdrs)).status_code == 200

    # --- the front desk registers a hostile patient and sends a case for them -------------
    patient_id, names = await _register_hostile_patient(client)
    hdrs = await headers(client)
    consent = await accept_consent(client, patient_id=patient_id, given_by="guardian",
                                   given_by_name=short("C1"))
    assert consent.status_code == 201, consent.text
    theirs = (await new_case(client, patient_id=patient_id,
                             questionnaire={"area": payload("A2"), "notes": payload("N2")}))
    assert theirs.status_code == 201, theirs.text
    theirs_id = theirs.json()["id"]
    assert (await client.post(f"/api/v1/cases/{theirs_id}/submit",
                              headers=hdrs)).status_code == 200
    detail = await page(client, f"/patients/{patient_id}")
    assert_escaped(detail, *names.values(), where="patient detail")
    assert_escaped(await page(client, "/patients", q="F1"), names["first_name"],
                   where="patient search")

    # --- the dentist reads both, evaluates and signs one, asks for more on the other -------
    hdrs = await as_user(client, DENTIST)
    queue = await page(client, "/review")
    assert_no_raw(queue, where="queue")
    evaluation: dict[str, Any] = {
        "findings": payload("E1"),
        "teeth_findings": [{"tooth": "19", "condition": "healing_normal"}],
        "diagnosis": payload("E2"),
        "advice": payload("E3") + "\n" + long_payload("E4", 1500),
        "urgency": "routine",
        "procedures": [],
        "referral": {"specialty": "oral_surgery", "reason": payload("E5")},
        "follow_up_days": 14,
        "internal_notes": payload("E6"),
    }
    url = f"/api/v1/cases/{mine}"
    assert (await client.post(f"{url}/claim", headers=hdrs)).status_code == 200
    saved = await client.put(f"{url}/evaluation", json=evaluation, headers=hdrs)
    assert saved.status_code == 200, saved.text
    draft_page = await page(client, f"/review/cases/{mine}")
    assert_escaped(draft_page, answers["area"], answers["notes"], evaluation["findings"],
                   evaluation["diagnosis"], evaluation["internal_notes"],
                   evaluation["referral"]["reason"], where="review case (draft form)")
    signed = await client.post(f"{url}/evaluation/sign",
                               json={"password": DEMO_PASSWORD, "attest": True}, headers=hdrs)
    assert signed.status_code == 200, signed.text
    addendum = await client.post(f"{url}/evaluation/addenda",
                                 json={"text": payload("D1"), "password": DEMO_PASSWORD},
                                 headers=hdrs)
    assert addendum.status_code == 201, addendum.text
    signed_page = await page(client, f"/review/cases/{mine}")
    assert_escaped(signed_page, evaluation["findings"], evaluation["diagnosis"],
                   payload("D1"), evaluation["referral"]["reason"],
                   where="review case (signed)")

    other = f"/api/v1/cases/{theirs_id}"
    assert (await client.post(f"{other}/claim", headers=hdrs)).status_code == 200
    theirs_page = await page(client, f"/review/cases/{theirs_id}")
    assert_escaped(theirs_page, payload("A2"), payload("N2"), names["first_name"],
                   names["last_name"], where="review case (hostile patient)")
    plain = {**evaluation, "findings": "Fine.", "diagnosis": "Fine.", "advice": "Brush.",
             "referral": None, "internal_notes": ""}
    assert (await client.put(f"{other}/evaluation", json=plain, headers=hdrs)).status_code == 200
    assert (await client.post(f"{other}/evaluation/sign",
                              json={"password": DEMO_PASSWORD, "attest": True},
                              headers=hdrs)).status_code == 200

    asked_url = f"/api/v1/cases/{asked_id}"
    assert (await client.post(f"{asked_url}/claim", headers=hdrs)).status_code == 200
    requested = await client.post(f"{asked_url}/info-requests",
                                  json={"message": payload("I1")}, headers=hdrs)
    assert requested.status_code in (200, 201), requested.text
    assert_escaped(await page(client, f"/review/cases/{asked_id}"), payload("I1"),
                   where="review case (information request)")

    # --- the patient reads the advice and the addendum -------------------------------------
    await as_user(client, PATIENT)
    advice_page = await page(client, f"/patient/cases/{mine}")
    assert_escaped(advice_page, payload("E3"), long_payload("E4", 1500),
                   where="patient case (advice)")
    assert payload("E6") not in advice_page and "E6 " not in advice_page  # internal notes
    assert_no_raw(await page(client, "/patient"), where="my cases")

    # --- the front desk bills the signed case ----------------------------------------------
    await as_user(client, DESK)
    worklist = await page(client, "/billing")
    assert_no_raw(worklist, where="billing worklist")
    assert_no_raw(await page(client, f"/billing/cases/{mine}"), where="billing encounter")
    encounter = await page(client, f"/billing/cases/{theirs_id}")
    assert_escaped(encounter, names["first_name"], names["last_name"],
                   where="billing encounter (hostile patient)")
    assert_escaped(worklist, names["first_name"], where="billing worklist")


def _roster(rows: list[list[str]]) -> bytes:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student_id", "first_name", "last_name", "date_of_birth", "grade",
                     "guardian_name", "guardian_phone", "consent"])
    writer.writerows(rows)
    return out.getvalue().encode()


async def test_roster_cells_and_screening_texts_are_escaped(client: Client) -> None:
    hdrs = await as_user(client, "hygienist@demo.test")
    event = await client.post("/api/v1/screening-events",
                              json={"site": payload("SITE"), "date": "2026-11-20"}, headers=hdrs)
    assert event.status_code == 201, event.text
    event_id = event.json()["id"]
    cells = {"first": medium("RF"), "last": medium("RL"), "grade": "<b>{{7*7}}zq",
             "guardian": payload("RG"), "phone": "<i>555</i>"}
    roster = _roster([
        ["S-1", cells["first"], cells["last"], "2016-04-03", cells["grade"],
         cells["guardian"], cells["phone"], "yes"],
        # A bad line whose cells are echoed in the import report.
        [payload("BAD"), payload("RX"), "x", "not-a-date", "", "", "", "yes"],
        ["S-2", "Plain", "Child", "2016-05-03", "4", "", "", "maybe" + SCRIPT_NOTE],
        # Longer than the record holds: a line error, never cut silently.
        ["S-3", payload("LONG") + "x" * 40, "Child", "2016-05-03", "4", "", "", "yes"],
    ])
    imported = await client.post(f"/api/v1/screening-events/{event_id}/roster",
                                 files={"file": ("r.csv", roster, "text/csv")}, headers=hdrs)
    assert imported.status_code == 200, imported.text
    assert imported.json()["imported"] == 1
    assert [e["line"] for e in imported.json()["errors"]] == [3, 4, 5]
    assert "first name is longer than 100" in imported.json()["errors"][2]["reason"]

    # The same roster through the page route, which answers the import report as HTML.
    imported_page = await client.post(
        f"/screening/events/{event_id}/roster",
        files={"file": ("r.csv", roster.replace(b"S-1", b"S-9"), "text/csv")},
        headers={"x-csrftoken": hdrs["x-csrftoken"]},
    )
    assert imported_page.status_code < 500, imported_page.text
    assert_no_raw(imported_page.text, where="roster import report")

    class_list = await page(client, f"/screening/events/{event_id}")
    assert_escaped(class_list, cells["first"], cells["last"], payload("SITE"),
                   where="class list")
    enrollment = next(child for child in (await client.get(
        f"/api/v1/screening-events/{event_id}")).json()["children"]
        if child["student_id"] == "S-1")
    enrollment_id = enrollment.get("enrollment_id") or enrollment["id"]
    marked = await client.post(
        f"/api/v1/screening-events/{event_id}/children/{enrollment_id}/not-screened",
        json={"reason": "other", "note": payload("NS")}, headers=hdrs)
    assert marked.status_code == 200, marked.text
    child = await page(client, f"/screening/events/{event_id}/children/{enrollment_id}")
    assert_escaped(child, cells["first"], cells["last"], payload("NS"), where="child page")
    assert_escaped(await page(client, f"/patients/{enrollment['patient_id']}"),
                   cells["guardian"], cells["grade"], where="roster child's record")
    assert_no_raw(await page(client, "/screening"), where="events")
    assert_no_raw(await page(client, f"/screening/events/{event_id}/report"), where="report")
    assert_no_raw(await page(client, "/screening/reports"), where="school reports")
    unknown = await client.post(
        f"/api/v1/screening-events/{event_id}/children/{enrollment_id}/not-screened",
        json={"reason": SCRIPT_NOTE}, headers=hdrs)
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid_reason"


SCRIPT_NOTE = "<script>alert(1)</script>"


async def test_admin_account_and_audit_texts_are_escaped(client: Client) -> None:
    hdrs = await as_user(client, ADMIN)
    token = hdrs["x-csrftoken"]
    org_name = payload("ORG")
    created = await client.post(
        "/admin/organizations",
        data={"name": org_name, "kind": "practice", "state": "CA", "city": short("CITY"),
              "address_line": payload("ADDR"), "time_zone": "America/Los_Angeles",
              "_csrf_token": token},
        headers={"x-csrftoken": token}, follow_redirects=False)
    assert created.status_code == 303, created.text
    org_page = created.headers["location"]
    assert_escaped(await page(client, org_page), org_name, where="organization")
    assert_escaped(await page(client, "/admin/organizations"), org_name, where="organizations")
    org_id = org_page.rstrip("/").rsplit("/", 1)[-1]

    display = payload("DN")
    made = await client.post(
        "/admin/users",
        data={"email": "hostile@demo.test", "display_name": display, "role": "coordinator",
              "organization_ids": org_id, "is_active": "yes", "_csrf_token": token},
        headers={"x-csrftoken": token})
    assert made.status_code == 200, made.text
    assert_escaped(made.text, display, where="users (created)")
    assert_escaped(await page(client, "/admin/users"), display, where="users")
    audit = await page(client, "/admin/audit")
    assert_no_raw(audit, where="audit trail")
    filtered = await client.get("/admin/audit", params={"action": SCRIPT_NOTE,
                                                          "actor": payload("Q")})
    assert filtered.status_code in (200, 422), filtered.text
    assert_no_raw(filtered.text, where="audit trail (filtered)")

    # An API token named with a payload shows escaped on the account page.
    named = await client.post("/api/v1/tokens",
                              json={"email": ADMIN, "password": DEMO_PASSWORD,
                                    "name": short("TOK")})
    assert named.status_code == 201, named.text
    assert_escaped(await page(client, "/account"), short("TOK"), where="account tokens")
    # Query strings are echoed in search boxes and pagination links.
    await as_user(client, DESK)
    search = await client.get("/patients", params={"q": payload("QS")})
    assert search.status_code == 200
    assert_no_raw(search.text, where="patient search query")
