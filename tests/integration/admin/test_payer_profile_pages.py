"""Payer profile pages (issue 16): create and edit a profile as JSON rules, 422 with each
problem shown, every saved version listed."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import PayerProfileRecord
from tests.integration.accounts.helpers import Client, demo_ids, post_form
from tests.support.portal import sign_in


async def test_admin_creates_and_edits_a_profile(client: Client, db: AsyncSession,
                                                 database_url: str) -> None:
    ids = await demo_ids(database_url)
    await sign_in(client, "admin@demo.test")
    listed = await client.get(f"/admin/payer-profiles?organization_id={ids['school']}")
    assert listed.status_code == 200 and "the built-in default applies" in listed.text
    assert "&#34;in_person_codes&#34;: []" in listed.text  # the form starts from the defaults

    bad = await post_form(client, "/admin/payer-profiles", {
        "organization_id": str(ids["school"]), "name": "School Medicaid",
        "rules": json.dumps({"in_person_codes": ["D9996"], "narrative_limit": 0})})
    assert bad.status_code == 422
    assert "D9996 are the dentist&#39;s remote codes" in bad.text
    assert "the narrative limit must be a positive whole number" in bad.text
    not_json = await post_form(client, "/admin/payer-profiles", {
        "organization_id": str(ids["school"]), "name": "School Medicaid", "rules": "{"})
    assert not_json.status_code == 422 and "not JSON" in not_json.text

    created = await post_form(client, "/admin/payer-profiles", {
        "organization_id": str(ids["school"]), "name": "School Medicaid", "is_default": "yes",
        "rules": json.dumps({"in_person_codes": ["D1351", "D1206"]})})
    assert created.status_code == 303, created.text
    record = await db.scalar(select(PayerProfileRecord).where(
        PayerProfileRecord.name == "School Medicaid"))
    assert record is not None and record.version == 1 and record.is_default
    page = f"/admin/payer-profiles/{record.id}"
    edited = await post_form(client, page, {
        "name": "School Medicaid", "is_default": "yes",
        "rules": json.dumps({"in_person_codes": ["D1351"], "narrative_limit": 1500})})
    assert edited.status_code == 303
    refused = await post_form(client, page, {"name": "", "rules": "{}"})
    assert refused.status_code == 422 and "a profile needs a name" in refused.text
    shown = await client.get(page)
    assert shown.status_code == 200 and "version 2" in shown.text
    assert "Save as version 3" in shown.text and "Versions kept" in shown.text
    await db.refresh(record)
    assert record.version == 2 and record.rules["in_person_codes"] == ["D1351"]
