"""Fee schedules, admin page and API (issue 16): the organization's schedule, a payer
profile's overrides, the CSV import with every problem named by its line number; admin only,
the admin's own organizations only."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, FeeScheduleEntry, Organization, PayerProfileRecord
from tests.integration.accounts.helpers import Client, demo_ids, post_form
from tests.support.portal import csrf_token, sign_in

CSV = "code,fee\r\nD0171,65.00\r\nD9996,40\r\nD0391,\"$1,025.5\"\r\n"
BAD_CSV = "code,fee\nD0171,65\nD0171,70\nX9999,1\nD0140,-3\n"


async def _admin(client: Client) -> dict[str, str]:
    await sign_in(client, "admin@demo.test")
    return {"x-csrftoken": await csrf_token(client)}


async def test_fee_schedule_api(client: Client, db: AsyncSession, database_url: str) -> None:
    ids = await demo_ids(database_url)
    headers = await _admin(client)
    url = f"/api/v1/organizations/{ids['clinic']}/fee-schedule"
    assert (await client.get(url)).json()["fees"] == {}

    imported = await client.post(f"{url}.csv", content=CSV,
                                 headers={**headers, "content-type": "text/csv"})
    assert imported.status_code == 200, imported.text
    assert imported.json()["fees"] == {"D0171": "65.00", "D0391": "1025.50", "D9996": "40.00"}
    refused = await client.post(f"{url}.csv", content=BAD_CSV,
                                headers={**headers, "content-type": "text/csv"})
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_fee_schedule"
    message = refused.json()["message"]
    assert "line 3: D0171 appears twice" in message and "line 4:" in message
    assert "line 5:" in message
    assert (await client.post(f"{url}.csv", content=CSV, headers={
        **headers, "content-type": "application/json"})).status_code == 415
    assert len((await client.get(url)).json()["fees"]) == 3  # nothing taken from a bad file

    put = await client.put(url, json={"fees": {"d0140": "95", "D9996": "$45.50"}},
                           headers=headers)
    assert put.status_code == 200 and put.json()["fees"] == {"D0140": "95.00", "D9996": "45.50"}
    bad = await client.put(url, json={"fees": {"X1": "1", "D0140": "-1"}}, headers=headers)
    assert bad.status_code == 400 and "X1" in bad.json()["message"]
    assert (await client.put(url, json={"fees": {"D0140": 95}}, headers=headers)
            ).status_code == 400  # amounts are text

    # a payer profile's overrides, apart from the organization's schedule
    profile = PayerProfileRecord(organization_id=ids["clinic"], name="Delta Test", rules={})
    db.add(profile)
    await db.commit()
    overrides = f"{url}?payer_profile_id={profile.id}"
    assert (await client.put(overrides, json={"fees": {"D9996": "35"}}, headers=headers)
            ).json()["fees"] == {"D9996": "35.00"}
    assert (await client.get(overrides)).json() == {
        "organization_id": str(ids["clinic"]), "payer_profile_id": str(profile.id),
        "fees": {"D9996": "35.00"}}
    assert (await client.get(url)).json()["fees"]["D9996"] == "45.50"
    # a profile of another organization, an organization that is not the admin's: 404
    school_url = f"/api/v1/organizations/{ids['school']}/fee-schedule"
    assert (await client.get(f"{school_url}?payer_profile_id={profile.id}")
            ).status_code == 404
    other = Organization(name="Elsewhere Dental", kind="practice", state="NV",
                         time_zone="America/Los_Angeles")
    db.add(other)
    await db.commit()
    assert (await client.get(f"/api/v1/organizations/{other.id}/fee-schedule")
            ).status_code == 404
    assert (await client.put(f"/api/v1/organizations/{uuid.uuid4()}/fee-schedule",
                             json={"fees": {}}, headers=headers)).status_code == 404
    events = (await db.scalars(select(AuditEvent.action).where(
        AuditEvent.action == "fee_schedule.replaced"))).all()
    assert len(events) == 3

    await sign_in(client, "billing@demo.test")
    desk = {"x-csrftoken": await csrf_token(client)}
    assert (await client.get(url)).status_code == 403
    assert (await client.put(url, json={"fees": {}}, headers=desk)).status_code == 403


async def test_fee_schedule_page_and_csv_upload(client: Client, db: AsyncSession,
                                                database_url: str) -> None:
    ids = await demo_ids(database_url)
    await _admin(client)
    page = await client.get(f"/admin/fees?organization_id={ids['clinic']}")
    assert page.status_code == 200 and "Organization schedule" in page.text

    refused = await post_form(client, "/admin/fees/import",
                              {"organization_id": str(ids["clinic"]), "payer_profile_id": ""},
                              files={"csv_file": ("fees.csv", BAD_CSV.encode(), "text/csv")})
    assert refused.status_code == 422
    assert "line 3: D0171 appears twice" in refused.text and "line 5:" in refused.text
    assert (await db.scalars(select(FeeScheduleEntry))).all() == []

    uploaded = await post_form(client, "/admin/fees/import",
                               {"organization_id": str(ids["clinic"]), "payer_profile_id": ""},
                               files={"csv_file": ("fees.csv", CSV.encode(), "text/csv")})
    assert uploaded.status_code == 303, uploaded.text
    pasted = await post_form(client, "/admin/fees/import",
                             {"organization_id": str(ids["school"]), "payer_profile_id": "",
                              "csv_text": "code,fee\nD0191,30\n"})
    assert pasted.status_code == 303
    shown = await client.get(f"/admin/fees?organization_id={ids['clinic']}")
    assert "D0391" in shown.text and "$1025.50" in shown.text
    rows = (await db.scalars(select(FeeScheduleEntry))).all()
    assert {(r.organization_id, r.code) for r in rows} == {
        (ids["clinic"], "D0171"), (ids["clinic"], "D9996"), (ids["clinic"], "D0391"),
        (ids["school"], "D0191")}
    assert (await client.get(f"/admin/fees?organization_id={uuid.uuid4()}")).status_code == 404
