"""Payer profiles edited by an admin (issue 16): validated (422 with the problems), versioned
(every version kept, the billing row records the version its lines were coded under), and
place of service per line: in-person school services on 03 while the teledentistry lines stay
on 02."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.cases.enums import OriginatingSite
from reviewer.coding.payer import PayerProfile, ProfileError
from storage.models import AuditEvent, EncounterBilling
from storage.models.billing import PayerProfileVersion
from tests.integration.billing.conftest import org, seed_school
from tests.support.portal import csrf_token, sign_in

SCHOOL_RULES = {"in_person_codes": ["D1206", "d1351"]}


def test_in_person_codes_take_the_site_place_of_service() -> None:
    profile = PayerProfile.from_dict({"name": "Medi-Cal Dental", **SCHOOL_RULES})
    assert profile.in_person_codes == {"D1206", "D1351"}
    assert profile.line_place_of_service("D1351", OriginatingSite.SCHOOL) == "03"
    assert profile.line_place_of_service("D9996", OriginatingSite.SCHOOL) == "02"
    assert profile.line_place_of_service("D1206", OriginatingSite.OFFICE) == "11"
    assert profile.line_place_of_service("D9996", OriginatingSite.HOME) == "10"
    assert PayerProfile().line_place_of_service("D1351", OriginatingSite.SCHOOL) == "02"
    assert PayerProfile.from_dict(profile.as_dict()) == profile
    with pytest.raises(ProfileError) as refused:
        PayerProfile(in_person_codes=frozenset({"D9996", "X1234"}), narrative_limit=0)
    assert len(refused.value.problems) == 3
    assert any("X1234" in p for p in refused.value.problems)
    assert any("D9996" in p and "remote" in p for p in refused.value.problems)


async def _admin(client: AsyncTestClient[Litestar]) -> dict[str, str]:
    await sign_in(client, "admin@demo.test")
    return {"x-csrftoken": await csrf_token(client)}


async def test_profiles_are_validated_and_versioned(client: AsyncTestClient[Litestar],
                                                    app_db: AsyncSession):
    school = await org(app_db, "Demo School Program")
    headers = await _admin(client)
    base = f"/api/v1/organizations/{school.id}/payer-profiles"

    bad = await client.post(base, json={"name": " ", "rules": {
        "in_person_codes": ["D9996"], "narrative_limit": 0}}, headers=headers)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_payer_profile"
    assert len(bad.json()["problems"]) == 3
    rule = await client.post(base, json={"name": "X", "rules": {
        "place_of_service_rule": "anywhere"}}, headers=headers)
    assert rule.status_code == 422 and "anywhere" in rule.json()["problems"][0]
    unknown = await client.post(base, json={"name": "X", "rules": {"colour": "red"}},
                                headers=headers)
    assert unknown.status_code == 422 and "colour" in unknown.json()["problems"][0]
    assert (await client.post(base, json={"name": "X", "extra": 1},
                              headers=headers)).status_code == 400

    created = await client.post(base, json={"name": "Medi-Cal Dental", "is_default": True,
                                            "rules": SCHOOL_RULES}, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["version"] == 1 and body["is_default"] is True
    assert body["rules"]["in_person_codes"] == ["D1206", "D1351"]
    assert body["rules"]["place_of_service_rule"] == "telehealth"
    url = f"/api/v1/payer-profiles/{body['id']}"
    taken = await client.post(base, json={"name": "Medi-Cal Dental"}, headers=headers)
    assert taken.status_code == 409 and taken.json()["code"] == "payer_profile_name_taken"

    rules: dict[str, Any] = {**body["rules"], "narrative_limit": 1500}
    edited = await client.put(url, json={"name": "Medi-Cal Dental", "is_default": True,
                                         "rules": rules}, headers=headers)
    assert edited.status_code == 200 and edited.json()["version"] == 2
    same = await client.put(url, json={"name": "Medi-Cal Dental", "is_default": True,
                                       "rules": rules}, headers=headers)
    assert same.json()["version"] == 2  # nothing changed: no new version
    refused = await client.put(url, json={"name": "Medi-Cal Dental",
                                          "rules": {"case_management_codes": ["D0140"]}},
                               headers=headers)
    assert refused.status_code == 422 and "case-management" in refused.json()["problems"][0]

    read = (await client.get(url)).json()
    assert read["version"] == 2 and read["rules"]["narrative_limit"] == 1500
    assert [v["version"] for v in read["versions"]] == [2, 1]
    assert read["versions"][1]["rules"]["narrative_limit"] == 2000  # the old version is kept
    listed = (await client.get(base)).json()["payer_profiles"]
    assert [p["name"] for p in listed] == ["Medi-Cal Dental"]
    kept = (await app_db.scalars(select(PayerProfileVersion.version).where(
        PayerProfileVersion.payer_profile_id == uuid.UUID(body["id"])))).all()
    assert sorted(kept) == [1, 2]
    actions = (await app_db.scalars(select(AuditEvent.action).where(
        AuditEvent.subject_id == body["id"]))).all()
    assert sorted(actions) == ["payer_profile.created", "payer_profile.updated"]

    # admin only, and only the admin's own organizations
    assert (await client.get(f"/api/v1/payer-profiles/{uuid.uuid4()}")).status_code == 404
    assert (await client.get(f"/api/v1/organizations/{uuid.uuid4()}/payer-profiles")
            ).status_code == 404
    await sign_in(client, "billing@demo.test")
    desk = {"x-csrftoken": await csrf_token(client)}
    assert (await client.get(url)).status_code == 403
    assert (await client.put(url, json={"name": "Y"}, headers=desk)).status_code == 403


async def test_in_person_lines_on_03_teledentistry_on_02(client: AsyncTestClient[Litestar],
                                                        app_db: AsyncSession):
    school = await org(app_db, "Demo School Program")
    headers = await _admin(client)
    created = await client.post(
        f"/api/v1/organizations/{school.id}/payer-profiles",
        json={"name": "School Medicaid", "is_default": True, "rules": SCHOOL_RULES},
        headers=headers,
    )
    assert created.status_code == 201
    profile_url = f"/api/v1/payer-profiles/{created.json()['id']}"
    case = await seed_school(app_db, client.app.state.blobs, package=False)
    row = await app_db.scalar(select(EncounterBilling).where(
        EncounterBilling.case_id == case.case_id))
    assert row is not None
    assert (row.payer_profile_name, row.payer_profile_version) == ("School Medicaid", 1)

    # a new version of the profile; the lines keep the version they were coded under
    edited = await client.put(profile_url, json={
        "name": "School Medicaid", "is_default": True,
        "rules": {**SCHOOL_RULES, "narrative_limit": 1800}}, headers=headers)
    assert edited.json()["version"] == 2
    await app_db.refresh(row)
    assert row.payer_profile_version == 1

    await sign_in(client, "billing@demo.test")
    desk = {"x-csrftoken": await csrf_token(client)}
    url = f"/api/v1/cases/{case.case_id}/claim-lines"
    read = (await client.get(url)).json()
    places = {line["code"]: line["place_of_service"] for line in read["lines"]}
    assert places["D1206"] == places["D1351"] == "03"
    assert places["D9996"] == "02"
    assert {c for c, p in places.items() if p == "02"} == set(places) - {"D1206", "D1351"}
    assert not [p for p in read["problems"] + read["warnings"]
                if p["rule"] == "place_of_service"]

    lines = read["lines"]
    for code, wrong in (("D1351", "02"), ("D9996", "03")):
        moved = [{**line, "place_of_service": wrong} if line["code"] == code else line
                 for line in lines]
        refused = await client.put(url, json={"lines": moved, "reason": "test"},
                                   headers=desk)
        assert refused.status_code == 422, refused.text
        rules = {v["rule"] for v in refused.json()["violations"]}
        assert rules == {"place_of_service"}
        assert any(code in v["message"] for v in refused.json()["violations"])

    varnish_only = [line for line in lines if line["code"] != "D1351"]
    ok = await client.put(url, json={"lines": varnish_only, "reason": "sealant not placed"},
                          headers=desk)
    assert ok.status_code == 200, ok.text
    await app_db.refresh(row)
    assert (row.payer_profile_name, row.payer_profile_version) == ("School Medicaid", 2)
