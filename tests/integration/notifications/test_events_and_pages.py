"""The other events (more information requested, a referral without news), the staff's
list of notifications (tenant-checked, page and JSON) and the account page's choice."""

from __future__ import annotations

import datetime as dt

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from portal.app import create_app
from reviewer.clock import now_utc
from reviewer.evaluation.services import request_information
from reviewer.notifications import services as notification_services
from reviewer.notifications.reminders import queue_referral_reminders
from reviewer.records.release import deliver
from storage.models import Case, Notification, Patient, RecordsRequest, Referral, User
from tests.integration.accounts.helpers import OTHER_DESK, add_other_organization
from tests.integration.review.conftest import World
from tests.support.portal import csrf_token, sign_in
from tests.support.smtp import Mailbox

Client = AsyncTestClient[Litestar]
ASK = "Please send a photo of the upper teeth."


async def test_a_request_for_information_queues_a_notification_in_its_transaction(
    world: World, named_patient: Patient,
) -> None:
    case = await world.add_case(patient=named_patient, claimed_by_id=world.dentist.id,
                                status="in_review",
                                lease_expires_at=now_utc() + dt.timedelta(minutes=30))
    case_id = case.id
    actor, ctx = world.actor(world.dentist), world.ctx(world.dentist)  # before the rollback
    await request_information(world.db, actor, ctx, case_id, message=ASK, now=now_utc())
    await world.db.rollback()  # the action rolled back: so did its notification
    assert await world.db.scalar(select(Notification.id)) is None
    await request_information(world.db, actor, ctx, case_id, message=ASK, now=now_utc())
    await world.db.commit()
    [row] = (await world.db.scalars(select(Notification))).all()
    assert (row.kind, row.state, row.case_id) == ("info_requested", "queued", case_id)


async def test_a_referral_without_news_gets_one_reminder(
    world: World, named_patient: Patient,
) -> None:
    case = await world.add_case(patient=named_patient, status="reviewed")
    long_ago = now_utc() - dt.timedelta(days=20)
    quiet = Referral(organization_id=world.clinic.id, patient_id=named_patient.id,
                     case_id=case.id, to_provider="Dr. Endo", urgency="routine",
                     status="scheduled", last_news_at=long_ago)
    seen = Referral(organization_id=world.clinic.id, patient_id=named_patient.id,
                    to_provider="Dr. Other", urgency="routine", status="seen",
                    last_news_at=long_ago)
    recent = Referral(organization_id=world.clinic.id, patient_id=named_patient.id,
                      to_provider="Dr. New", urgency="routine", status="sent",
                      last_news_at=now_utc() - dt.timedelta(days=2))
    world.db.add_all([quiet, seen, recent])
    await world.db.commit()
    assert await queue_referral_reminders(world.db) == 1
    assert await queue_referral_reminders(world.db) == 0  # once per quiet spell
    [row] = (await world.db.scalars(select(Notification))).all()
    assert (row.kind, row.subject_type, row.subject_id) == ("referral_reminder", "referral",
                                                            quiet.id)


async def _add_row(world: World, patient: Patient) -> Notification:
    case = await world.add_case(patient=patient)
    row = Notification(organization_id=world.clinic.id, recipient_user_id=world.patient_user.id,
                       patient_id=patient.id, kind="advice_ready", channel="email",
                       state="failed", attempts=5, last_error="smtp: SMTPConnectError",
                       subject_type="case", subject_id=case.id, case_id=case.id)
    world.db.add(row)
    await world.db.commit()
    return row


async def test_staff_see_their_organizations_notifications_only(
    client: Client, world: World, named_patient: Patient, database_url: str,
) -> None:
    row = await _add_row(world, named_patient)
    await add_other_organization(database_url)
    await sign_in(client, "billing@demo.test")
    listed = await client.get(f"/api/v1/notifications?case_id={row.case_id}")
    assert listed.status_code == 200
    [item] = listed.json()["notifications"]
    assert (item["id"], item["state"], item["attempts"], item["last_error"]) == (
        str(row.id), "failed", 5, "smtp: SMTPConnectError")
    assert "@" not in listed.text and "Zebulon" not in listed.text
    page = await client.get(f"/notifications?case_id={row.case_id}")
    assert page.status_code == 200 and f'data-notification="{row.id}"' in page.text
    assert "SMTPConnectError" in page.text and "Zebulon" not in page.text

    async with AsyncTestClient(app=create_app(client.app.state.settings)) as other:
        await sign_in(other, OTHER_DESK)
        theirs = await other.get(f"/api/v1/notifications?case_id={row.case_id}")
        assert theirs.status_code == 200 and theirs.json() == {"notifications": []}
        everything = await other.get("/api/v1/notifications")
        assert everything.json() == {"notifications": []}
        page = await other.get("/notifications")
        assert page.status_code == 200 and str(row.id) not in page.text
    async with AsyncTestClient(app=create_app(client.app.state.settings)) as patient:
        await sign_in(patient, world.patient_user.email)
        assert (await patient.get("/api/v1/notifications")).status_code == 403


