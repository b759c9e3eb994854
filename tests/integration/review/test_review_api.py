"""The review JSON API: queue, claims, the evaluation's life, refusals and audit events."""

from __future__ import annotations

from datetime import timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from reviewer.evaluation.services import signed_content_matches, submitter_view
from storage.models import AuditEvent, Case, Evaluation, InfoRequest, LoginFailure
from tests.integration.review.conftest import World, utcnow
from tests.support.portal import DEMO_PASSWORD, csrf_token, sign_in

Client = AsyncTestClient[Litestar]

DRAFT = {
    "findings": "Socket healing, mild redness distal of 19.",
    "teeth_findings": [{"tooth": "19", "condition": "healing_normal"}],
    "diagnosis": "Normal post-extraction healing.",
    "advice": "Keep rinsing gently with warm salt water after meals for three more days.",
    "urgency": "routine",
    "procedures": [{"code": "D2391", "tooth": "30", "surfaces": "o"}],
    "referral": None,
    "follow_up_days": 14,
    "internal_notes": "Patient anxious; call if no photo next week.",
}


async def _as(client: Client, email: str) -> dict[str, str]:
    await sign_in(client, email)
    return {"x-csrftoken": await csrf_token(client)}


async def _audits(world: World, case: Case) -> list[str]:
    return list(await world.db.scalars(
        select(AuditEvent.action).where(AuditEvent.subject_id == str(case.id))
        .order_by(AuditEvent.seq)))


async def test_queue_api_lists_filters_and_pages(client: Client, world: World) -> None:
    urgent = await world.add_case(urgency="urgent", kind="emergency")
    for _ in range(3):
        await world.add_case()
    await _as(client, "dentist@demo.test")
    response = await client.get("/api/v1/queue")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "next_cursor"}
    assert body["items"][0]["id"] == str(urgent.id)
    assert body["items"][0]["urgency"] == "urgent" and body["next_cursor"] is None
    only = (await client.get("/api/v1/queue", params={"kind": "emergency"})).json()["items"]
    assert [i["id"] for i in only] == [str(urgent.id)]
    assert (await client.get("/api/v1/queue", params={"urgency": "bogus"})).status_code == 400
    assert (await client.get("/api/v1/queue", params={"cursor": "zz"})).json()["code"] == \
        "invalid_cursor"
    mine = await client.get("/api/v1/queue", params={"mine": "true"})
    assert mine.json() == {"items": [], "next_cursor": None}


async def test_queue_api_cursor(client: Client, world: World) -> None:
    made = [await world.add_case(due_in=timedelta(hours=i + 1)) for i in range(5)]
    await _as(client, "dentist@demo.test")
    seen, cursor, pages = [], None, 0
    for _ in range(10):
        pages += 1
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/api/v1/queue", params=params)).json()
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [str(c.id) for c in made] and pages == 3


async def test_only_dentists(client: Client, world: World) -> None:
    case = await world.add_case()
    assert (await client.get("/api/v1/queue")).status_code == 401
    headers = await _as(client, "hygienist@demo.test")
    assert (await client.get("/api/v1/queue")).status_code == 403
    assert (await client.post(f"/api/v1/cases/{case.id}/claim", headers=headers)).status_code \
        == 403


async def test_claim_next_and_specific(client: Client, world: World) -> None:
    headers = await _as(client, "dentist@demo.test")
    assert (await client.post("/api/v1/queue/claim", headers=headers)).status_code == 204
    case = await world.add_case()
    draft = await world.add_case(status="draft")
    response = await client.post("/api/v1/queue/claim", headers=headers)
    assert response.status_code == 200
    assert response.json()["id"] == str(case.id) and response.json()["status"] == "in_review"
    again = await client.post(f"/api/v1/cases/{case.id}/claim", headers=headers)
    assert again.status_code == 200  # already mine
    refused = await client.post(f"/api/v1/cases/{draft.id}/claim", headers=headers)
    assert refused.status_code == 409 and refused.json()["code"] == "invalid_transition"
    # CSRF: a browser session without the token is refused.
    assert (await client.post(f"/api/v1/cases/{case.id}/claim")).status_code == 403
    headers2 = await _as(client, "dentist2@demo.test")
    taken = await client.post(f"/api/v1/cases/{case.id}/claim", headers=headers2)
    assert taken.status_code == 409 and taken.json()["code"] == "case_taken"
    assert (await client.post(f"/api/v1/cases/{case.id}/release", headers=headers2)
            ).json()["code"] == "not_claimant"


