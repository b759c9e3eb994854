"""Administration: organizations, staff accounts, dentists' organizations and licenses, the
audit trail (browse, filter, CSV export safe against formula injection)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import AuditContext, record_event, record_view
from storage.models import AuditEvent, License, Organization, User
from tests.integration.accounts.helpers import Client, demo_ids, post_form
from tests.support.portal import sign_in

ORG_FORM = {
    "name": "Valley Smiles", "kind": "practice", "npi": "1234567893",
    "address_line": "9 Valley Rd", "city": "Reno", "state": "nv", "postal_code": "89501",
    "phone": "+1 775 555 0100", "time_zone": "America/Los_Angeles",
}


async def test_admin_creates_an_organization(client: Client, db: AsyncSession) -> None:
    await sign_in(client, "admin@demo.test")
    created = await post_form(client, "/admin/organizations", ORG_FORM)
    assert created.status_code == 303
    org = await db.scalar(select(Organization).where(Organization.name == "Valley Smiles"))
    assert org is not None
    assert (org.npi, org.state, org.phone, org.time_zone) == (
        "1234567893", "NV", "+1 775 555 0100", "America/Los_Angeles")
    bad = await post_form(client, "/admin/organizations",
                          {**ORG_FORM, "name": "Other", "npi": "1234567890"})
    assert bad.status_code == 422 and "NPI" in bad.text
    bad_zone = await post_form(client, f"/admin/organizations/{org.id}",
                               {**ORG_FORM, "time_zone": "Mars/Olympus"})
    assert bad_zone.status_code == 422
    updated = await post_form(client, f"/admin/organizations/{org.id}",
                              {**ORG_FORM, "phone": "+1 775 555 0199"})
    assert updated.status_code == 303
    await db.refresh(org)
    assert org.phone == "+1 775 555 0199"
    actions = set((await db.scalars(select(AuditEvent.action))).all())
    assert {"organization.created", "organization.updated"} <= actions


async def test_admin_creates_staff_who_sets_a_password(client: Client, db: AsyncSession,
                                                       database_url: str) -> None:
    ids = await demo_ids(database_url)
    await sign_in(client, "admin@demo.test")
    response = await post_form(client, "/admin/users", [
        ("email", "New.Dentist@Demo.Test"), ("display_name", "Dr. New"), ("role", "dentist"),
        ("npi", "1234567893"), ("organization_ids", str(ids["clinic"])),
        ("organization_ids", str(ids["school"])),
    ])
    assert response.status_code == 200 and 'id="access-link"' in response.text
    user = await db.scalar(select(User).where(User.email == "new.dentist@demo.test"))
    assert user is not None and user.password_hash is None
    assert {o.name for o in user.organizations} == {"Demo Dental Clinic", "Demo School Program"}
    link = response.text.split('id="access-link">', 1)[1].split("<", 1)[0]
    token = link.rsplit("/", 1)[1]
    client.cookies.clear()
    done = await post_form(client, f"/access/{token}", {
        "password": "new dentist passphrase", "password_confirm": "new dentist passphrase"})
    assert done.status_code == 303
    await sign_in(client, "new.dentist@demo.test", "new dentist passphrase")
    duplicate = await post_form(client, "/admin/users", {
        "email": "dentist@demo.test", "display_name": "X", "role": "dentist"})
    assert duplicate.status_code == 403  # no longer an admin session


async def test_assigning_organizations_and_licenses(client: Client, db: AsyncSession,
                                                    database_url: str) -> None:
    ids = await demo_ids(database_url)
    dentist_id = ids["dentist2@demo.test"]
    await sign_in(client, "dentist2@demo.test")
    dentist_session = client.cookies.get("session")
    await sign_in(client, "admin@demo.test")
    admin_session = client.cookies.get("session")
    saved = await post_form(client, f"/admin/users/{dentist_id}", {
        "display_name": "Dr. Sam Second", "role": "dentist", "npi": "1538296546",
        "organization_ids": str(ids["clinic"]), "is_active": "yes"})
    assert saved.status_code == 303
    user = await db.get(User, dentist_id)
    assert user is not None
    await db.refresh(user)
    assert [o.name for o in user.organizations] == ["Demo Dental Clinic"]
    assert user.npi == "1538296546"
    # a change of privilege ends the dentist's sessions
    client.cookies.clear()
    client.cookies.set("session", str(dentist_session), domain=client.base_url.host, path="/")
    assert (await client.get("/api/v1/me")).status_code == 401
    client.cookies.clear()
    client.cookies.set("session", str(admin_session), domain=client.base_url.host, path="/")
    recorded = await post_form(client, f"/admin/users/{dentist_id}/licenses", {
        "state": "nv", "number": "NV-77", "expires_on": "2031-06-30"})
    assert recorded.status_code == 303
    lic = await db.scalar(select(License).where(License.user_id == dentist_id,
                                                License.state == "NV"))
    assert lic is not None and lic.number == "NV-77" and lic.expires_on == date(2031, 6, 30)
    page = await client.get(f"/admin/users/{dentist_id}")
    assert "NV-77" in page.text
    removed = await post_form(client, f"/admin/users/{dentist_id}/licenses/{lic.id}/delete", {})
    assert removed.status_code == 303
    assert await db.scalar(select(License.id).where(License.id == lic.id)) is None
    reset = await post_form(client, f"/admin/users/{dentist_id}/reset", {})
    assert reset.status_code == 200 and 'id="access-link"' in reset.text


async def test_admin_lists_no_patients_and_reads_no_patient_data(
    client: Client, database_url: str
) -> None:
    ids = await demo_ids(database_url)
    await sign_in(client, "admin@demo.test")
    users = await client.get("/admin/users")
    assert "patient@demo.test" not in users.text
    assert (await client.get(f"/admin/users/{ids['patient@demo.test']}")).status_code == 404
    assert (await client.get(f"/api/v1/patients/{ids['patient']}")).status_code == 403
    assert (await client.get("/api/v1/patients?q=pat")).status_code == 403


async def test_admin_cannot_lock_themselves_out(client: Client, database_url: str) -> None:
    ids = await demo_ids(database_url)
    await sign_in(client, "admin@demo.test")
    response = await post_form(client, f"/admin/users/{ids['admin@demo.test']}", {
        "display_name": "Admin", "role": "dentist", "organization_ids": str(ids["clinic"]),
        "is_active": "yes"})
    assert response.status_code == 422


async def test_audit_browse_filter_and_csv_export(client: Client, db: AsyncSession,
                                                  database_url: str) -> None:
    ids = await demo_ids(database_url)
    evil = "=HYPERLINK(\"http://evil.example\")"
    await record_event(db, "test.injected", AuditContext(user_agent=evil,
                                                         client_address="+1.2.3.4"),
                       organization_id=ids["clinic"], subject_type="user",
                       subject_id="@SUM(A1)", details={"note": "-2+3"})
    await db.commit()
    await sign_in(client, "admin@demo.test")
    page = await client.get("/admin/audit")
    assert page.status_code == 200 and "test.injected" in page.text
    filtered = await client.get("/admin/audit", params={"action": "session."})
    assert "session.signed_in" in filtered.text and "test.injected" not in filtered.text
    by_org = await client.get("/admin/audit", params={"organization_id": str(uuid.uuid4())})
    assert "No events match" in by_org.text
    rows = await client.get("/admin/audit", params={"action": "test.injected"},
                            headers={"hx-request": "true", "hx-target": "audit-rows"})
    assert "<html" not in rows.text and "test.injected" in rows.text

    export = await client.get("/admin/audit/export.csv", params={"action": "test.injected"})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(export.text)))
    assert table[0][0] == "occurred_at" and len(table) == 2
    row = dict(zip(table[0], table[1], strict=True))
    assert row["user_agent"] == "'" + evil
    assert row["client_address"] == "'+1.2.3.4"
    assert row["subject_id"] == "'@SUM(A1)"
    for cell in table[1]:
        assert not cell.startswith(("=", "+", "-", "@")), cell
    assert await db.scalar(select(AuditEvent.id).where(AuditEvent.action == "audit.exported"))


async def test_audit_pages_keyset(client: Client, db: AsyncSession) -> None:
    for n in range(55):
        await record_event(db, "test.bulk", AuditContext(), details={"n": n})
    await db.commit()
    await sign_in(client, "admin@demo.test")
    first = await client.get("/admin/audit", params={"action": "test.bulk"})
    assert first.text.count("test.bulk</code>") == 50
    next_url = first.text.split('hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    second = await client.get(next_url, headers={"hx-request": "true", "hx-target": "audit-rows"})
    assert second.text.count("test.bulk</code>") == 5


async def test_views_are_listed_and_exported_with_the_chained_events(
    client: Client, db: AsyncSession, database_url: str
) -> None:
    """Who viewed what: view rows show in the same list (filter by action or subject) and
    the CSV, with ``views`` as their chain and their MAC as hash; the keyset pages run across
    both tables."""
    ids = await demo_ids(database_url)
    case_id, attachment_id = uuid.uuid4(), uuid.uuid4()
    viewer = AuditContext(actor_id=uuid.uuid4(), actor_role="dentist", request_kind="page")
    for n in range(30):
        await record_event(db, "test.mixed", AuditContext(), details={"n": n})
        view = record_view(db, "attachment.viewed", viewer, organization_id=ids["clinic"],
                           subject_type="attachment", subject_id=attachment_id,
                           case_id=case_id, attachment_id=attachment_id,
                           details={"variant": "display"})
    await db.commit()
    await sign_in(client, "admin@demo.test")
    first = await client.get("/admin/audit", params={"subject_id": str(attachment_id)})
    assert first.status_code == 200
    assert first.text.count("attachment.viewed</code> <span") == 30
    mixed = await client.get("/admin/audit")
    assert "attachment.viewed" in mixed.text and "test.mixed" in mixed.text
    next_url = mixed.text.split('hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    rest = await client.get(next_url, headers={"hx-request": "true", "hx-target": "audit-rows"})
    seen = mixed.text.count("</code>") + rest.text.count("</code>")
    assert seen >= 60  # every row of both tables, once (plus the sign-in's own events)

    export = await client.get("/admin/audit/export.csv", params={"action": "attachment.viewed"})
    table = list(csv.reader(io.StringIO(export.text)))
    assert len(table) == 31
    row = dict(zip(table[0], table[-1], strict=True))
    assert (row["chain"], row["seq"], row["hash"]) == ("views", "", view.mac)
    assert (row["actor_role"], row["subject_id"]) == ("dentist", str(attachment_id))
    assert '"case_id": "' + str(case_id) in row["details"]
    assert '"request_kind": "page"' in row["details"] and '"variant": "display"' in row["details"]
