from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from storage.database import create_engine, create_session_maker
from storage.models import Case, User
from tests.integration.multiprocess.conftest import Pair
from tests.integration.resilience.api import (
    api_token,
    direct_client,
    open_draft_case,
    upload_photo,
)
from tests.integration.review.conftest import load_world

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.slow]


def _sign_in(client: httpx.Client, base: str, email: str, password: str) -> None:
    client.get(f"{base}/login")
    response = client.post(
        f"{base}/login",
        data={"email": email, "password": password},
        headers={"x-csrftoken": client.cookies["csrftoken"]},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def test_a_session_made_on_one_portal_is_valid_on_the_other(two_portals: Pair) -> None:
    with httpx.Client() as client:
        _sign_in(client, two_portals.a.url, "dentist@demo.test", two_portals.a.password)
        # The same cookies, sent to the other process: the session lives in Redis.
        page = client.get(f"{two_portals.b.url}/")
        assert "dentist@demo.test" in page.text
        token = client.cookies["csrftoken"]
        out = client.post(f"{two_portals.b.url}/logout", headers={"x-csrftoken": token},
                          follow_redirects=False)
        assert out.status_code == 303
        assert "dentist@demo.test" not in client.get(f"{two_portals.a.url}/").text


def test_both_portals_are_ready_on_the_shared_services(two_portals: Pair) -> None:
    for server in (two_portals.a, two_portals.b):
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 200, ready.text


# --------------------------------------------------------------------------- "next case"

CLIENTS_PER_PORTAL = 10
CASES = 24
CLAIM_DEADLINE_S = 60.0


async def _seed_submitted_cases(database_url: str, count: int) -> set[str]:
    engine = create_engine(database_url)
    try:
        async with create_session_maker(engine)() as db:
            world = await load_world(db)
            made: set[str] = set()
            for i in range(count):
                school = i % 3 == 2
                case = await world.add_case(
                    org=world.school if school else world.clinic,
                    urgency=("urgent", "soon", "routine")[i % 3],
                    due_in=timedelta(hours=1 + i),
                    kind="school_screening" if school else "question",
                )
                made.add(str(case.id))
            return made
    finally:
        await engine.dispose()


async def _claims(database_url: str, ids: set[str]) -> dict[str, tuple[str, str]]:
    """case id -> (status, claimant's email) for the seeded cases, from the database."""
    engine = create_engine(database_url)
    try:
        async with create_session_maker(engine)() as db:
            rows = await db.execute(
                select(Case.id, Case.status, User.email)
                .outerjoin(User, User.id == Case.claimed_by_id)
                .where(Case.id.in_([uuid.UUID(i) for i in ids]))
            )
            return {str(r[0]): (r[1], r[2]) for r in rows}
    finally:
        await engine.dispose()


def _claim_until_empty(base: str, token: str, start: threading.Barrier) -> list[str]:
    claimed: list[str] = []
    deadline = time.monotonic() + CLAIM_DEADLINE_S
    with direct_client(base, token) as client:
        start.wait(timeout=30)
        while time.monotonic() < deadline:
            response = client.post("/api/v1/queue/claim")
            if response.status_code == 204:
                return claimed
            assert response.status_code == 200, f"{response.status_code}: {response.text}"
            claimed.append(response.json()["id"])
    raise AssertionError("the queue did not empty within the deadline")


def test_concurrent_next_case_from_both_portals_never_double_claims(
    two_portals: Pair, postgres_url: str
) -> None:
    seeded = asyncio.run(_seed_submitted_cases(postgres_url, CASES))
    portals = (two_portals.a, two_portals.b)
    emails = ("dentist@demo.test", "dentist2@demo.test")
    tokens = {email: api_token(two_portals.a.url, email, two_portals.a.password)
              for email in emails}
    jobs = [(server.url, emails[i % 2]) for server in portals
            for i in range(CLIENTS_PER_PORTAL)]
    start = threading.Barrier(len(jobs))
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [(email, pool.submit(_claim_until_empty, url, tokens[email], start))
                   for url, email in jobs]
        results = [(email, future.result(timeout=CLAIM_DEADLINE_S + 30))
                   for email, future in futures]

    claimed = [(case_id, email) for email, ids in results for case_id in ids]
    ids = [case_id for case_id, _ in claimed]
    assert len(ids) == len(set(ids)), "a case was claimed twice"
    assert set(ids) == seeded and len(ids) == CASES
    # Both processes handed out cases (the work really was shared).
    per_portal = [sum(len(ids) for (url, _), (_, ids) in zip(jobs, results, strict=True)
                      if url == server.url) for server in portals]
    assert all(n > 0 for n in per_portal), per_portal
    # The database agrees: every case in review, held by the dentist whose client got it.
    stored = asyncio.run(_claims(postgres_url, seeded))
    assert stored == {case_id: ("in_review", email) for case_id, email in claimed}


# --------------------------------------------------------------------------- uploads


def test_an_upload_through_one_portal_is_viewable_through_the_other(two_portals: Pair) -> None:
    a, b = two_portals.a, two_portals.b
    token = api_token(a.url, "patient@demo.test", a.password)
    with direct_client(a.url, token) as on_a, direct_client(b.url, token) as on_b:
        case_id = open_draft_case(on_a)
        uploaded = upload_photo(on_a, case_id)
        assert uploaded.status_code == 201, uploaded.text
        attachment = uploaded.json()
        # Display and thumbnail are made in the background by the job worker (SAQ, since
        # the portals share Redis): wait (bounded) until the other portal serves them too.
        display = f"/api/v1/cases/{case_id}/attachments/{attachment['id']}/display"
        deadline = time.monotonic() + 30
        while on_b.get(display).status_code == 202 and time.monotonic() < deadline:
            time.sleep(0.25)
        for variant in ("display", "original", "thumbnail"):
            url = f"/api/v1/cases/{case_id}/attachments/{attachment['id']}/{variant}"
            from_a, from_b = on_a.get(url), on_b.get(url)
            assert from_a.status_code == from_b.status_code == 200, from_b.text
            assert from_b.content and from_b.content == from_a.content
            if variant != "original":
                assert from_b.content.startswith(b"\xff\xd8")  # a JPEG
        # And the case, read through the other process, lists it.
        listed = on_b.get(f"/api/v1/cases/{case_id}").json()["attachments"]
        assert [item["id"] for item in listed] == [attachment["id"]]
