"""API tokens expire, carry scopes, and end when the owner's grant changes (role,
organizations, deactivation, password reset) — whichever code path changed it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ApiToken, AuditEvent, Patient, User, user_organization
from tests.integration.accounts.helpers import Client, demo_ids, post_form
from tests.support.portal import DEMO_PASSWORD, sign_in


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def create(client: Client, email: str, **extra: Any) -> Any:
    return await client.post("/api/v1/tokens", json={
        "email": email, "password": DEMO_PASSWORD, "name": "grant test", **extra})


async def token_for(client: Client, email: str, **extra: Any) -> str:
    response = await create(client, email, **extra)
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


async def works(client: Client, token: str) -> bool:
    response = await client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code in {200, 401}, response.text
    if response.status_code == 401:
        assert response.json()["code"] == "not_authenticated"
    return response.status_code == 200


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


async def statuses(client: Client, email: str) -> list[str]:
    """The owner's token list, read through a session of the owner."""
    await sign_in(client, email)
    listed = await client.get("/api/v1/tokens")
    assert listed.status_code == 200, listed.text
    return [t["status"] for t in listed.json()["tokens"]]


# ------------------------------------------------------------------ expiry


async def test_token_answer_carries_expiry_scopes_and_status(client: Client) -> None:
    before = datetime.now(UTC)
    response = await create(client, "dentist@demo.test")
    assert response.status_code == 201
    body = response.json()
    assert body["scopes"] == ["read", "write"]  # the default: what tokens could always do
    assert body["status"] == "active"
    expires = parse(body["expires_at"])
    assert before + timedelta(days=90) <= expires <= datetime.now(UTC) + timedelta(days=90)
    listed = (await client.get("/api/v1/tokens", headers=bearer(body["token"]))).json()
    [row] = listed["tokens"]
    assert row["expires_at"] == body["expires_at"]
    assert row["scopes"] == ["read", "write"] and row["status"] == "active"


