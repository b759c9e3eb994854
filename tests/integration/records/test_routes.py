"""Records-desk routes: the API walk, the 409s, uploads, the public link (refusals audited),
the patient's page and download, and the refusals by role and organization."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, DownloadLink
from tests.integration.records.seeding import (
    demo_patient,
    other_org_patient,
    signed_case,
)
from tests.support.pdfs import hostile_pdfs, real_pdf
from tests.support.portal import csrf_token, sign_in

PDF = real_pdf()


async def _count(db: AsyncSession, action: str) -> int:
    db.expire_all()
    return int(await db.scalar(select(func.count()).where(AuditEvent.action == action)) or 0)


async def _login(client: AsyncTestClient[Litestar], email: str) -> None:
    await sign_in(client, email)
    client.headers["x-csrftoken"] = await csrf_token(client)


async def _switch(client: AsyncTestClient[Litestar], email: str) -> None:
    await client.post("/logout", headers={"x-csrftoken": await csrf_token(client)})
    await _login(client, email)


async def test_api_walk_and_public_link(client: AsyncTestClient[Litestar], app_db: AsyncSession):
    patient = await demo_patient(app_db)
    case = await signed_case(app_db, client.app.state.blobs, patient,
                             collected_on=dt.date(2026, 1, 10))
    await _login(client, "billing@demo.test")
    created = await client.post("/api/v1/records-requests", json={
        "requester": "representative", "records": "all", "format": "electronic",
        "patient_id": str(patient.id), "requester_name": "Parent Demo",
        "deliver_to": "parent@example.test", "received_via": "phone"})
    assert created.status_code == 201, created.text
    body = created.json()
    rid = body["id"]
    assert body["status"] == "received" and body["records"] == "all"
    base = f"/api/v1/records-requests/{rid}"

    early = await client.post(f"{base}/deliver", json={})
    assert early.status_code == 409 and early.json()["code"] == "not_verified"
    upload = await client.post(f"{base}/documents",
                               files={"file": ("auth.pdf", PDF, "application/pdf")},
                               data={"kind": "authorization", "expires_on": "2099-01-01"})
    assert upload.status_code == 201, upload.text
    doc_id = upload.json()["id"]
    bad = await client.post(f"{base}/documents",
                            files={"file": ("x.pdf", b"not a pdf at all", "application/pdf")})
    assert bad.status_code == 400 and bad.json()["code"] == "unsupported_type"
    verified = await client.post(f"{base}/verify", json={
        "identity_method": "phone_callback", "id_document_type": "state_id",
        "id_document_last4": "7Q2k", "authority": "parent of a minor",
        "authorization_document_id": doc_id})
    assert verified.status_code == 200, verified.text
    not_ready = await client.post(f"{base}/deliver", json={})
    assert not_ready.status_code == 409 and not_ready.json()["code"] == "invalid_transition"
    quoted = await client.post(f"{base}/quote")
    assert quoted.json()["fee_cents"] == 650 and quoted.json()["status"] == "fee_quoted"
    assert (await client.post(f"{base}/waive", json={"reason": "hardship"})).json()["status"] \
        == "waived"
    assert (await client.post(f"{base}/prepare")).json()["status"] == "prepared"
    assert (await client.post(f"{base}/bogus")).status_code == 404  # no such step: no route
    ledger = await client.get("/billing/ledger")  # the front desk's D9961 ledger
    assert ledger.status_code == 200 and "waived" in ledger.text and "hardship" in ledger.text
    # A forged Host must not reach the link: it is built from TOOTHLINE_PUBLIC_URL only.
    no_method = await client.post(f"{base}/deliver", json={})
    assert no_method.status_code == 422
    assert no_method.json()["code"] == "delivery_method_required"
    odd_method = await client.post(f"{base}/deliver", json={"delivery_method": "pigeon"})
    assert odd_method.status_code == 422
    assert odd_method.json()["code"] == "delivery_method_invalid"
    delivered = await client.post(f"{base}/deliver", json={"delivery_method": "email"},
                                  headers={"host": "evil.example"})
    assert delivered.status_code == 200, delivered.text
    answer = delivered.json()
    public_url = client.app.state.settings.server.public_url
    assert answer["download_url"].startswith(f"{public_url}/records/download/")
    assert "evil.example" not in delivered.text
    assert set(answer) >= {"download_url", "expires_at", "uses_left"}
    assert answer["uses_left"] == 5
    expires = dt.datetime.fromisoformat(answer["expires_at"])
    assert dt.timedelta(days=6, hours=23) < expires - dt.datetime.now(dt.UTC) \
        <= dt.timedelta(days=7)
    path = answer["download_url"].split("://", 1)[1].split("/", 1)[1]

    await client.post("/logout", headers={"x-csrftoken": await csrf_token(client)})
    got = await client.get("/" + path)  # public: the link is the credential
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        index = json.loads(archive.read("index.json"))
        for entry in index["files"]:
            assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"]
    assert {e["case_id"] for e in index["files"] if e["case_id"]} == {str(case.case_id)}
    assert await _count(app_db, "records_package.downloaded") == 1

    # Expired: refused, and the refusal stays in the audit trail.
    await app_db.execute(update(DownloadLink).values(
        expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    await app_db.commit()
    late = await client.get("/" + path)
    assert late.status_code == 409 and "expired" in late.text
    # Used up.
    await app_db.execute(update(DownloadLink).values(
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1), uses_left=0))
    await app_db.commit()
    assert (await client.get("/" + path)).status_code == 409
    assert (await client.get("/records/download/not-a-token")).status_code == 404
    assert await _count(app_db, "records_link.refused") == 3


async def test_a_document_that_claims_to_be_a_pdf_must_parse(
    client: AsyncTestClient[Litestar], app_db: AsyncSession
):
    patient = await demo_patient(app_db)
    await _login(client, "billing@demo.test")
    created = await client.post("/api/v1/records-requests", json={
        "requester": "patient", "records": "all", "format": "electronic",
        "patient_id": str(patient.id), "received_via": "phone"})
    assert created.status_code == 201, created.text
    base = f"/api/v1/records-requests/{created.json()['id']}/documents"
    for name, data in hostile_pdfs().items():
        refused = await client.post(base, files={"file": (f"{name}.pdf", data, "application/pdf")})
        assert refused.status_code == 422, (name, refused.text)
        assert refused.json()["code"] == "invalid_pdf", name
    assert await _count(app_db, "records_document.uploaded") == 0
    kept = await client.post(base, files={"file": ("ok.pdf", real_pdf(2), "application/pdf")})
    assert kept.status_code == 201, kept.text
    assert await _count(app_db, "records_document.uploaded") == 1


async def test_patient_page_and_own_download(
    client: AsyncTestClient[Litestar], app_db: AsyncSession
):
    patient = await demo_patient(app_db)
    await signed_case(app_db, client.app.state.blobs, patient, collected_on=dt.date(2026, 1, 10))
    await _login(client, "patient@demo.test")
    asked = await client.post("/api/v1/records-requests", json={
        "requester": "patient", "records": "all", "format": "electronic"})
    assert asked.status_code == 201, asked.text
    rid = asked.json()["id"]
    assert "identity_method" not in asked.json()  # staff details are not the patient's view
    assert (await client.post(f"/api/v1/records-requests/{rid}/verify", json={})).status_code \
        == 403
    page = await client.get("/patient/records")
    assert page.status_code == 200 and 'id="patient-requests"' in page.text
    assert "Download my records" not in page.text

    await _switch(client, "billing@demo.test")
    base = f"/api/v1/records-requests/{rid}"
    await client.post(f"{base}/verify", json={"identity_method": "portal_login",
                                              "id_document_type": "passport",
                                              "id_document_last4": "0042", "authority": "self"})
    await client.post(f"{base}/quote")
    await client.post(f"{base}/waive", json={})
    await client.post(f"{base}/prepare")
    assert (await client.post(f"{base}/deliver",
                              json={"delivery_method": "portal"})).status_code == 200

    await _switch(client, "patient@demo.test")
    fragment = await client.get("/patient/records",
                                headers={"hx-request": "true", "hx-target": "patient-requests"})
    assert 'id="patient-requests"' in fragment.text and "<html" not in fragment.text
    assert "Download my records" in fragment.text
    got = await client.get(f"/patient/records/{rid}/download")
    assert got.status_code == 200 and got.content.startswith(b"PK")
    assert await _count(app_db, "records_package.downloaded") == 1


async def test_refusals_by_role_and_organization(
    client: AsyncTestClient[Litestar], app_db: AsyncSession
):
    outsider = await other_org_patient(app_db)
    patient = await demo_patient(app_db)
    body = {"requester": "patient", "records": "all", "format": "electronic"}
    anonymous = await client.post("/api/v1/records-requests", json=body,
                                  headers={"x-csrftoken": await csrf_token(client)})
    assert anonymous.status_code == 401
    await _login(client, "billing@demo.test")
    foreign = await client.post("/api/v1/records-requests",
                                json={**body, "patient_id": str(outsider.id)})
    assert foreign.status_code == 404
    mine = await client.post("/api/v1/records-requests",
                             json={**body, "patient_id": str(patient.id)})
    rid = mine.json()["id"]
    bad = await client.post("/api/v1/records-requests",
                            json={**body, "requester": "neighbour", "patient_id": str(patient.id)})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_requester"
    desk = await client.get("/records")
    assert desk.status_code == 200 and rid in desk.text
    for email in ("dentist@demo.test", "hygienist@demo.test", "admin@demo.test"):
        await _switch(client, email)
        assert (await client.get(f"/api/v1/records-requests/{rid}")).status_code == 403, email
        assert (await client.get("/records")).status_code == 403, email


async def test_bodies_are_typed_and_each_step_is_a_route(
    client: AsyncTestClient[Litestar], app_db: AsyncSession
):
    """Unknown keys and wrong JSON types answer 400 ``invalid`` naming the field; values keep
    the services' codes; an optional body stays optional; a step that does not exist has no
    route (404 on the API and the pages); the OpenAPI schema describes the bodies."""
    patient = await demo_patient(app_db)
    await _login(client, "billing@demo.test")
    body = {"requester": "patient", "records": "all", "format": "electronic",
            "patient_id": str(patient.id)}
    for wrong in ({**body, "colour": "blue"}, {**body, "requester": 5},
                  {**body, "records": {"from": "2026-01-01", "case": []}},
                  {**body, "records": {"include_originals": "yes", "from": "2026-01-01"}}):
        refused = await client.post("/api/v1/records-requests", json=wrong)
        assert refused.status_code == 400 and refused.json()["code"] == "invalid", wrong
    missing = await client.post("/api/v1/records-requests", json={"format": "electronic"})
    assert missing.status_code == 400 and missing.json()["code"] == "invalid_requester"
    some = await client.post("/api/v1/records-requests", json={
        **body, "records": {"from": "2026-01-01", "to": "2026-02-01", "include_originals": True}})
    assert some.status_code == 201, some.text
    assert some.json()["records"]["from"] == "2026-01-01"
    base = f"/api/v1/records-requests/{some.json()['id']}"
    assert (await client.post(f"{base}/verify", json={"identity": "x"})).status_code == 400
    incomplete = await client.post(f"{base}/verify", json={"authority": "self"})
    assert incomplete.status_code == 400
    assert incomplete.json()["code"] == "verification_incomplete"
    assert (await client.post(f"{base}/deliver", json={"method": 5})).status_code == 400
    assert (await client.post(f"{base}/refuse", json={"why": "x"})).status_code == 400
    no_reason = await client.post(f"{base}/refuse")
    assert no_reason.status_code == 400 and no_reason.json()["code"] == "reason_required"
    assert (await client.post(f"{base}/verify", json={
        "identity_method": "in_person_photo_id", "id_document_type": "drivers_license",
        "id_document_last4": "1234", "authority": "self"})).status_code == 200
    assert (await client.post(f"{base}/quote")).json()["status"] == "fee_quoted"
    waived = await client.post(f"{base}/waive")  # the body is optional
    assert waived.status_code == 200 and waived.json()["status"] == "waived"
    assert (await client.post(f"{base}/bogus", json={})).status_code == 404
    page = await client.post(f"/records/{some.json()['id']}/bogus", follow_redirects=False)
    assert page.status_code == 404
    refused = await client.post(f"/records/{some.json()['id']}/refuse",
                                data={"reason": "not our patient"}, follow_redirects=False)
    assert refused.status_code == 303
    assert (await client.get(base)).json()["refused_reason"] == "not our patient"

    schema = (await client.get("/schema/openapi.json")).json()
    paths, parts = schema["paths"], schema["components"]["schemas"]
    assert set(parts["NewRequestIn"]["properties"]) >= {"requester", "records", "format",
                                                        "patient_id", "received_at"}
    assert set(parts["RecordsSelectionIn"]["properties"]) == {"from", "to", "case_ids",
                                                              "include_originals"}
    for step in ("waive", "check", "refuse", "extend"):
        body_schema = paths[f"/api/v1/records-requests/{{request_id}}/{step}"]["post"]
        assert "StepNoteIn" in json.dumps(body_schema["requestBody"]), step
    for step in ("quote", "pay", "prepare"):
        assert "requestBody" not in paths[f"/api/v1/records-requests/{{request_id}}/{step}"][
            "post"], step
    assert "VerificationIn" in json.dumps(paths["/api/v1/records-requests/{request_id}/verify"])
    assert "DeliverIn" in json.dumps(paths["/api/v1/records-requests/{request_id}/deliver"])


async def test_page_steps_and_the_link_shown_once(
    client: AsyncTestClient[Litestar], app_db: AsyncSession
):
    """The desk's forms walk a request through the step routes; the release answers the
    page with the link (from TOOTHLINE_PUBLIC_URL), the request's page later does not."""
    patient = await demo_patient(app_db)
    await signed_case(app_db, client.app.state.blobs, patient, collected_on=dt.date(2026, 1, 10))
    await _login(client, "billing@demo.test")
    logged = await client.post("/records", data={
        "requester": "patient", "records": "all", "format": "electronic",
        "patient_id": str(patient.id), "deliver_to": "portal"}, follow_redirects=False)
    assert logged.status_code == 303, logged.text
    base = logged.headers["location"]
    verified = await client.post(f"{base}/verify", data={
        "identity_method": "in_person_photo_id", "id_document_type": "drivers_license",
        "id_document_last4": "9876", "authority": "self"}, follow_redirects=False)
    assert verified.status_code == 303 and verified.headers["location"] == base
    for action in ("quote", "waive", "prepare"):
        moved = await client.post(f"{base}/{action}", follow_redirects=False)
        assert moved.status_code == 303 and moved.headers["location"] == base, action
    released = await client.post(f"{base}/deliver", data={"delivery_method": "portal"})
    public_url = client.app.state.settings.server.public_url
    assert released.status_code == 200 and 'id="download-url"' in released.text
    assert f"{public_url}/records/download/" in released.text
    again = await client.get(base)
    assert "delivered" in again.text and 'id="download-url"' not in again.text
