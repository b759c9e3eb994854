"""Screening one child: findings and services become a school_screening case (idempotent per
child), photos go through intake's upload route, the case goes to the dentists' queue; a child
without consent (S-1003) gets no case and no images; "not screened" with a reason; reports."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.intake.schemas import CaseIn
from storage.models import Attachment, Case
from tests.integration.screening.conftest import (
    PHOTO,
    Client,
    audit_actions,
    children,
    headers,
)

INTAKE_TAKES_SCREENING = "screening" in CaseIn.__struct_fields__
needs_intake_screening = pytest.mark.skipif(
    not INTAKE_TAKES_SCREENING,
    reason="POST /api/v1/cases does not take the screening object yet (intake integration)",
)

FINDINGS = {
    "caries_experience": "yes",
    "untreated_decay": "yes",
    "sealants_present": "no",
    "treatment_urgency": "urgent",
    "fluoride_varnish": "yes",
    "sealant_teeth": "3 14",
}


def child_url(event_id: str, child: dict[str, Any], action: str = "") -> str:
    base = f"/screening/events/{event_id}/children/{child['enrollment_id']}"
    return f"{base}/{action}" if action else base


async def save(
    client: Client, event_id: str, child: dict[str, Any], key: str | None = None, **form: str
) -> Any:
    """One press of "Save findings": a fresh Idempotency-Key unless a retry's is given."""
    return await client.post(
        child_url(event_id, child, "findings"),
        data={**FINDINGS, **form},
        headers={**await headers(client), "accept": "text/html", "hx-request": "true",
                 "hx-target": "findings-form",
                 "Idempotency-Key": key or f"findings:{uuid.uuid4()}"},
    )


async def upload_photo(client: Client, case_id: str, view: str = "upper_occlusal") -> Any:
    return await client.post(
        f"/api/v1/cases/{case_id}/attachments",
        data={"kind": "photo", "view": view},
        files={"file": ("photo.png", PHOTO.read_bytes(), "image/png")},
        headers=await headers(client, **{"Idempotency-Key": str(uuid.uuid4())}),
    )


async def test_findings_make_one_school_screening_case_idempotently(
    hygienist: Client, event_id: str, db: AsyncSession
) -> None:
    zoe = (await children(hygienist, event_id))["S-1001"]
    first = await save(hygienist, event_id, zoe, key="press-1")
    assert first.status_code == 200, first.text
    assert 'id="findings-form"' in first.text and "<html" not in first.text
    assert "Saved." in first.text
    assert 'id="photos"' in first.text and 'hx-swap-oob="true"' in first.text
    # a retry of the same save (the connection dropped before the answer) makes nothing new
    again = await save(hygienist, event_id, zoe, key="press-1")
    assert again.status_code == 200 and again.headers["x-case-id"]
    changed = await save(hygienist, event_id, zoe, treatment_urgency="early", sealant_teeth="")

    assert changed.status_code == 200
    db.expire_all()
    cases = list(await db.scalars(select(Case)))
    assert len(cases) == 1
    case = cases[0]
    assert case.kind == "school_screening" and case.status == "draft"
    assert case.location_site == "school" and case.location_state == "CA"
    assert str(case.screening_event_id) == event_id
    assert case.screening == {
        "event_id": event_id, "caries_experience": True, "untreated_decay": True,
        "sealants_present": False, "treatment_urgency": "early",
        "services": [{"code": "D1206"}],
    }
    assert (case.urgency, case.urgency_rank) == ("soon", 1)
    state = (await children(hygienist, event_id))["S-1001"]
    assert state["state"] == "screened" and state["case_id"] == str(case.id)
    assert (await audit_actions(db)).count("screening.recorded") == 2  # the retry saved nothing


async def test_invalid_findings_are_refused_with_the_reason(
    hygienist: Client, event_id: str, db: AsyncSession
) -> None:
    zoe = (await children(hygienist, event_id))["S-1001"]
    no_tooth = await save(hygienist, event_id, zoe, sealant_teeth="33")
    assert no_tooth.status_code == 422
    assert "not a tooth" in no_tooth.text
    contradiction = await save(hygienist, event_id, zoe, caries_experience="no")
    assert contradiction.status_code == 422 and "caries experience" in contradiction.text
    missing = await save(hygienist, event_id, zoe, treatment_urgency="")
    assert missing.status_code == 422
    assert await db.scalar(select(func.count()).select_from(Case)) == 0


