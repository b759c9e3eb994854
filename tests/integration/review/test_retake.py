"""The dentist asks for one image again (issue 19): the image is marked, kept, the case goes
back to the submitter like an information request (claim released, patient notified, audited)
and the submitter's page names the slot and the reason. Refusals: not holding the case, an
image of another case, no reason, a submitter calling it."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from storage.models import Attachment, AuditEvent, Case, InfoRequest, Notification
from tests.integration.review.conftest import World
from tests.support.portal import csrf_token, sign_in

Client = AsyncTestClient[Litestar]
REASON = "The photo is blurry; hold the phone still, closer to the teeth."


async def _as(client: Client, email: str) -> dict[str, str]:
    await sign_in(client, email)
    return {"x-csrftoken": await csrf_token(client)}


async def test_retake_marks_the_image_and_sends_the_case_back(
    client: Client, world: World
) -> None:
    case = await world.add_case()
    blurry = await world.add_attachment(case, view="lower_occlusal")
    other = await world.add_attachment(case, view="left")
    case_id, blurry_id, other_id = case.id, blurry.id, other.id
    headers = await _as(client, "dentist@demo.test")
    url = f"/api/v1/cases/{case_id}/attachments/{blurry_id}/retake"
    # Not holding the case yet: refused, nothing marked.
    refused = await client.post(url, json={"reason": REASON}, headers=headers)
    assert refused.status_code in (403, 409), refused.text
    await client.post(f"/api/v1/cases/{case.id}/claim", headers=headers)
    empty = await client.post(url, json={"reason": "  "}, headers=headers)
    assert empty.status_code == 400 and empty.json()["code"] == "reason_required"

    response = await client.post(url, json={"reason": REASON}, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["retake_requested"] is True

    world.db.expire_all()
    stored = await world.db.get(Case, case_id)
    assert stored is not None and stored.status == "needs_info" and stored.claimed_by_id is None
    rows = {a.id: a for a in await world.db.scalars(
        select(Attachment).where(Attachment.case_id == case_id))}
    assert rows[blurry_id].retake_reason == REASON and rows[blurry_id].retake_requested
    assert not rows[other_id].retake_requested  # kept, the other one untouched
    message = await world.db.scalar(select(InfoRequest.message)
                                    .where(InfoRequest.case_id == case_id))
    assert message is not None and REASON in message
    kinds = list(await world.db.scalars(select(Notification.kind)
                                        .where(Notification.case_id == case_id)))
    assert kinds == ["info_requested"]
    actions = list(await world.db.scalars(select(AuditEvent.action)
                                          .where(AuditEvent.subject_id == str(blurry_id))))
    assert "attachment.retake_requested" in actions

    # The submitter sees which slot to retake, with the reason, on the page and in the API.
    await _as(client, "patient@demo.test")
    page = await client.get(f"/patient/cases/{case_id}")
    assert page.status_code == 200
    assert 'data-retake-view="lower_occlusal"' in page.text
    assert "hold the phone still" in page.text
    body = (await client.get(f"/api/v1/cases/{case_id}")).json()
    marked = {a["id"]: a["retake_requested"] for a in body["attachments"]}
    assert marked == {str(blurry_id): True, str(other_id): False}


async def test_retake_refuses_an_image_of_another_case_and_submitters(
    client: Client, world: World
) -> None:
    case = await world.add_case()
    elsewhere = await world.add_attachment(await world.add_case(), view="left")
    case_id, elsewhere_id = case.id, elsewhere.id
    headers = await _as(client, "dentist@demo.test")
    await client.post(f"/api/v1/cases/{case_id}/claim", headers=headers)
    response = await client.post(
        f"/api/v1/cases/{case_id}/attachments/{elsewhere_id}/retake",
        json={"reason": REASON}, headers=headers)
    assert response.status_code == 404
    world.db.expire_all()
    stored = await world.db.get(Case, case_id)
    assert stored is not None and stored.status != "needs_info"  # rolled back, still held
    row = await world.db.get(Attachment, elsewhere_id)
    assert row is not None and not row.retake_requested

    patient_headers = await _as(client, "patient@demo.test")
    own = await world.add_attachment(await world.db.get_one(Case, case_id), view="left")
    forbidden = await client.post(f"/api/v1/cases/{case_id}/attachments/{own.id}/retake",
                                  json={"reason": REASON}, headers=patient_headers)
    assert forbidden.status_code == 403


async def test_case_page_form_asks_for_a_retake(client: Client, world: World) -> None:
    case = await world.add_case()
    image = await world.add_attachment(case, view="lower_occlusal")
    case_id, image_id = case.id, image.id
    headers = await _as(client, "dentist@demo.test")
    await client.post(f"/api/v1/cases/{case_id}/claim", headers=headers)
    page = await client.get(f"/review/cases/{case_id}")
    action = f"/review/cases/{case_id}/attachments/{image_id}/retake"
    assert f'action="{action}"' in page.text
    empty = await client.post(action, data={"reason": ""}, headers=headers,
                              follow_redirects=False)
    assert empty.status_code == 303  # back to the case page with the message flashed
    assert empty.headers["location"] == f"/review/cases/{case_id}"
    sent = await client.post(action, data={"reason": REASON}, headers=headers,
                             follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/review"
    world.db.expire_all()
    row = await world.db.get_one(Attachment, image_id)
    assert row.retake_reason == REASON


async def test_a_newer_photo_of_the_view_fills_the_slot(client: Client, world: World) -> None:
    case = await world.add_case()
    old = await world.add_attachment(case, view="lower_occlusal")
    case_id = case.id
    headers = await _as(client, "dentist@demo.test")
    await client.post(f"/api/v1/cases/{case_id}/claim", headers=headers)
    response = await client.post(f"/api/v1/cases/{case_id}/attachments/{old.id}/retake",
                                 json={"reason": REASON}, headers=headers)
    assert response.status_code == 201
    await _as(client, "patient@demo.test")
    assert 'id="retakes"' in (await client.get(f"/patient/cases/{case_id}")).text
    await world.add_attachment(await world.db.get_one(Case, case_id), view="lower_occlusal")
    assert 'id="retakes"' not in (await client.get(f"/patient/cases/{case_id}")).text
