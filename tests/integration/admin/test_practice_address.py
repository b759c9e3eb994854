"""A dentist's own practice address on the admin user page (the distant site of the reviews
they sign), and hygienists' licenses (printed on the school records they collect)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import License, User
from tests.integration.accounts.helpers import Client, demo_ids, post_form
from tests.support.portal import sign_in


async def test_admin_sets_and_clears_a_dentists_practice_address(
    client: Client, db: AsyncSession, database_url: str
) -> None:
    ids = await demo_ids(database_url)
    dentist_id = ids["dentist2@demo.test"]
    await sign_in(client, "admin@demo.test")
    page = await client.get(f"/admin/users/{dentist_id}")
    assert page.status_code == 200 and 'name="practice_address"' in page.text
    base = {"display_name": "Dr. Sam Second", "role": "dentist",
            "organization_ids": str(ids["clinic"]), "is_active": "yes"}
    saved = await post_form(client, f"/admin/users/{dentist_id}", {
        **base, "practice_address": " 77 Harbor Way, Eureka, CA 95501 ", "practice_state": "ca"})
    assert saved.status_code == 303
    user = await db.get_one(User, dentist_id)
    await db.refresh(user)
    assert (user.practice_address, user.practice_state) == ("77 Harbor Way, Eureka, CA 95501",
                                                            "CA")
    assert "77 Harbor Way" in (await client.get(f"/admin/users/{dentist_id}")).text
    bad = await post_form(client, f"/admin/users/{dentist_id}", {
        **base, "practice_address": "1 Elsewhere", "practice_state": "XX"})
    assert bad.status_code == 422
    await db.refresh(user)
    assert user.practice_address == "77 Harbor Way, Eureka, CA 95501"
    # a form without the fields leaves them; an empty one clears them
    kept = await post_form(client, f"/admin/users/{dentist_id}", base)
    assert kept.status_code == 303
    await db.refresh(user)
    assert user.practice_address == "77 Harbor Way, Eureka, CA 95501"
    cleared = await post_form(client, f"/admin/users/{dentist_id}",
                              {**base, "practice_address": "", "practice_state": ""})
    assert cleared.status_code == 303
    await db.refresh(user)
    assert (user.practice_address, user.practice_state) == ("", "")


async def test_hygienists_have_licenses_billing_staff_do_not(
    client: Client, db: AsyncSession, database_url: str
) -> None:
    ids = await demo_ids(database_url)
    await sign_in(client, "admin@demo.test")
    hygienist_id = ids["hygienist@demo.test"]
    page = await client.get(f"/admin/users/{hygienist_id}")
    assert 'id="license-form"' in page.text and 'name="practice_address"' not in page.text
    recorded = await post_form(client, f"/admin/users/{hygienist_id}/licenses", {
        "state": "ca", "number": "RDH 200001", "expires_on": "2030-06-30"})
    assert recorded.status_code == 303
    lic = await db.scalar(select(License).where(License.user_id == hygienist_id))
    assert lic is not None and (lic.state, lic.number, lic.expires_on) == (
        "CA", "RDH 200001", date(2030, 6, 30))
    desk = ids["billing@demo.test"]
    refused = await post_form(client, f"/admin/users/{desk}/licenses", {
        "state": "CA", "number": "X1", "expires_on": "2030-06-30"})
    assert refused.status_code == 422
    assert await db.scalar(select(License.id).where(License.user_id == desk)) is None