async def test_child_without_consent_gets_no_case_and_no_camera(
    hygienist: Client, event_id: str, db: AsyncSession
) -> None:
    li = (await children(hygienist, event_id))["S-1003"]
    assert li["consent"] is False
    response = await save(hygienist, event_id, li)
    assert response.status_code == 422  # the page shows intake's 409 consent_required
    assert "consent must be accepted" in response.text
    assert await db.scalar(select(func.count()).select_from(Case)) == 0
    page = await hygienist.get(child_url(event_id, li))
    assert page.status_code == 200
    assert "No consent on file" in page.text
    assert 'type="file"' not in page.text and 'id="findings-form"' not in page.text


async def test_s1003_cannot_get_a_case_through_the_api(
    hygienist: Client, event_id: str, db: AsyncSession
) -> None:
    li = (await children(hygienist, event_id))["S-1003"]
    body: dict[str, Any] = {"kind": "school_screening", "patient_id": li["patient_id"]}
    if INTAKE_TAKES_SCREENING:
        body["screening"] = {
            "event_id": event_id, "caries_experience": False, "untreated_decay": False,
            "sealants_present": False, "treatment_urgency": "none", "services": [],
        }
    response = await hygienist.post("/api/v1/cases", json=body, headers=await headers(hygienist))
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "consent_required"
    assert await db.scalar(select(func.count()).select_from(Case)) == 0


