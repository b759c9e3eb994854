"""Sign-in: throttling per account and per address, one answer for unknown and wrong,
audit events without passwords or addresses in clear."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, LoginFailure
from tests.integration.accounts.helpers import Client
from tests.support.portal import DEMO_PASSWORD, csrf_token

EMAIL = "dentist@demo.test"


async def _login(client: Client, email: str, password: str) -> tuple[int, str, str | None]:
    token = await csrf_token(client)
    response = await client.post("/login", data={"email": email, "password": password},
                                 headers={"x-csrftoken": token}, follow_redirects=False)
    return response.status_code, response.text, response.headers.get("retry-after")


async def _api(client: Client, email: str, password: str) -> tuple[int, dict[str, str], str | None]:
    response = await client.post("/api/v1/tokens",
                                 json={"email": email, "password": password, "name": "x"})
    return response.status_code, response.json(), response.headers.get("retry-after")


async def test_eleventh_wrong_password_is_locked_without_revealing_the_account(
    client: Client, db: AsyncSession
) -> None:
    for _ in range(10):
        status, body, _ = await _api(client, EMAIL, "wrong-password-x")
        assert status == 401
        assert body["code"] == "invalid_credentials"
    locked_status, locked_body, retry = await _api(client, EMAIL, DEMO_PASSWORD)
    assert locked_status == 429, "even the right password is refused while locked"
    assert retry is not None and 0 < int(retry) <= 15 * 60
    # an unknown address walks the very same path
    unknown = [await _api(client, "nobody@demo.test", "wrong-password-x") for _ in range(11)]
    assert [s for s, _, _ in unknown[:10]] == [401] * 10
    assert unknown[0][1] == body
    assert unknown[10][0] == 429 and unknown[10][1] == locked_body
    assert unknown[10][2] is not None
    # the page answers alike
    status, text, retry = await _login(client, EMAIL, DEMO_PASSWORD)
    assert status == 429 and retry is not None and "Too many failed sign-ins" in text
    key = hashlib.sha256(b"dentist@demo.test").hexdigest()
    rows = (await db.scalars(select(LoginFailure).where(LoginFailure.account_key == key))).all()
    assert len(rows) == 10, "locked attempts are not counted"


async def test_unknown_email_and_wrong_password_get_the_same_answer(client: Client) -> None:
    wrong = await _api(client, EMAIL, "wrong-password-x")
    unknown = await _api(client, "nobody@example.test", "wrong-password-x")
    assert wrong[0] == unknown[0] == 401
    assert wrong[1] == unknown[1]
    page_wrong = await _login(client, EMAIL, "wrong-password-x")
    page_unknown = await _login(client, "nobody@example.test", "wrong-password-x")
    assert page_wrong[0] == page_unknown[0] == 401
    assert "The email or password is not right." in page_wrong[1]
    assert "The email or password is not right." in page_unknown[1]


async def test_lock_ends_when_the_window_has_passed(client: Client, db: AsyncSession) -> None:
    for _ in range(10):
        await _api(client, EMAIL, "wrong-password-x")
    assert (await _api(client, EMAIL, DEMO_PASSWORD))[0] == 429
    await db.execute(update(LoginFailure).values(
        created_at=datetime.now(UTC) - timedelta(minutes=16)))
    await db.commit()
    assert (await _api(client, EMAIL, DEMO_PASSWORD))[0] == 201


async def test_a_success_ends_the_run_of_failures(client: Client) -> None:
    for _ in range(9):
        await _api(client, EMAIL, "wrong-password-x")
    assert (await _api(client, EMAIL, DEMO_PASSWORD))[0] == 201
    for _ in range(9):
        assert (await _api(client, EMAIL, "wrong-password-x"))[0] == 401
    assert (await _api(client, EMAIL, DEMO_PASSWORD))[0] == 201


async def test_address_limit_across_accounts(client_factory) -> None:
    client = await client_factory(LOGIN_MAX_FAILURES_PER_ADDRESS="3", LOGIN_MAX_FAILURES="50")
    for email in ("a@demo.test", "b@demo.test", "c@demo.test"):
        assert (await _api(client, email, "wrong-password-x"))[0] == 401
    status, body, retry = await _api(client, "patient@demo.test", DEMO_PASSWORD)
    assert status == 429 and body["code"] == "locked" and retry


async def test_settings_change_the_limits(client_factory) -> None:
    client = await client_factory(LOGIN_MAX_FAILURES="2", LOGIN_LOCK_MINUTES="1")
    assert (await _api(client, EMAIL, "wrong-password-x"))[0] == 401
    assert (await _api(client, EMAIL, "wrong-password-x"))[0] == 401
    status, _, retry = await _api(client, EMAIL, DEMO_PASSWORD)
    assert status == 429 and retry is not None and int(retry) <= 60


async def test_sign_in_events_are_audited_without_secrets(client: Client, db: AsyncSession) -> None:
    await _login(client, EMAIL, "wrong-password-x")
    assert (await _login(client, EMAIL, DEMO_PASSWORD))[0] == 303
    token = await csrf_token(client)
    await client.post("/logout", headers={"x-csrftoken": token}, follow_redirects=False)
    events = (await db.scalars(select(AuditEvent).order_by(AuditEvent.occurred_at))).all()
    actions = [e.action for e in events]
    assert actions == ["session.sign_in_failed", "session.signed_in", "session.signed_out"]
    failed, signed_in, signed_out = events
    assert failed.details == {"account_key": hashlib.sha256(EMAIL.encode()).hexdigest()}
    assert failed.actor_id is None
    assert signed_in.actor_id == signed_out.actor_id and signed_in.actor_id is not None
    for event in events:
        blob = repr((event.details, event.subject_id, event.user_agent))
        assert "wrong-password" not in blob and DEMO_PASSWORD not in blob and EMAIL not in blob
        assert event.client_address


async def test_cross_site_form_post_without_token_is_refused(client: Client) -> None:
    response = await client.post("/login", data={"email": EMAIL, "password": DEMO_PASSWORD},
                                 headers={"origin": "https://evil.example"})
    assert response.status_code == 403
    assert "session" not in client.cookies


async def test_malformed_json_is_a_400_with_a_code(client: Client) -> None:
    for body in (b"{not json", b"[1, 2", b"\xff\xfe"):
        response = await client.post("/api/v1/tokens", content=body,
                                     headers={"content-type": "application/json"})
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "malformed_json"
    wrong_shape = await client.post("/api/v1/tokens", json=[1, 2])
    assert wrong_shape.status_code == 400 and wrong_shape.json()["code"]
