"""Issue 16 through the API, as a billing specialist (or an attacker at the front desk) would:
a typed or swapped rendering provider is refused, a correction needs a reason, two same-day
D9996 encounters of one patient cannot both be made ready without an override, fees on the
lines and their total, and the export's columns."""

from __future__ import annotations

import csv
import io

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing.fees import replace_fee_schedule
from storage.models import User
from tests.integration.billing.conftest import CTX, actor_for, seed_post_op
from tests.support.portal import csrf_token, sign_in


async def _desk(client: AsyncTestClient[Litestar]) -> dict[str, str]:
    await sign_in(client, "billing@demo.test")
    return {"x-csrftoken": await csrf_token(client)}


async def test_the_provider_swap_is_refused(client: AsyncTestClient[Litestar],
                                            app_db: AsyncSession):
    case = await seed_post_op(app_db, client.app.state.blobs)
    headers = await _desk(client)
    url = f"/api/v1/cases/{case.case_id}/claim-lines"
    lines = (await client.get(url)).json()["lines"]

    nobody = [{**line, "provider": {"name": "Dr. Nobody", "npi": "0000000000",
                                    "role": "dentist"}} for line in lines]
    refused = await client.put(url, json={"lines": nobody, "reason": "swap"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["code"] == "provider_unknown"

    second = await app_db.scalar(select(User).where(User.email == "dentist2@demo.test"))
    assert second is not None
    swapped = [{**line, "provider": {"user_id": str(second.id)}} for line in lines]
    refused = await client.put(url, json={"lines": swapped, "reason": "swap"}, headers=headers)
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "provider_not_signer"
    assert {v["rule"] for v in body["violations"]} == {"provider_not_signer"}

    dropped = [line for line in lines if line["code"] != "D0391"]
    no_reason = await client.put(url, json={"lines": dropped}, headers=headers)
    assert no_reason.status_code == 422
    assert no_reason.json()["code"] == "correction_reason_required"
    ok = await client.put(url, json={"lines": dropped, "reason": "read by the referrer"},
                          headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["corrections"][0]["reason"] == "read by the referrer"
    assert {line["provider"]["name"] for line in ok.json()["lines"]} == {"Dr. Dana Demo"}


async def test_two_same_day_d9996_need_an_override(client: AsyncTestClient[Litestar],
                                                   app_db: AsyncSession):
    first = await seed_post_op(app_db, client.app.state.blobs)
    second = await seed_post_op(app_db, client.app.state.blobs)
    headers = await _desk(client)

    def status(case_id: object) -> str:
        return f"/api/v1/cases/{case_id}/billing-status"

    assert (await client.post(status(first.case_id), json={"status": "ready"},
                              headers=headers)).status_code == 200
    refused = await client.post(status(second.case_id), json={"status": "ready"},
                                headers=headers)
    assert refused.status_code == 422, refused.text
    problems = (await client.get(f"/api/v1/cases/{second.case_id}/claim-lines")).json()
    [problem] = [p for p in problems["problems"] if p["rule"] == "teledentistry_once_per_day"]
    assert "D9996" in problem["message"] and str(first.case_id) in problem["message"]

    override = f"/api/v1/cases/{second.case_id}/same-day-override"
    empty = await client.post(override, json={"rule": "teledentistry_once_per_day",
                                              "reason": " "}, headers=headers)
    assert empty.status_code == 400
    for rule in ("teledentistry_once_per_day", "evaluation_once_per_day"):
        done = await client.post(override, json={"rule": rule, "reason": "payer ref 4471"},
                                 headers=headers)
        assert done.status_code == 200, done.text
    assert (await client.post(status(second.case_id), json={"status": "ready"},
                              headers=headers)).status_code == 200
    # the page: a refused "ready" goes back to the encounter with the reason flashed
    page = await client.get(f"/billing/cases/{first.case_id}")
    assert page.status_code == 200


async def test_fees_totals_and_the_export(client: AsyncTestClient[Litestar],
                                          app_db: AsyncSession):
    case = await seed_post_op(app_db, client.app.state.blobs)
    admin = await actor_for(app_db, "admin@demo.test")
    await replace_fee_schedule(app_db, admin, CTX, case.organization_id, None,
                               {"D0171": 6500, "D0391": 2500, "D9996": 4000})
    await app_db.commit()
    headers = await _desk(client)
    body = (await client.get(f"/api/v1/cases/{case.case_id}/claim-lines")).json()
    assert [line["fee"] for line in body["lines"]] == ["65.00", "25.00", "40.00"]
    assert body["total_fee"] == "130.00" and body["missing_fees"] == []
    page = await client.get(f"/billing/cases/{case.case_id}")
    assert "$130.00" in page.text
    worklist = await client.get("/billing")  # totals per encounter and per date of service
    assert worklist.text.count("$130.00") == 2 and 'id="day-totals"' in worklist.text
    await client.post(f"/api/v1/cases/{case.case_id}/billing-status", json={"status": "ready"},
                      headers=headers)
    billed = await client.post(f"/api/v1/cases/{case.case_id}/billing-status",
                               json={"status": "billed"}, headers=headers)
    assert billed.status_code == 200, billed.text
    acn = billed.json()["billed_attachment_control_number"]
    export = await client.get("/billing/export.csv?status=billed")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert set(rows[0]) >= {
        "date_of_service", "patient", "date_of_birth", "payer", "member_id", "billing_npi",
        "rendering_npi", "code", "tooth", "surfaces", "place_of_service", "fee",
        "encounter_type", "attachment_control_number",
    }
    assert [(r["code"], r["fee"]) for r in rows] == [
        ("D0171", "65.00"), ("D0391", "25.00"), ("D9996", "40.00")]
    assert {r["attachment_control_number"] for r in rows} == {acn}
    assert {r["payer"] for r in rows} == {"Demo Dental Plan"}
