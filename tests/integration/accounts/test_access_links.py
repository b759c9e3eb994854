"""Invitation and reset links: single use, expiring, only the hash stored, policy enforced."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.accounts.links import INVITE, issue_link
from storage.models import AccessLink, AuditEvent, Role, User
from tests.integration.accounts.helpers import Client, post_form

PASSWORD = "correct horse battery"


async def _invited_user(db: AsyncSession) -> tuple[User, str]:
    user = User(email="new.staff@demo.test", role=Role.COORDINATOR, display_name="New")
    db.add(user)
    await db.flush()
    link = await issue_link(db, user.id, INVITE, created_by_id=None)
    await db.commit()
    return user, link.token


async def _set(client: Client, token: str, password: str = PASSWORD,
               confirm: str | None = None) -> int:
    response = await post_form(client, f"/access/{token}",
                               {"password": password, "password_confirm": confirm or password})
    return int(response.status_code)


async def _token_login(client: Client, password: str = PASSWORD) -> int:
    response = await client.post("/api/v1/tokens", json={
        "email": "new.staff@demo.test", "password": password, "name": "x"})
    return int(response.status_code)


async def test_invitation_works_once(client: Client, db: AsyncSession) -> None:
    _, token = await _invited_user(db)
    stored = await db.scalar(select(AccessLink))
    assert stored is not None and stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (await client.get(f"/access/{token}")).status_code == 200
    assert await _token_login(client) == 401  # no password yet
    assert await _set(client, token) == 303
    assert await _token_login(client) == 201
    assert (await client.get(f"/access/{token}")).status_code == 404
    assert await _set(client, token, "another good passphrase") == 404
    assert await _token_login(client, "another good passphrase") == 401
    assert await db.scalar(select(AuditEvent.id).where(AuditEvent.action == "password.set"))


async def test_expired_invitation_does_not_work(client: Client, db: AsyncSession) -> None:
    _, token = await _invited_user(db)
    await db.execute(update(AccessLink).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    await db.commit()
    assert (await client.get(f"/access/{token}")).status_code == 404
    assert await _set(client, token) == 404
    assert await _token_login(client) == 401


async def test_unknown_link_is_404(client: Client) -> None:
    assert (await client.get("/access/not-a-token")).status_code == 404


async def test_password_policy_and_confirmation(client: Client, db: AsyncSession) -> None:
    _, token = await _invited_user(db)
    assert await _set(client, token, "short") == 422
    assert await _set(client, token, "password1234") == 422  # common
    assert await _set(client, token, PASSWORD, "something else entirely") == 422
    assert await _set(client, token) == 303  # the link survived the refusals


async def test_a_new_link_replaces_the_old_one(client: Client, db: AsyncSession) -> None:
    user, first = await _invited_user(db)
    second = await issue_link(db, user.id, INVITE, created_by_id=None)
    await db.commit()
    assert await _set(client, first) == 404
    assert await _set(client, second.token) == 303