@needs_intake_screening
async def test_api_case_carries_findings_and_services(
    hygienist: Client, event_id: str, db: AsyncSession
) -> None:
    mateo = (await children(hygienist, event_id))["S-1002"]
    screening = {
        "event_id": event_id, "caries_experience": True, "untreated_decay": False,
        "sealants_present": True, "treatment_urgency": "urgent",
        "services": [{"code": "D1206"}, {"code": "D1351", "tooth": "3"}],
    }
    response = await hygienist.post(
        "/api/v1/cases",
        json={"kind": "school_screening", "patient_id": mateo["patient_id"],
              "screening": screening},
        headers=await headers(hygienist, **{"Idempotency-Key": "api-screen-1"}),
    )
    assert response.status_code == 201, response.text
    case_id = response.json()["id"]
    read = await hygienist.get(f"/api/v1/cases/{case_id}")
    assert read.status_code == 200
    body = read.json()
    assert body["kind"] == "school_screening" and body["urgency"] == "urgent"
    assert body["location"] == {"state": "CA", "site": "school"}
    assert body["screening"] == screening
    state = (await children(hygienist, event_id))["S-1002"]
    assert state["case_id"] == case_id and state["state"] == "screened"

    bad = dict(screening, services=[{"code": "D2391", "tooth": "3"}])
    refused = await hygienist.post(
        "/api/v1/cases",
        json={"kind": "school_screening", "patient_id": mateo["patient_id"], "screening": bad},
        headers=await headers(hygienist),
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "not_a_school_service"
    no_tooth = dict(screening, services=[{"code": "D1351"}])
    refused = await hygienist.post(
        "/api/v1/cases",
        json={"kind": "school_screening", "patient_id": mateo["patient_id"],
              "screening": no_tooth},
        headers=await headers(hygienist),
    )
    assert refused.status_code == 400 and refused.json()["code"] == "tooth_required"


async def test_submit_needs_a_photo_then_reaches_the_queue(
    hygienist: Client, event_id: str, db: AsyncSession
) -> None:
    zoe = (await children(hygienist, event_id))["S-1001"]
    await save(hygienist, event_id, zoe)
    case_id = (await children(hygienist, event_id))["S-1001"]["case_id"]
    submit_headers = {**await headers(hygienist), "accept": "text/html"}
    early = await hygienist.post(child_url(event_id, zoe, "submit"), headers=submit_headers,
                                 follow_redirects=False)
    assert early.status_code == 303  # back to the child, with the reason flashed
    db.expire_all()
    assert (await db.get_one(Case, uuid.UUID(case_id))).status == "draft"

    photo = await upload_photo(hygienist, case_id)
    assert photo.status_code == 201, photo.text
    sent = await hygienist.post(child_url(event_id, zoe, "submit"), headers=submit_headers,
                                follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == f"/screening/events/{event_id}"
    db.expire_all()
    case = await db.get_one(Case, uuid.UUID(case_id))
    assert case.status == "submitted" and case.due_at is not None
    assert (case.urgency, case.urgency_rank) == ("urgent", 0)
    assert await db.scalar(select(func.count()).select_from(Attachment)) == 1
    event = (await hygienist.get(f"/api/v1/screening-events/{event_id}")).json()
    assert event["progress"]["submitted"] == 1 and event["progress"]["screened"] == 1
    assert {c["student_id"]: c["state"] for c in event["children"]}["S-1001"] == "submitted"
    # once sent, the findings are closed
    late = await save(hygienist, event_id, zoe)
    assert late.status_code == 422 and "already sent" in late.text


async def test_not_screened_with_a_reason_and_class_progress(
    hygienist: Client, event_id: str, db: AsyncSession
) -> None:
    li = (await children(hygienist, event_id))["S-1003"]
    response = await hygienist.post(
        f"/api/v1/screening-events/{event_id}/children/{li['enrollment_id']}/not-screened",
        json={"reason": "no_consent", "note": "guardian said no"},
        headers=await headers(hygienist),
    )
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "not_screened"
    assert response.json()["not_screened_reason"] == "No consent — guardian said no"
    bad = await hygienist.post(
        f"/api/v1/screening-events/{event_id}/children/{li['enrollment_id']}/not-screened",
        json={"reason": "bored"}, headers=await headers(hygienist),
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_reason"
    progress = (await hygienist.get(f"/api/v1/screening-events/{event_id}")).json()["progress"]
    assert progress == {"total": 4, "pending": 3, "not_screened": 1, "screened": 0,
                        "submitted": 0, "reviewed": 0, "percent_done": 25}
    assert "screening.not_screened" in await audit_actions(db)


async def test_reports_count_the_bss_indicators(
    hygienist: Client, event_id: str, db: AsyncSession
) -> None:
    kids = await children(hygienist, event_id)
    await save(hygienist, event_id, kids["S-1001"])  # decay, urgent, varnish, 2 sealants
    await save(hygienist, event_id, kids["S-1002"], caries_experience="no",
               untreated_decay="no", sealants_present="yes", treatment_urgency="none",
               fluoride_varnish="", sealant_teeth="")
    await hygienist.post(
        f"/api/v1/screening-events/{event_id}/children/{kids['S-1003']['enrollment_id']}"
        "/not-screened", json={"reason": "no_consent"}, headers=await headers(hygienist))

    report = (await hygienist.get(f"/api/v1/screening-events/{event_id}/report")).json()
    total = report["total"]
    assert (total["enrolled"], total["screened"], total["not_screened"]) == (4, 2, 1)
    assert (total["untreated_decay"], total["sealants_present"], total["urgent_need"]) == (
        1, 1, 1)
    assert (total["fluoride_varnish"], total["sealants_placed"]) == (1, 1)
    assert {row["grade"] for row in report["by_grade"]} == {"2", "3", "4", "5"}

    table = await hygienist.get(f"/api/v1/screening-events/{event_id}/report.csv")
    rows = list(csv.DictReader(io.StringIO(table.content.decode("utf-8-sig"))))
    everyone = rows[-1]
    assert everyone["grade"] == "all" and everyone["children_screened"] == "2"
    assert everyone["untreated_decay"] == "1" and everyone["untreated_decay_pct"] == "50.0"
    assert everyone["urgent_care"] == "1"

    sheet = await hygienist.get(f"/api/v1/screening-events/{event_id}/data-sheet.csv")
    by_id = {r["student_id"]: r for r in csv.DictReader(
        io.StringIO(sheet.content.decode("utf-8-sig")))}
    assert by_id["S-1001"]["treatment_urgency"] == "2"
    assert by_id["S-1001"]["sealant_teeth"] == "3 14"
    assert by_id["S-1002"]["sealants_present"] == "1"
    assert by_id["S-1003"]["not_screened_reason"] == "No consent"
    assert by_id["S-1004"]["status"] == "pending" and by_id["S-1004"]["untreated_decay"] == ""

    schools = (await hygienist.get("/api/v1/screening-reports/schools")).json()
    assert [s["school"] for s in schools["schools"]] == ["Lincoln Elementary"]
    assert schools["total"]["screened"] == 2
    none = (await hygienist.get("/api/v1/screening-reports/schools?from=2030-01-01")).json()
    assert none["schools"] == [] and none["total"]["screened"] == 0
    csv_schools = await hygienist.get("/api/v1/screening-reports/schools.csv")
    assert csv_schools.status_code == 200 and "Lincoln Elementary" in csv_schools.text
    actions = await audit_actions(db)
    assert "screening_report.viewed" in actions and "screening_report.exported" in actions
