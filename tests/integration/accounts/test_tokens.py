"""API tokens: issued once, stored hashed, /me, revocation, bearer requests skip CSRF."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ApiToken, AuditEvent
from tests.integration.accounts.helpers import Client, new_token, post_form
from tests.support.portal import sign_in


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_token_is_returned_once_and_stored_hashed(client: Client, db: AsyncSession) -> None:
    response = await client.post("/api/v1/tokens", json={
        "email": "Dentist@Demo.Test ", "password": "demo-password-123", "name": "scheduler"})
    assert response.status_code == 201
    secret = response.json()["token"]
    row = await db.scalar(select(ApiToken))
    assert row is not None
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(row.__dict__)
    assert row.prefix == secret[:12] and row.name == "scheduler"
    listed = await client.get("/api/v1/tokens", headers=bearer(secret))
    assert listed.status_code == 200
    assert "token" not in listed.json()["tokens"][0]
    assert listed.json()["tokens"][0]["prefix"] == row.prefix
    assert await db.scalar(select(AuditEvent.id).where(AuditEvent.action == "api_token.created"))


async def test_me_for_staff_and_patient(client: Client) -> None:
    desk = bearer(await new_token(client, "billing@demo.test"))
    staff = await client.get("/api/v1/me", headers=desk)
    body = staff.json()
    assert set(body) == {"id", "email", "role", "organizations"}
    assert body["role"] == "front_desk"
    assert {o["name"] for o in body["organizations"]} == {"Demo Dental Clinic",
                                                          "Demo School Program"}
    patient = await client.get("/api/v1/me",
                               headers=bearer(await new_token(client, "patient@demo.test")))
    assert patient.json()["role"] == "patient"
    assert patient.json()["patient_id"]
    own = await client.get(f"/api/v1/patients/{patient.json()['patient_id']}",
                           headers=bearer(await new_token(client, "patient@demo.test")))
    assert own.status_code == 200 and own.json()["first_name"] == "Pat"


async def test_me_without_a_valid_token_is_401(client: Client) -> None:
    assert (await client.get("/api/v1/me")).status_code == 401
    for value in ("Bearer tl_not-a-real-token", "Bearer ", "Basic abc", "Bearer x" * 100):
        response = await client.get("/api/v1/me", headers={"authorization": value})
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


async def test_revoked_token_stops_working(client: Client) -> None:
    secret = await new_token(client, "dentist@demo.test")
    listed = (await client.get("/api/v1/tokens", headers=bearer(secret))).json()["tokens"]
    revoke = await client.delete(f"/api/v1/tokens/{listed[0]['id']}", headers=bearer(secret))
    assert revoke.status_code == 204
    assert (await client.get("/api/v1/me", headers=bearer(secret))).status_code == 401


async def test_cannot_revoke_someone_elses_token(client: Client) -> None:
    mine = await new_token(client, "dentist@demo.test")
    theirs = await new_token(client, "dentist2@demo.test")
    listed = await client.get("/api/v1/tokens", headers=bearer(theirs))
    their_id = listed.json()["tokens"][0]["id"]
    response = await client.delete(f"/api/v1/tokens/{their_id}", headers=bearer(mine))
    assert response.status_code == 404
    assert (await client.get("/api/v1/me", headers=bearer(theirs))).status_code == 200


async def test_tokens_listed_and_revoked_on_the_account_page(client: Client) -> None:
    await sign_in(client, "coordinator@demo.test")
    created = await post_form(client, "/account/tokens", {"name": "reports"})
    assert created.status_code == 200
    assert 'id="new-token"' in created.text
    page = await client.get("/account")
    assert "reports" in page.text and 'id="new-token"' not in page.text
    secret = created.text.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert (await client.get("/api/v1/me", headers=bearer(secret))).status_code == 200
    token_id = (await client.get("/api/v1/tokens")).json()["tokens"][0]["id"]
    revoked = await post_form(client, f"/account/tokens/{token_id}/revoke", {})
    assert revoked.status_code == 303
    assert (await client.get("/api/v1/me", headers=bearer(secret))).status_code == 401


async def test_bearer_requests_need_no_csrf_token(client: Client) -> None:
    secret = await new_token(client, "billing@demo.test")
    response = await client.post("/api/v1/patients", headers=bearer(secret), json={
        "first_name": "Ana", "last_name": "Api", "date_of_birth": "1980-01-02", "state": "CA",
        "organization_id": (await client.get("/api/v1/me", headers=bearer(secret))).json()[
            "organizations"][0]["id"]})
    assert response.status_code == 201, response.text


async def test_wrong_credentials_on_the_token_api(client: Client) -> None:
    response = await client.post("/api/v1/tokens", json={
        "email": "dentist@demo.test", "password": "nope-nope-nope", "name": "x"})
    assert response.status_code == 401
    assert response.json() == {"code": "invalid_credentials",
                               "message": "The email or password is not right."}