async def test_the_account_page_choice(
    client: Client, world: World, smtp_server: Mailbox,
) -> None:
    await sign_in(client, world.patient_user.email)
    page = await client.get("/account")
    assert page.status_code == 200 and 'id="notification-choice"' in page.text
    headers = {"x-csrftoken": await csrf_token(client)}
    chosen = await client.post("/account/notifications", headers=headers, follow_redirects=False,
                               data={"notify_by": "sms", "mobile_phone": "+1 (916) 555-0142"})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/account"
    user = await world.db.get(User, world.patient_user.id, populate_existing=True)
    assert user is not None and (user.notify_by, user.mobile_phone) == ("sms", "+19165550142")
    for bad in ({"notify_by": "sms", "mobile_phone": ""},
                {"notify_by": "pigeon", "mobile_phone": ""},
                {"notify_by": "email", "mobile_phone": "555"}):
        refused = await client.post("/account/notifications", headers=headers, data=bad,
                                    follow_redirects=False)
        assert refused.status_code == 303, bad
    user = await world.db.get(User, world.patient_user.id, populate_existing=True)
    assert user is not None and (user.notify_by, user.mobile_phone) == ("sms", "+19165550142")
    none = await client.post("/account/notifications", headers=headers,
                             data={"notify_by": "none", "mobile_phone": ""},
                             follow_redirects=False)
    assert none.status_code == 303
    user = await world.db.get(User, world.patient_user.id, populate_existing=True)
    assert user is not None and (user.notify_by, user.mobile_phone) == ("none", None)
    # staff do not get the fieldset (they receive no notifications)
    async with AsyncTestClient(app=create_app(client.app.state.settings)) as desk:
        await sign_in(desk, "billing@demo.test")
        assert 'id="notification-choice"' not in (await desk.get("/account")).text


async def test_a_released_records_copy_tells_the_patient(world: World) -> None:
    request = RecordsRequest(
        organization_id=world.clinic.id, patient_id=world.patient.id,
        requester_type="patient", received_at=now_utc(), scope={"all": True},
        format="electronic", status="checked", due_on=dt.date.today() + dt.timedelta(days=30),
        identity_method="x", identity_document_type="y", authority="self", package_key="k",
        history=[],
    )
    world.db.add(request)
    await world.db.commit()
    desk = await world.db.scalar(select(User).where(User.email == "billing@demo.test"))
    assert desk is not None
    await deliver(world.db, world.actor(desk), world.ctx(desk), request.id,
                  delivery_method="portal", now=now_utc())
    await world.db.commit()
    [row] = (await world.db.scalars(select(Notification))).all()
    assert (row.kind, row.subject_type, row.subject_id, row.recipient_user_id) == (
        "records_ready", "records_request", request.id, world.patient_user.id)


async def test_a_notification_that_cannot_be_queued_never_stops_the_action(
    world: World, named_patient: Patient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*_: object) -> list[User]:
        raise RuntimeError("recipient lookup broke")

    monkeypatch.setattr(notification_services, "_logins", broken)
    case = await world.add_case(patient=named_patient, claimed_by_id=world.dentist.id,
                                status="in_review",
                                lease_expires_at=now_utc() + dt.timedelta(minutes=30))
    request = await request_information(world.db, world.actor(world.dentist),
                                        world.ctx(world.dentist), case.id, message=ASK,
                                        now=now_utc())
    await world.db.commit()
    assert request.id is not None
    stored = await world.db.get(Case, case.id, populate_existing=True)
    assert stored is not None and stored.status == "needs_info"
    assert await world.db.scalar(select(Notification.id)) is None
