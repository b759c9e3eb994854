"""Billing routes: the API shape, downloads (audited), access refusals, the pages and the
editor's refusals, CSV export."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing.packages import BUILD_JOB
from storage.models import AuditEvent, Case, User
from tests.integration.billing.conftest import Seeded, seed_post_op, seed_school
from tests.support.portal import csrf_token, sign_in


@pytest.fixture
async def post_op(client: AsyncTestClient[Litestar], app_db: AsyncSession) -> Seeded:
    return await seed_post_op(app_db, client.app.state.blobs)


async def _count(db: AsyncSession, action: str) -> int:
    db.expire_all()
    return int(await db.scalar(select(func.count()).where(AuditEvent.action == action)) or 0)


async def test_claim_lines_api_shape(client: AsyncTestClient[Litestar], post_op: Seeded):
    await sign_in(client, "dentist@demo.test")
    response = await client.get(f"/api/v1/cases/{post_op.case_id}/claim-lines")
    assert response.status_code == 200, response.text
    body = response.json()
    first = body["lines"][0]
    assert set(first) == {"code", "provider", "date_of_service", "tooth", "surfaces", "quantity",
                          "place_of_service", "encounter", "fee"}
    assert set(first["provider"]) == {"user_id", "npi", "name", "role"}
    assert first["encounter"] == {"type": "asynchronous", "id": str(post_op.case_id)}
    assert [line["code"] for line in body["lines"]] == ["D0171", "D0391", "D9996"]


async def test_access_refusals(client: AsyncTestClient[Litestar], post_op: Seeded):
    url = f"/api/v1/cases/{post_op.case_id}/claim-lines"
    assert (await client.get(url)).status_code == 401
    await sign_in(client, "dentist2@demo.test")  # not the signing dentist
    assert (await client.get(url)).status_code == 404
    assert (await client.get(f"/api/v1/cases/{post_op.case_id}/documentation.pdf")).status_code \
        == 404
    for email in ("hygienist@demo.test", "coordinator@demo.test", "patient@demo.test",
                  "admin@demo.test"):
        await client.post("/logout", headers={"x-csrftoken": await csrf_token(client)})
        await sign_in(client, email)
        assert (await client.get(url)).status_code == 403, email
        assert (await client.get("/billing")).status_code == 403, email


async def test_downloads_are_audited_and_reproducible(
    client: AsyncTestClient[Litestar], post_op: Seeded, app_db: AsyncSession
):
    await sign_in(client, "billing@demo.test")
    pdf = await client.get(f"/api/v1/cases/{post_op.case_id}/documentation.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    archive = await client.get(f"/api/v1/cases/{post_op.case_id}/claim-attachment.zip")
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    assert "attachment" in archive.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        manifest = json.loads(z.read("manifest.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(z.read(entry["name"])).hexdigest() == entry["sha256"]
        assert z.read("D9996-record.pdf") == pdf.content
    again = await client.get(f"/api/v1/cases/{post_op.case_id}/claim-attachment.zip")
    assert again.content == archive.content
    assert await _count(app_db, "documentation.downloaded") == 1
    assert await _count(app_db, "claim_package.downloaded") == 2
    packages = (await client.get(f"/api/v1/cases/{post_op.case_id}/claim-packages")).json()
    assert [p["version"] for p in packages["packages"]] == [1]
    old = await client.get(packages["packages"][0]["zip_url"])
    assert old.status_code == 200 and old.content == archive.content


async def test_api_edit_refusal_names_the_rule(client: AsyncTestClient[Litestar], post_op: Seeded):
    await sign_in(client, "billing@demo.test")
    token = await csrf_token(client)
    lines = (await client.get(f"/api/v1/cases/{post_op.case_id}/claim-lines")).json()["lines"]
    alone = [line for line in lines if line["code"] == "D9996"]
    response = await client.put(
        f"/api/v1/cases/{post_op.case_id}/claim-lines", json={"lines": alone},
        headers={"x-csrftoken": token},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "claim_lines_refused"
    assert body["violations"][0]["rule"] == "teledentistry_not_alone"
    ok = await client.put(
        f"/api/v1/cases/{post_op.case_id}/claim-lines",
        json={"lines": [line for line in lines if line["code"] != "D0391"],
              "reason": "X-ray read elsewhere"},
        headers={"x-csrftoken": token},
    )
    assert ok.status_code == 200, ok.text
    assert [line["code"] for line in ok.json()["lines"]] == ["D0171", "D9996"]


async def test_pages_edit_ready_billed(
    client: AsyncTestClient[Litestar], post_op: Seeded, app_db: AsyncSession
):
    await sign_in(client, "billing@demo.test")
    worklist = await client.get("/billing")
    assert worklist.status_code == 200
    assert "Pat Demo" in worklist.text and f"/billing/cases/{post_op.case_id}" in worklist.text
    fragment = await client.get("/billing", headers={"HX-Request": "true", "HX-Target": "worklist"})
    assert 'id="worklist"' in fragment.text and "<html" not in fragment.text

    page = await client.get(f"/billing/cases/{post_op.case_id}")
    assert page.status_code == 200 and "D9996" in page.text and "claim-attachment.zip" in page.text
    token = await csrf_token(client)
    # remove every line but D9996: refused, with the rule named
    form = {"rows": "4", "_csrf_token": token, "reason": "X-ray read elsewhere"}
    dentist = await app_db.scalar(select(User).where(User.email == "dentist@demo.test"))
    assert dentist is not None
    providers = str(dentist.id)
    for i, code in enumerate(["D0171", "D0391", "D9996"]):
        form.update({f"code-{i}": code, f"provider-{i}": providers,
                     f"date_of_service-{i}": "2026-11-21", f"quantity-{i}": "1",
                     f"place_of_service-{i}": "10"})
    refused = await client.post(
        f"/billing/cases/{post_op.case_id}/lines",
        data={**form, "remove-0": "yes", "remove-1": "yes"}, headers={"x-csrftoken": token},
    )
    assert refused.status_code == 422
    assert "teledentistry_not_alone" in refused.text and "never billed alone" in refused.text
    saved = await client.post(
        f"/billing/cases/{post_op.case_id}/lines", data={**form, "remove-1": "yes"},
        headers={"x-csrftoken": token}, follow_redirects=False,
    )
    assert saved.status_code == 303
    ready = await client.post(
        f"/billing/cases/{post_op.case_id}/ready", headers={"x-csrftoken": token},
        follow_redirects=False,
    )
    assert ready.status_code == 303
    await client.app.state.jobs.drained()  # the package of the edited lines
    billed = await client.post(
        f"/billing/cases/{post_op.case_id}/billed", headers={"x-csrftoken": token},
        follow_redirects=False,
    )
    assert billed.status_code == 303
    app_db.expire_all()
    case = await app_db.get_one(Case, post_op.case_id)
    assert case.status == "closed"
    # no CSRF token → refused
    assert (await client.post(f"/billing/cases/{post_op.case_id}/ready")).status_code == 403


async def test_csv_export_is_formula_safe(
    client: AsyncTestClient[Litestar], app_db: AsyncSession
):
    blobs = client.app.state.blobs
    school = await seed_school(app_db, blobs)
    from storage.models import Patient

    child = await app_db.get_one(Patient, school.patient_id)
    child.first_name = '=HYPERLINK("http://x")'
    await app_db.commit()
    await sign_in(client, "billing@demo.test")
    response = await client.get("/billing/export.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    cells = [cell for row in csv.reader(io.StringIO(response.text)) for cell in row]
    assert "'=HYPERLINK(\"http://x\") Nguyễn" in cells
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]
    assert "D1351" in cells
    assert await _count(app_db, "claim_lines.exported") == 2  # one per organization chain


async def test_live_session_api(client: AsyncTestClient[Litestar], post_op: Seeded):
    await sign_in(client, "dentist@demo.test")
    token = await csrf_token(client)
    body = {
        "patient_id": str(post_op.patient_id), "case_id": str(post_op.case_id),
        "scheduled_at": "2026-11-22T18:00:00Z", "started_at": "2026-11-22T18:02:00Z",
        "ended_at": "2026-11-22T18:20:00Z", "participants": [{"name": "Pat Demo",
                                                              "role": "patient"}],
        "platform": "Doxy.me", "notes": "Escalated to a call.",
    }
    created = await client.post("/api/v1/live-sessions", json=body,
                                headers={"x-csrftoken": token})
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    lines = (await client.get(f"/api/v1/live-sessions/{session_id}/claim-lines")).json()["lines"]
    assert [line["code"] for line in lines] == ["D0171", "D9995"]
    assert {line["encounter"]["type"] for line in lines} == {"synchronous"}
    url = f"/api/v1/live-sessions/{session_id}/documentation.pdf"
    first = await client.get(url)  # 202 while the job its recording queued is running
    assert first.status_code in {200, 202}
    await client.app.state.jobs.drained()
    doc = await client.get(url)
    assert doc.status_code == 200 and doc.content.startswith(b"%PDF")
    bad = await client.post(
        "/api/v1/live-sessions", json={**body, "ended_at": "2026-11-22T17:00:00Z"},
        headers={"x-csrftoken": token},
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_live_session"
    # a typed body: an unknown key or a wrong type is the usual 400 "invalid"
    for wrong in ({**body, "recording_url": "x"}, {**body, "participants": "Pat"},
                  {**body, "patient_site": "car"}, {**body, "patient_state": "Calif."}):
        refused = await client.post("/api/v1/live-sessions", json=wrong,
                                    headers={"x-csrftoken": token})
        assert refused.status_code == 400 and refused.json()["code"] == "invalid", wrong
    evaluated = await client.post(
        "/api/v1/live-sessions", headers={"x-csrftoken": token},
        json={**body, "patient_site": "office", "evaluation": {
            "problem_status": "established", "findings": "Healing well.",
            "procedures": [{"code": "D2391", "tooth": "3", "rationale": "caries"}]}},
    )
    assert evaluated.status_code == 201, evaluated.text
    # the front desk closes it from its page: a route per action, back to the worklist
    await sign_in(client, "billing@demo.test")
    token = await csrf_token(client)
    closed = await client.post(f"/billing/live-sessions/{session_id}/nothing-to-bill",
                               headers={"x-csrftoken": token}, follow_redirects=False)
    assert closed.status_code == 303 and closed.headers["location"] == "/billing"
    lines_url = f"/api/v1/live-sessions/{session_id}/claim-lines"
    assert (await client.get(lines_url)).json()["status"] == "nothing_to_bill"
    await client.app.state.jobs.drained()  # the evaluated session's package, built after commit


async def test_unbuilt_package_answers_202_until_the_job_ran(
    client: AsyncTestClient[Litestar], app_db: AsyncSession
):
    seeded = await seed_post_op(app_db, client.app.state.blobs, files=(), package=False)
    await sign_in(client, "billing@demo.test")
    url = f"/api/v1/cases/{seeded.case_id}/claim-attachment.zip"
    pending = await client.get(url)
    assert pending.status_code == 202, pending.text
    assert pending.headers["retry-after"] == "5"
    assert pending.json()["code"] == "package_building"
    assert await _count(app_db, "claim_package.downloaded") == 0  # a 202 is not audited
    jobs = client.app.state.jobs
    jobs.submit(BUILD_JOB, {"kind": "asynchronous", "encounter_id": str(seeded.case_id)})
    await jobs.drained()
    ready = await client.get(url)
    assert ready.status_code == 200 and ready.headers["content-type"] == "application/zip"
    assert await _count(app_db, "claim_package.downloaded") == 1


async def test_typed_bodies(client: AsyncTestClient[Litestar], post_op: Seeded):
    """The schema lists each body's fields and the statuses; a body of the wrong shape answers
    400 "invalid" and changes nothing; an unknown page action is the router's 404."""
    schema = (await client.get("/schema/openapi.json")).json()

    def body_of(method: str, path: str) -> dict:
        content = schema["paths"][path][method]["requestBody"]["content"]
        name = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        return schema["components"]["schemas"][name]

    for base in ("/api/v1/cases/{case_id}", "/api/v1/live-sessions/{session_id}"):
        status = body_of("post", f"{base}/billing-status")["properties"]["status"]
        assert status["enum"] == ["ready", "billed", "nothing_to_bill"]
        assert body_of("put", f"{base}/claim-lines")["required"] == ["lines"]
    live = body_of("post", "/api/v1/live-sessions")
    assert {"patient_id", "started_at", "ended_at", "platform"} <= set(live["required"])
    assert "patient_state" in live["properties"]
    sign = body_of("post", "/api/v1/live-sessions/{session_id}/sign")
    assert sign["required"] == ["password"] and set(sign["properties"]) == {"password", "attest"}

    await sign_in(client, "billing@demo.test")
    headers = {"x-csrftoken": await csrf_token(client)}
    url = f"/api/v1/cases/{post_op.case_id}"
    before = (await client.get(f"{url}/claim-lines")).json()
    line = before["lines"][0]
    for wrong in ({"lines": [{**line, "note": "x"}]}, {"lines": [{**line, "quantity": "two"}]},
                  {"lines": [{**line, "date_of_service": "21/11/2026"}]}, {"lines": "D0171"},
                  {}):
        answer = await client.put(f"{url}/claim-lines", json=wrong, headers=headers)
        assert answer.status_code == 400 and answer.json()["code"] == "invalid", wrong
    for wrong in ({"status": "closed"}, {"status": "ready", "why": "x"}, {}):
        answer = await client.post(f"{url}/billing-status", json=wrong, headers=headers)
        assert answer.status_code == 400 and answer.json()["code"] == "invalid", wrong
    assert (await client.get(f"{url}/claim-lines")).json() == before
    ready = await client.post(f"{url}/billing-status", json={"status": "ready"}, headers=headers)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    unknown = await client.post(f"/billing/cases/{post_op.case_id}/close", headers=headers,
                                follow_redirects=False)
    assert unknown.status_code == 404