async def test_token_days_setting_sets_the_lifetime(client_factory: Any) -> None:
    client = await client_factory(API_TOKEN_DAYS="7")
    body = (await create(client, "dentist@demo.test")).json()
    expires = parse(body["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=5)


async def test_expired_token_answers_401_like_an_unknown_one(
    client: Client, db: AsyncSession
) -> None:
    token = await token_for(client, "dentist@demo.test")
    assert await works(client, token)
    await db.execute(update(ApiToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    await db.commit()
    response = await client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    unknown = await client.get("/api/v1/me", headers=bearer("tl_not-a-real-token"))
    assert response.json() == unknown.json()
    assert await statuses(client, "dentist@demo.test") == ["expired"]


# ------------------------------------------------------------------ scopes


async def test_read_token_reads_but_cannot_change_anything(
    client: Client, db: AsyncSession, database_url: str
) -> None:
    ids = await demo_ids(database_url)
    created = await create(client, "billing@demo.test", scopes=["read"])
    assert created.status_code == 201 and created.json()["scopes"] == ["read"]
    token = created.json()["token"]
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    assert (await client.get("/api/v1/tokens", headers=bearer(token))).status_code == 200
    patients_before = len((await db.scalars(select(Patient.id))).all())
    refused = await client.post("/api/v1/patients", headers=bearer(token), json={
        "first_name": "Ana", "last_name": "Api", "date_of_birth": "1980-01-02", "state": "CA",
        "organization_id": str(ids["clinic"])})
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_scope"
    assert refused.json()["scopes"] == ["read"]
    assert "insufficient_scope" in refused.headers["www-authenticate"]
    assert refused.headers["x-content-type-options"] == "nosniff"  # the app's headers too
    assert len((await db.scalars(select(Patient.id))).all()) == patients_before
    # every unsafe method, on a guarded route and on a public one, before any handler runs
    token_id = created.json()["id"]
    revoke = await client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(token))
    assert revoke.status_code == 403 and revoke.json()["code"] == "insufficient_scope"
    public = await client.post("/api/v1/tokens", headers=bearer(token), json={
        "email": "billing@demo.test", "password": DEMO_PASSWORD, "name": "escalate"})
    assert public.status_code == 403 and public.json()["code"] == "insufficient_scope"
    assert len((await db.scalars(select(ApiToken.id))).all()) == 1
    nowhere = uuid.uuid4()  # a write token would get 404 here: the handler never runs
    for method, path in (("PUT", f"/api/v1/cases/{nowhere}/claim-lines"),
                         ("PATCH", f"/api/v1/referrals/{nowhere}")):
        answer = await client.request(method, path, headers=bearer(token), json={})
        assert answer.status_code == 403, (method, answer.text)
        assert answer.json()["code"] == "insufficient_scope"
    assert await works(client, token)


async def test_write_token_may_change_things(client: Client, database_url: str) -> None:
    ids = await demo_ids(database_url)
    created = await create(client, "billing@demo.test", scopes=["write"])
    assert created.json()["scopes"] == ["read", "write"]  # write includes read
    response = await client.post("/api/v1/patients", headers=bearer(created.json()["token"]),
                                 json={"first_name": "Ana", "last_name": "Api",
                                       "date_of_birth": "1980-01-02", "state": "CA",
                                       "organization_id": str(ids["clinic"])})
    assert response.status_code == 201, response.text


async def test_unknown_or_empty_scopes_are_refused(client: Client, db: AsyncSession) -> None:
    for scopes in (["admin"], [], ["read", "delete"]):
        response = await create(client, "dentist@demo.test", scopes=scopes)
        assert response.status_code == 422, (scopes, response.text)
        assert response.json()["code"] == "invalid_scope"
    assert await db.scalar(select(ApiToken.id)) is None
    assert await db.scalar(
        select(AuditEvent.id).where(AuditEvent.action == "session.signed_in")) is None


async def test_account_page_issues_read_only_tokens_and_shows_expiry(client: Client) -> None:
    await sign_in(client, "coordinator@demo.test")
    created = await post_form(client, "/account/tokens", {"name": "reports", "scopes": "read"})
    assert created.status_code == 200
    secret = created.text.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert "read only" in created.text and 'data-token-status="active"' in created.text
    [row] = (await client.get("/api/v1/tokens")).json()["tokens"]
    assert row["scopes"] == ["read"]
    assert parse(row["expires_at"]).strftime("%Y-%m-%d %H:%M") in created.text
    refused = await client.post("/api/v1/cases", headers=bearer(secret), json={})
    assert refused.status_code == 403 and refused.json()["code"] == "insufficient_scope"
    bad = await post_form(client, "/account/tokens", {"name": "x", "scopes": "sudo"})
    assert bad.status_code == 422 and "Unknown scope" in bad.text


# ------------------------------------------------------------------ the grant changes


def staff_form(ids: dict[str, uuid.UUID], **changes: Any) -> list[tuple[str, str]]:
    """The admin form for dentist2 as seeded, with ``changes``."""
    values: dict[str, Any] = {"display_name": "Dr. Sam Second", "role": "dentist",
                              "npi": "1538296546", "is_active": "yes",
                              "organization_ids": [ids["clinic"], ids["school"]], **changes}
    pairs = [(k, str(v)) for k, v in values.items() if k != "organization_ids" and v is not None]
    pairs += [("organization_ids", str(org)) for org in values["organization_ids"]]
    return pairs


async def admin_saves(client: Client, ids: dict[str, uuid.UUID], **changes: Any) -> None:
    await sign_in(client, "admin@demo.test")
    saved = await post_form(client, f"/admin/users/{ids['dentist2@demo.test']}",
                            staff_form(ids, **changes))
    assert saved.status_code == 303, saved.text


async def test_role_change_ends_the_token(client: Client, database_url: str) -> None:
    ids = await demo_ids(database_url)
    token = await token_for(client, "dentist2@demo.test")
    await admin_saves(client, ids, role="coordinator", npi=None)
    assert not await works(client, token)
    assert await statuses(client, "dentist2@demo.test") == ["invalidated"]


async def test_organization_change_ends_the_token(client: Client, database_url: str) -> None:
    ids = await demo_ids(database_url)
    token = await token_for(client, "dentist2@demo.test")
    await admin_saves(client, ids)  # nothing changed: the token lives on
    assert await works(client, token)
    await admin_saves(client, ids, organization_ids=[ids["clinic"]])
    assert not await works(client, token)


async def test_a_grant_change_from_any_code_path_ends_the_token(
    client: Client, db: AsyncSession, database_url: str
) -> None:
    """No call to remember: a role or organization written straight to the database (as a
    future flow might, e.g. a patient accepting a link to another organization) is enough."""
    ids = await demo_ids(database_url)
    patient = ids["patient@demo.test"]
    token = await token_for(client, "patient@demo.test")
    assert await works(client, token)
    await db.execute(user_organization.insert().values(user_id=patient,
                                                       organization_id=ids["school"]))
    await db.commit()
    assert not await works(client, token)
    await db.execute(delete(user_organization).where(
        user_organization.c.user_id == patient,
        user_organization.c.organization_id == ids["school"]))
    await db.commit()
    assert await works(client, token)  # the same grant again: the fingerprint matches
    dentist = await token_for(client, "dentist@demo.test")
    await db.execute(update(User).where(User.email == "dentist@demo.test")
                     .values(role="front_desk"))
    await db.commit()
    assert not await works(client, dentist)


async def test_deactivation_ends_the_token_for_good(client: Client, database_url: str) -> None:
    ids = await demo_ids(database_url)
    token = await token_for(client, "dentist2@demo.test")
    await admin_saves(client, ids, is_active="no")
    assert not await works(client, token)
    await admin_saves(client, ids, is_active="yes")
    assert not await works(client, token)  # reactivation does not bring it back
    assert await statuses(client, "dentist2@demo.test") == ["invalidated"]
    fresh = await token_for(client, "dentist2@demo.test")
    assert await works(client, fresh)


async def test_password_reset_ends_the_token(client: Client, database_url: str) -> None:
    ids = await demo_ids(database_url)
    token = await token_for(client, "dentist2@demo.test")
    await sign_in(client, "admin@demo.test")
    reset = await post_form(client, f"/admin/users/{ids['dentist2@demo.test']}/reset", {})
    assert reset.status_code == 200
    assert not await works(client, token)  # ended when the reset was issued
    url = reset.text.split('id="access-link">', 1)[1].split("<", 1)[0]
    link = url.rsplit("/access/", 1)[1]
    client.cookies.clear()
    done = await post_form(client, f"/access/{link}", {
        "password": "a-new-password-456", "password_confirm": "a-new-password-456"})
    assert done.status_code == 303, done.text
    assert not await works(client, token)
    second = await client.post("/api/v1/tokens", json={
        "email": "dentist2@demo.test", "password": "a-new-password-456", "name": "after"})
    assert second.status_code == 201
    assert await works(client, second.json()["token"])