async def test_evaluation_life(client: Client, world: World) -> None:
    case = await world.add_case()
    headers = await _as(client, "dentist@demo.test")
    url = f"/api/v1/cases/{case.id}"
    # Writing or signing without a claim: 409 invalid_transition.
    no_claim = await client.put(f"{url}/evaluation", json=DRAFT, headers=headers)
    assert no_claim.status_code == 409 and no_claim.json()["code"] == "invalid_transition"
    unclaimed_sign = await client.post(f"{url}/evaluation/sign",
                                       json={"password": DEMO_PASSWORD, "attest": True},
                                       headers=headers)
    assert unclaimed_sign.status_code == 409
    assert unclaimed_sign.json()["code"] == "invalid_transition"

    assert (await client.post(f"{url}/claim", headers=headers)).status_code == 200
    saved = await client.put(f"{url}/evaluation", json=DRAFT, headers=headers)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["status"] == "draft" and body["problems"] == []
    assert body["procedures"] == [{"code": "D2391", "tooth": "30", "surfaces": "O"}]

    # Problems are kept, reported, and block signing.
    broken = {**DRAFT, "procedures": [{"code": "D2391", "tooth": "99", "surfaces": "O"}],
              "advice": ""}
    kept = (await client.put(f"{url}/evaluation", json=broken, headers=headers)).json()
    assert kept["procedures"][0]["tooth"] == "99"
    assert {p["field"] for p in kept["problems"]} == {"procedures", "advice"}
    incomplete = await client.post(f"{url}/evaluation/sign",
                                   json={"password": DEMO_PASSWORD, "attest": True},
                                   headers=headers)
    assert incomplete.status_code == 422 and incomplete.json()["code"] == "evaluation_incomplete"
    assert (await client.put(f"{url}/evaluation", json={"findings": 3},
                             headers=headers)).status_code == 400
    assert (await client.put(f"{url}/evaluation", json=DRAFT, headers=headers)).status_code == 200

    bad = await client.post(f"{url}/evaluation/sign",
                            json={"password": "wrong-password-123", "attest": True},
                            headers=headers)
    assert bad.status_code == 403 and bad.json()["code"] == "bad_password"
    no_attest = await client.post(f"{url}/evaluation/sign",
                                  json={"password": DEMO_PASSWORD, "attest": False},
                                  headers=headers)
    assert no_attest.status_code == 422 and no_attest.json()["code"] == "attestation_required"

    # Another dentist may not write it.
    headers2 = await _as(client, "dentist2@demo.test")
    other = await client.put(f"{url}/evaluation", json=DRAFT, headers=headers2)
    assert other.status_code == 409 and other.json()["code"] == "not_claimant"

    headers = await _as(client, "dentist@demo.test")
    signed = await client.post(f"{url}/evaluation/sign",
                               json={"password": DEMO_PASSWORD, "attest": True}, headers=headers)
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "signed" and len(signed.json()["content_sha256"]) == 64

    stored_case = await world.db.get(Case, case.id, populate_existing=True)
    assert stored_case.status == "reviewed" and stored_case.reviewed_at is not None
    evaluation = await world.db.scalar(select(Evaluation).where(Evaluation.case_id == case.id))
    assert evaluation.attestation.startswith("I reviewed this case asynchronously")
    assert signed_content_matches(evaluation)
    view = submitter_view(evaluation).as_dict()
    assert view["advice"] == DRAFT["advice"] and "internal_notes" not in view
    assert view["next_steps"][0]["code"] == "D2391" and view["follow_up_days"] == 14

    # Immutable: editing after signing is an invalid transition.
    after = await client.put(f"{url}/evaluation", json=DRAFT, headers=headers)
    assert after.status_code == 409 and after.json()["code"] == "invalid_transition"
    again = await client.post(f"{url}/evaluation/sign",
                              json={"password": DEMO_PASSWORD, "attest": True}, headers=headers)
    assert again.status_code == 409

    addendum = await client.post(f"{url}/evaluation/addenda",
                                 json={"text": "Patient called: pain gone.",
                                       "password": DEMO_PASSWORD}, headers=headers)
    assert addendum.status_code == 201 and addendum.json()["text"] == "Patient called: pain gone."
    assert (await client.post(f"{url}/evaluation/addenda",
                              json={"text": "x", "password": "nope-nope-nope"},
                              headers=headers)).json()["code"] == "bad_password"
    await client.app.state.jobs.drained()  # the package built after signing
    audits = await _audits(world, case)
    # the reviewer's own steps, in order; the package build (a job after commit) interleaves
    assert [a for a in audits if not a.startswith("claim_package.")] == [
        "case.claimed", "evaluation.saved", "evaluation.saved", "evaluation.saved",
        "evaluation.password_failed", "evaluation.signed", "evaluation.addendum_signed",
        "evaluation.password_failed",
    ]
    assert "claim_package.generated" in audits


