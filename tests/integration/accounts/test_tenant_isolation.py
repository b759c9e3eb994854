"""The cross-organization login takeover (issue 15), tried step by step from the demo
hygienist (Demo School Program) against ``patient@demo.test`` (Demo Dental Clinic).

Before the fix: inviting the clinic patient's email to a school patient linked the existing
login to the school, and the school's staff could then issue a reset link for it and set its
password. Every step must now fail, and the login's organizations stay the clinic's until the
patient accepts the invitation themself.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.passwords import verify_password
from storage.models import Organization, User, patient_login
from tests.integration.accounts.helpers import Client, demo_ids, new_token, post_form
from tests.support.portal import DEMO_PASSWORD, sign_in

ATTACKER_PASSWORD = "attacker chosen passphrase"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _organizations_of(db: AsyncSession, user_id: uuid.UUID) -> set[str]:
    db.expire_all()
    user = await db.get(User, user_id)
    assert user is not None
    return {org.name for org in user.organizations}


async def _links_of(db: AsyncSession, user_id: uuid.UUID) -> set[uuid.UUID]:
    rows = await db.scalars(select(patient_login.c.patient_id)
                            .where(patient_login.c.user_id == user_id))
    return set(rows.all())


async def _school_patient(client: Client, hyg: dict[str, str], school: uuid.UUID) -> str:
    created = await client.post("/api/v1/patients", headers=hyg, json={
        "organization_id": str(school), "first_name": "Decoy", "last_name": "Child",
        "date_of_birth": date(date.today().year - 9, 1, 1).isoformat(),
        "guardian_name": "Decoy Parent", "state": "CA"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_hygienist_of_the_school_cannot_take_over_the_clinic_patients_login(
    client: Client, database_url: str, db: AsyncSession
) -> None:
    ids = await demo_ids(database_url)
    victim = ids["patient@demo.test"]
    victim_hash = (await db.get(User, victim)).password_hash  # type: ignore[union-attr]
    before_orgs, before_links = await _organizations_of(db, victim), await _links_of(db, victim)
    assert before_orgs == {"Demo Dental Clinic"}
    hyg = bearer(await new_token(client, "hygienist@demo.test"))
    decoy = await _school_patient(client, hyg, ids["school"])

    # 1. the invitation links nothing and grants nothing
    invited = await client.post(f"/api/v1/patients/{decoy}/invitations", headers=hyg,
                                json={"email": "patient@demo.test"})
    assert invited.status_code == 201
    body = invited.json()
    assert "user_id" not in body and "new_login" not in body
    assert await _organizations_of(db, victim) == before_orgs
    assert await _links_of(db, victim) == before_links

    # 2. no reset through the decoy patient, nor through the clinic's patient
    for patient_id in (decoy, str(ids["patient"])):
        reset = await client.post(
            f"/api/v1/patients/{patient_id}/logins/{victim}/password-reset", headers=hyg)
        assert reset.status_code == 404, (patient_id, reset.text)
    await sign_in(client, "hygienist@demo.test")
    page_reset = await post_form(client, f"/patients/{decoy}/logins/{victim}/reset", {})
    assert page_reset.status_code == 404

    # 3. the invitation's own link cannot set the password
    token = body["url"].rsplit("/", 1)[1]
    shown = await client.get(f"/access/{token}")
    assert 'id="set-password"' not in shown.text and 'id="accept-invitation"' in shown.text
    setting = await post_form(client, f"/access/{token}", {
        "password": ATTACKER_PASSWORD, "password_confirm": ATTACKER_PASSWORD})
    assert setting.status_code == 404

    # 4. nothing changed: same password, same organizations, the owner still signs in
    db.expire_all()
    user = await db.get(User, victim)
    assert user is not None and user.password_hash == victim_hash
    assert not verify_password(user.password_hash, ATTACKER_PASSWORD)
    assert await _organizations_of(db, victim) == before_orgs
    assert await _links_of(db, victim) == before_links
    refused = await client.post("/api/v1/tokens", json={
        "email": "patient@demo.test", "password": ATTACKER_PASSWORD, "name": "x"})
    assert refused.status_code == 401

    # 5. the owner accepts; then the school's staff still cannot reset a login shared with
    #    the clinic, while staff who work for both organizations can
    patient = bearer(await new_token(client, "patient@demo.test"))
    pending = (await client.get("/api/v1/me/links", headers=patient)).json()["invitations"]
    assert [(p["organization"], p["patient"]) for p in pending] == [
        ("Demo School Program", "Decoy C.")]
    accepted = await client.post(f"/api/v1/me/links/{pending[0]['id']}/accept", headers=patient)
    assert accepted.status_code == 200
    assert await _organizations_of(db, victim) == {"Demo Dental Clinic", "Demo School Program"}
    reset = await client.post(
        f"/api/v1/patients/{decoy}/logins/{victim}/password-reset", headers=hyg)
    assert reset.status_code == 403 and reset.json()["code"] == "reset_not_allowed"
    both = bearer(await new_token(client, "billing@demo.test"))  # front desk of both
    assert (await client.post(f"/api/v1/patients/{decoy}/logins/{victim}/password-reset",
                              headers=both)).status_code == 201


async def test_a_second_organization_cannot_claim_a_login_another_created(
    client: Client, database_url: str, db: AsyncSession
) -> None:
    """The clinic invites a new address; before its owner sets a password the school invites
    the same address. Only the clinic's link may set the first password."""
    ids = await demo_ids(database_url)
    desk = bearer(await new_token(client, "coordinator@demo.test"))
    clinic_invite = await client.post(f"/api/v1/patients/{ids['patient']}/invitations",
                                      headers=desk, json={"email": "new.family@example.test"})
    hyg = bearer(await new_token(client, "hygienist@demo.test"))
    decoy = await _school_patient(client, hyg, ids["school"])
    school_invite = await client.post(f"/api/v1/patients/{decoy}/invitations", headers=hyg,
                                      json={"email": "new.family@example.test"})
    assert set(clinic_invite.json()) == set(school_invite.json())
    school_token = school_invite.json()["url"].rsplit("/", 1)[1]
    assert (await post_form(client, f"/access/{school_token}", {
        "password": ATTACKER_PASSWORD, "password_confirm": ATTACKER_PASSWORD})).status_code == 404
    clinic_token = clinic_invite.json()["url"].rsplit("/", 1)[1]
    assert (await post_form(client, f"/access/{clinic_token}", {
        "password": "family passphrase", "password_confirm": "family passphrase"}
    )).status_code == 303
    user = await db.scalar(select(User).where(User.email == "new.family@example.test"))
    assert user is not None
    assert await _organizations_of(db, user.id) == {"Demo Dental Clinic"}
    assert await _links_of(db, user.id) == {ids["patient"]}


