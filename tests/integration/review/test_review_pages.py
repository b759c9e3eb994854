"""The review pages: the queue (page, polled fragment, filters), next case, the case page,
auto-save, signing through the form, refusals."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from portal.accounts.services import account_key
from storage.models import AuditEvent, Case, Evaluation, LoginFailure
from tests.integration.review.conftest import World
from tests.support.portal import DEMO_PASSWORD, csrf_token, sign_in
from tests.support.views import view_actions

Client = AsyncTestClient[Litestar]
HTMX = {"hx-request": "true"}


async def _dentist(client: Client, email: str = "dentist@demo.test") -> dict[str, str]:
    await sign_in(client, email)
    return {"x-csrftoken": await csrf_token(client)}


async def test_queue_page_and_polled_fragment(client: Client, world: World) -> None:
    urgent = await world.add_case(urgency="urgent")
    await _dentist(client)
    page = await client.get("/review")
    assert page.status_code == 200 and "<html" in page.text
    assert 'id="queue-list"' in page.text and 'hx-trigger="every 20s"' in page.text
    assert str(urgent.id) in page.text and "badge-urgent" in page.text
    fragment = await client.get("/review?urgency=urgent&overdue=",
                                headers={**HTMX, "hx-target": "queue-list"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<section id="queue-list"')
    # The poller keeps the filters in its URL.
    assert 'hx-get="/review?urgency=urgent"' in fragment.text
    assert fragment.headers["vary"] == "HX-Request"


async def test_next_case_opens_it_and_case_page_is_audited(client: Client, world: World) -> None:
    patient = await world.add_patient(first_name="Jamie", last_name="Rivera",
                                      medical_alerts="Penicillin allergy",
                                      guardian_name="Morgan Rivera")
    earlier = await world.add_case(patient=patient, status="reviewed")
    await world.add_attachment(earlier, view="lower_occlusal")
    case = await world.add_case(patient=patient, urgency="soon")
    await world.add_attachment(case, view="lower_occlusal")
    headers = await _dentist(client)
    response = await client.post("/review/next", headers=headers, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/review/cases/{case.id}"
    page = await client.get(f"/review/cases/{case.id}")
    assert page.status_code == 200
    text = page.text
    for expected in ("Penicillin allergy", "Morgan Rivera", 'id="evaluation-form"',
                     'hx-trigger="input changed delay:1s, change, submit"', "/static/js/viewer.js",
                     f"/api/v1/cases/{case.id}/attachments/", "/thumbnail", "data-viewer-src",
                     "Compared with earlier cases", 'id="viewer"', "every 240s"):
        assert expected in text, expected
    assert "<script>" not in text and " style=" not in text and " onclick" not in text
    chained = list(await world.db.scalars(select(AuditEvent.action).where(
        AuditEvent.subject_id == str(case.id))))
    assert chained == ["case.claimed"]  # the read is a view row, not a chained event
    assert await view_actions(world.db, case.id) == ["case.viewed"]


async def test_autosave_and_sign_through_the_form(client: Client, world: World) -> None:
    case = await world.add_case()
    headers = await _dentist(client)
    await client.post(f"/review/cases/{case.id}/claim", headers=headers)
    form = {"findings": "Looks fine", "advice": "", "tooth": ["19", ""],
            "condition": ["healing_normal", ""], "proc_code": ["D0140", ""],
            "proc_tooth": ["", ""], "proc_surfaces": ["", ""], "urgency": "routine",
            "referral_specialty": "", "referral_reason": "", "follow_up_days": "7",
            "internal_notes": "n"}
    saved = await client.post(f"/review/cases/{case.id}/evaluation", data=form,
                              headers={**headers, **HTMX, "hx-target": "save-status"})
    assert saved.status_code == 200 and 'id="save-status"' in saved.text
    assert "advice to the patient is required" in saved.text
    evaluation = await world.db.scalar(select(Evaluation).where(Evaluation.case_id == case.id))
    assert evaluation.findings == "Looks fine" and evaluation.follow_up_days == 7
    assert evaluation.teeth_findings == [{"tooth": "19", "condition": "healing_normal"}]

    sign = {**form, "advice": "All good, keep brushing gently.", "password": "wrong-pass-123",
            "attest": "yes"}
    refused = await client.post(f"/review/cases/{case.id}/sign", data=sign,
                                headers={**headers, **HTMX, "hx-target": "sign-form"})
    assert refused.status_code == 422 and "password is not right" in refused.text
    signed = await client.post(f"/review/cases/{case.id}/sign",
                               data={**sign, "password": DEMO_PASSWORD},
                               headers={**headers, **HTMX, "hx-target": "sign-form"})
    assert signed.status_code == 200 and signed.headers["hx-location"] == \
        f"/review/cases/{case.id}"
    stored = await world.db.get(Case, case.id, populate_existing=True)
    assert stored.status == "reviewed"
    page = await client.get(f"/review/cases/{case.id}")
    assert "All good, keep brushing gently." in page.text
    assert 'id="evaluation-form"' not in page.text
    assert 'id="addendum-form"' in page.text


async def test_a_locked_account_gets_the_sign_form_back_with_the_wait(
    client: Client, world: World
) -> None:
    case = await world.add_case()
    headers = await _dentist(client)
    await client.post(f"/review/cases/{case.id}/claim", headers=headers)
    for _ in range(10):  # ten wrong passwords, at sign-in or signing, lock the account
        world.db.add(LoginFailure(account_key=account_key("dentist@demo.test"),
                                  client_address="203.0.113.9"))
    await world.db.commit()
    locked = await client.post(
        f"/review/cases/{case.id}/sign",
        data={"advice": "Fine.", "password": DEMO_PASSWORD, "attest": "yes"},
        headers={**headers, **HTMX, "hx-target": "sign-form"},
    )
    assert locked.status_code == 422 and "Too many wrong passwords" in locked.text
    assert 'id="sign-form"' in locked.text and int(locked.headers["retry-after"]) > 0
    stored = await world.db.get(Case, case.id, populate_existing=True)
    assert stored.status != "reviewed"


async def test_release_and_info_request_pages(client: Client, world: World) -> None:
    case = await world.add_case()
    headers = await _dentist(client)
    await client.post(f"/review/cases/{case.id}/claim", headers=headers)
    released = await client.post(f"/review/cases/{case.id}/release", headers=headers,
                                 follow_redirects=False)
    assert released.status_code == 303 and released.headers["location"] == "/review"
    await client.post(f"/review/cases/{case.id}/claim", headers=headers)
    sent = await client.post(f"/review/cases/{case.id}/info-requests",
                             data={"message": "Please retake with flash."}, headers=headers,
                             follow_redirects=False)
    assert sent.status_code == 303
    stored = await world.db.get(Case, case.id, populate_existing=True)
    assert stored.status == "needs_info"


async def test_pages_refuse_others(client: Client, world: World) -> None:
    outsider_org_case = await world.add_case(org=world.school)
    await sign_in(client, "hygienist@demo.test")
    assert (await client.get("/review")).status_code == 403
    loner = await world.add_dentist("clinic-only@demo.test", orgs=(world.clinic,),
                                    password_hash=world.dentist.password_hash)
    await sign_in(client, loner.email)
    assert (await client.get(f"/review/cases/{outsider_org_case.id}")).status_code == 404
    assert (await client.get("/review")).status_code == 200