async def test_wrong_signing_passwords_lock_signing_and_sign_in(
    client: Client, world: World
) -> None:
    """The signing password is the sign-in password: wrong ones count as failed sign-ins."""
    case = await world.add_case()
    headers = await _as(client, "dentist@demo.test")
    url = f"/api/v1/cases/{case.id}"
    await client.post(f"{url}/claim", headers=headers)
    await client.put(f"{url}/evaluation", json=DRAFT, headers=headers)
    for _ in range(10):  # the default TOOTHLINE_LOGIN_MAX_FAILURES
        bad = await client.post(f"{url}/evaluation/sign",
                                json={"password": "wrong-password-123", "attest": True},
                                headers=headers)
        assert bad.status_code == 403 and bad.json()["code"] == "bad_password"
    failures = await world.db.scalar(select(func.count()).select_from(LoginFailure))
    assert failures == 10
    locked = await client.post(f"{url}/evaluation/sign",
                               json={"password": DEMO_PASSWORD, "attest": True}, headers=headers)
    assert locked.status_code == 429 and locked.json()["code"] == "locked"
    assert int(locked.headers["retry-after"]) > 0
    evaluation = await world.db.scalar(select(Evaluation).where(Evaluation.case_id == case.id))
    assert evaluation is not None and evaluation.status == "draft"
    assert (await _audits(world, case)).count("evaluation.password_failed") == 10
    token = await client.post("/api/v1/tokens", json={
        "email": "dentist@demo.test", "password": DEMO_PASSWORD, "name": "after"})
    assert token.status_code == 429


async def test_info_request_releases_and_keeps_draft(client: Client, world: World) -> None:
    case = await world.add_case()
    original_due = case.due_at
    headers = await _as(client, "dentist@demo.test")
    url = f"/api/v1/cases/{case.id}"
    await client.post(f"{url}/claim", headers=headers)
    await client.put(f"{url}/evaluation", json=DRAFT, headers=headers)
    response = await client.post(f"{url}/info-requests",
                                 json={"message": "Retake the lower left, cheek pulled back."},
                                 headers=headers)
    assert response.status_code == 201
    stored = await world.db.get(Case, case.id, populate_existing=True)
    assert stored.status == "needs_info" and stored.claimed_by_id is None
    assert stored.due_at == original_due
    assert await world.db.scalar(select(Evaluation.advice).where(Evaluation.case_id == case.id)) \
        == DRAFT["advice"]
    assert (await world.db.scalar(select(InfoRequest.message))).startswith("Retake")
    # Not claimable while waiting for the submitter.
    refused = await client.post(f"{url}/claim", headers=headers)
    assert refused.status_code == 409 and refused.json()["code"] == "invalid_transition"
    # The submitter resubmits (intake's side, simulated here): it is back, same due time.
    stored.status = "submitted"
    await world.db.commit()
    body = (await client.get("/api/v1/queue")).json()
    assert body["items"][0]["id"] == str(case.id)
    assert body["items"][0]["due_at"] == original_due.isoformat()


async def test_lease_renewal_and_release(client: Client, world: World) -> None:
    case = await world.add_case()
    headers = await _as(client, "dentist@demo.test")
    url = f"/api/v1/cases/{case.id}"
    claimed = (await client.post(f"{url}/claim", headers=headers)).json()
    stored = await world.db.get(Case, case.id, populate_existing=True)
    stored.lease_expires_at = utcnow() + timedelta(minutes=1)
    await world.db.commit()
    renewed = (await client.post(f"{url}/lease", headers=headers)).json()
    assert renewed["lease_expires_at"] > claimed["lease_expires_at"][:16]
    released = await client.post(f"{url}/release", headers=headers)
    assert released.status_code == 200 and released.json()["status"] == "submitted"
    assert await _audits(world, case) == ["case.claimed", "case.released"]
