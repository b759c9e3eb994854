"""The patient registry: register, search, read (scoped and audited), invite, reset."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, Patient, User, patient_login
from tests.integration.accounts.helpers import Client, demo_ids, new_token, post_form
from tests.support.portal import sign_in
from tests.support.views import view_actions


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def child(org_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "organization_id": org_id, "first_name": "Mia", "last_name": "Lopez",
        "date_of_birth": date(date.today().year - 8, 5, 1).isoformat(),
        "guardian_name": "Rosa Lopez", "guardian_email": "rosa@example.test",
        "guardian_phone": "+1 559 555 0101", "address_line": "1 Oak St", "city": "Fresno",
        "state": "ca", "postal_code": "93721", "payer_name": "Medi-Cal Dental",
        "member_id": "M-123", "student_id": "S-42", "school": "Lincoln Elementary",
        "grade": "3", **extra,
    }


async def test_register_search_and_read(client: Client, database_url: str,
                                        db: AsyncSession) -> None:
    ids = await demo_ids(database_url)
    hyg = bearer(await new_token(client, "hygienist@demo.test"))
    created = await client.post("/api/v1/patients", headers=hyg,
                                json=child(str(ids["school"]), invite=True, invite_guardian=True))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["state"] == "CA" and body["guardian_name"] == "Rosa Lopez"
    invitation = body["invitation"]
    assert invitation["email"] == "rosa@example.test" and invitation["url"].count("/access/") == 1

    by_name = await client.get("/api/v1/patients", params={"q": "mi lop"}, headers=hyg)
    assert [p["id"] for p in by_name.json()["patients"]] == [body["id"]]
    by_student = await client.get("/api/v1/patients", params={"q": "S-42"}, headers=hyg)
    assert [p["id"] for p in by_student.json()["patients"]] == [body["id"]]
    # the clinic's patient is outside the school hygienist's reach
    assert (await client.get("/api/v1/patients", params={"q": "pat"}, headers=hyg)).json() == {
        "patients": []}
    assert (await client.get(f"/api/v1/patients/{ids['patient']}", headers=hyg)).status_code == 404
    dentist = bearer(await new_token(client, "dentist@demo.test"))
    assert (await client.get(f"/api/v1/patients/{body['id']}", headers=dentist)).status_code == 200
    assert await view_actions(db, body["id"]) == ["patient.viewed"]
    searched = (await db.scalars(select(AuditEvent).where(
        AuditEvent.action == "patient.searched"))).all()
    assert searched and all("Lopez" not in repr(e.details) for e in searched)


async def test_minor_needs_a_guardian_and_fields_are_checked(client: Client,
                                                             database_url: str) -> None:
    ids = await demo_ids(database_url)
    desk = bearer(await new_token(client, "billing@demo.test"))
    no_guardian = child(str(ids["clinic"]), guardian_name="")
    response = await client.post("/api/v1/patients", headers=desk, json=no_guardian)
    assert response.status_code == 422 and response.json()["code"] == "guardian_required"
    bad_state = await client.post("/api/v1/patients", headers=desk,
                                  json=child(str(ids["clinic"]), state="Zz"))
    assert bad_state.json()["code"] == "invalid_state"
    no_org = await client.post("/api/v1/patients", headers=desk, json={
        k: v for k, v in child(str(ids["clinic"])).items() if k != "organization_id"})
    assert no_org.status_code == 400 and no_org.json()["code"] == "organization_required"
    ok = await client.post("/api/v1/patients", headers=desk, json=child(str(ids["clinic"])))
    assert ok.status_code == 201
    again = await client.post("/api/v1/patients", headers=desk, json=child(str(ids["clinic"])))
    assert again.status_code == 409


async def test_cannot_register_into_another_organization(client: Client, database_url: str) -> None:
    ids = await demo_ids(database_url)
    hyg = bearer(await new_token(client, "hygienist@demo.test"))
    response = await client.post("/api/v1/patients", headers=hyg, json=child(str(ids["clinic"])))
    assert response.status_code == 404


async def test_guardian_is_linked_to_two_children_and_sees_only_them(
    client: Client, database_url: str, db: AsyncSession
) -> None:
    ids = await demo_ids(database_url)
    hyg = bearer(await new_token(client, "hygienist@demo.test"))
    first = (await client.post("/api/v1/patients", headers=hyg, json=child(
        str(ids["school"]), invite=True, invite_guardian=True))).json()
    second = (await client.post("/api/v1/patients", headers=hyg, json=child(
        str(ids["school"]), first_name="Leo", student_id="S-43"))).json()
    invited = await client.post(f"/api/v1/patients/{second['id']}/invitations", headers=hyg,
                                json={"guardian": True})
    assert invited.status_code == 201
    assert set(invited.json()) == {"invitation_id", "email", "status", "url", "expires_at"}
    # nothing is linked before the invitation is accepted
    assert await db.scalar(select(func.count()).select_from(patient_login).where(
        patient_login.c.patient_id.in_([first["id"], second["id"]]))) == 0
    # the newest link sets the first password; the earlier one now only asks to sign in
    stale = first["invitation"]["url"].rsplit("/", 1)[1]
    assert 'id="accept-invitation"' in (await client.get(f"/access/{stale}")).text
    refused = await post_form(client, f"/access/{stale}", {
        "password": "guardian passphrase", "password_confirm": "guardian passphrase"})
    assert refused.status_code == 404
    token = invited.json()["url"].rsplit("/", 1)[1]
    assert 'id="set-password"' in (await client.get(f"/access/{token}")).text
    done = await post_form(client, f"/access/{token}", {
        "password": "guardian passphrase", "password_confirm": "guardian passphrase"})
    assert done.status_code == 303
    guardian = bearer(await new_token(client, "rosa@example.test", "guardian passphrase"))
    me = (await client.get("/api/v1/me", headers=guardian)).json()
    assert me["role"] == "patient" and me["patient_ids"] == [second["id"]]
    pending = (await client.get("/api/v1/me/links", headers=guardian)).json()["invitations"]
    assert [p["patient"] for p in pending] == ["Mia L."]
    accepted = await client.post(f"/api/v1/me/links/{pending[0]['id']}/accept",
                                 headers=guardian)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    guardian = bearer(await new_token(client, "rosa@example.test", "guardian passphrase"))
    me = (await client.get("/api/v1/me", headers=guardian)).json()
    assert set(me["patient_ids"]) == {first["id"], second["id"]}
    for own in (first["id"], second["id"]):
        assert (await client.get(f"/api/v1/patients/{own}", headers=guardian)).status_code == 200
    assert (await client.get(f"/api/v1/patients/{ids['patient']}",
                             headers=guardian)).status_code == 404
    assert (await client.get("/api/v1/patients", headers=guardian)).status_code == 403


async def test_staff_email_is_invited_like_any_other_and_can_never_accept(
    client: Client, database_url: str, db: AsyncSession
) -> None:
    ids = await demo_ids(database_url)
    desk = bearer(await new_token(client, "billing@demo.test"))
    response = await client.post(f"/api/v1/patients/{ids['patient']}/invitations", headers=desk,
                                 json={"email": "dentist@demo.test"})
    assert response.status_code == 201
    assert set(response.json()) == {"invitation_id", "email", "status", "url", "expires_at"}
    token = response.json()["url"].rsplit("/", 1)[1]
    assert 'id="accept-invitation"' in (await client.get(f"/access/{token}")).text
    dentist = bearer(await new_token(client, "dentist@demo.test"))
    assert (await client.post(f"/api/v1/me/links/{response.json()['invitation_id']}/accept",
                              headers=dentist)).status_code == 403
    assert await db.scalar(select(func.count()).select_from(patient_login).where(
        patient_login.c.user_id == ids["dentist@demo.test"])) == 0


async def test_staff_reset_link_ends_the_patients_sessions(
    client: Client, database_url: str, db: AsyncSession
) -> None:
    ids = await demo_ids(database_url)
    patient_token = await new_token(client, "patient@demo.test")
    await sign_in(client, "patient@demo.test")
    assert (await client.get("/api/v1/me")).status_code == 200
    desk = bearer(await new_token(client, "billing@demo.test"))
    user_id = ids["patient@demo.test"]
    reset = await client.post(
        f"/api/v1/patients/{ids['patient']}/logins/{user_id}/password-reset", headers=desk)
    assert reset.status_code == 201
    assert (await client.get("/api/v1/me")).status_code == 401  # the session ended
    token = reset.json()["url"].rsplit("/", 1)[1]
    assert (await post_form(client, f"/access/{token}", {
        "password": "fresh patient passphrase",
        "password_confirm": "fresh patient passphrase"})).status_code == 303
    assert (await client.get("/api/v1/me", headers=bearer(patient_token))).status_code == 401
    user = await db.get(User, user_id)
    assert user is not None and user.password_changed_at is not None
    outsider = bearer(await new_token(client, "hygienist@demo.test"))
    refused = await client.post(
        f"/api/v1/patients/{ids['patient']}/logins/{user_id}/password-reset", headers=outsider)
    assert refused.status_code == 404


async def test_pages_register_find_and_invite(client: Client, db: AsyncSession,
                                              database_url: str) -> None:
    ids = await demo_ids(database_url)
    await sign_in(client, "coordinator@demo.test")
    assert 'id="patient-form"' in (await client.get("/patients/new")).text
    form = {k: str(v) for k, v in child(str(ids["clinic"])).items()}
    created = await post_form(client, "/patients", form)
    assert created.status_code == 303, created.text
    location = created.headers["location"]
    detail = await client.get(location)
    assert "Mia Lopez" in detail.text and "Portal logins" in detail.text
    invited = await post_form(client, f"{location}/invitations", {"guardian": "yes"})
    assert invited.status_code == 200 and 'id="access-link"' in invited.text
    results = await client.get("/patients", params={"q": "lopez"},
                               headers={"hx-request": "true", "hx-target": "patient-results"})
    assert 'id="patient-results"' in results.text and "<html" not in results.text
    assert "Lopez, Mia" in results.text
    bad = await post_form(client, "/patients", {**form, "date_of_birth": ""})
    assert bad.status_code == 422
    assert await db.scalar(select(func.count()).select_from(Patient)) == 2