async def test_invitation_answers_do_not_tell_accounts_apart(
    client: Client, database_url: str
) -> None:
    ids = await demo_ids(database_url)
    hyg = bearer(await new_token(client, "hygienist@demo.test"))
    decoy = await _school_patient(client, hyg, ids["school"])
    answers = []
    for email in ("nobody.yet@example.test", "patient@demo.test", "dentist@demo.test"):
        response = await client.post(f"/api/v1/patients/{decoy}/invitations", headers=hyg,
                                     json={"email": email})
        answers.append(response)
    assert {r.status_code for r in answers} == {201}
    assert len({tuple(sorted(r.json())) for r in answers}) == 1
    assert {r.json()["status"] for r in answers} == {"pending"}
    assert {r.json()["url"].rsplit("/", 2)[1] for r in answers} == {"access"}


async def test_only_the_owner_accepts_or_declines(
    client: Client, database_url: str, db: AsyncSession
) -> None:
    ids = await demo_ids(database_url)
    hyg = bearer(await new_token(client, "hygienist@demo.test"))
    decoy = await _school_patient(client, hyg, ids["school"])
    invited = (await client.post(f"/api/v1/patients/{decoy}/invitations", headers=hyg,
                                 json={"email": "patient@demo.test"})).json()
    # a different patient login cannot accept it (the id is not probeable)
    db.add(User(email="stranger@example.test", role="patient", display_name="Stranger",
                password_hash=(await db.get(User, ids["patient@demo.test"])).password_hash,  # type: ignore[union-attr]
                organizations=[await db.get(Organization, ids["clinic"])]))
    await db.commit()
    stranger = bearer(await new_token(client, "stranger@example.test", DEMO_PASSWORD))
    assert (await client.post(f"/api/v1/me/links/{invited['invitation_id']}/accept",
                              headers=stranger)).status_code == 404
    assert (await client.get("/api/v1/me/links", headers=stranger)).json() == {"invitations": []}
    # the owner declines through the page; the invitation is then gone
    await sign_in(client, "patient@demo.test")
    links_page = await client.get("/account/links")
    assert 'id="pending-invitations"' in links_page.text and "Decoy C." in links_page.text
    declined = await post_form(client, f"/account/links/{invited['invitation_id']}/decline", {})
    assert declined.status_code == 303
    assert "No invitations are waiting" in (await client.get("/account/links")).text
    again = await post_form(client, f"/account/links/{invited['invitation_id']}/accept", {})
    assert again.status_code == 404
    assert await _organizations_of(db, ids["patient@demo.test"]) == {"Demo Dental Clinic"}


async def test_withdrawn_or_expired_invitations_grant_nothing(
    client: Client, database_url: str, db: AsyncSession
) -> None:
    from datetime import UTC, datetime, timedelta

    from storage.models import PatientInvitation

    ids = await demo_ids(database_url)
    desk = bearer(await new_token(client, "billing@demo.test"))
    first = (await client.post(f"/api/v1/patients/{ids['patient']}/invitations", headers=desk,
                               json={"email": "late.family@example.test"})).json()
    withdrawn = await client.post(
        f"/api/v1/patients/{ids['patient']}/invitations/{first['invitation_id']}/withdraw",
        headers=desk)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    token = first["url"].rsplit("/", 1)[1]
    assert (await client.get(f"/access/{token}")).status_code == 404
    outsider = bearer(await new_token(client, "hygienist@demo.test"))
    second = (await client.post(f"/api/v1/patients/{ids['patient']}/invitations", headers=desk,
                                json={"email": "late.family@example.test"})).json()
    assert (await client.post(
        f"/api/v1/patients/{ids['patient']}/invitations/{second['invitation_id']}/withdraw",
        headers=outsider)).status_code == 404
    row = await db.get(PatientInvitation, uuid.UUID(second["invitation_id"]))
    assert row is not None
    row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    await db.commit()
    token = second["url"].rsplit("/", 1)[1]
    assert (await post_form(client, f"/access/{token}", {
        "password": "family passphrase", "password_confirm": "family passphrase"}
    )).status_code == 404
    await sign_in(client, "billing@demo.test")
    detail = await client.get(f"/patients/{ids['patient']}")
    assert 'id="patient-invitations"' in detail.text and "expired" in detail.text
