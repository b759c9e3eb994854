"""'Forgot your password?': the owner's own reset path, by email through a real SMTP server
on loopback (aiosmtpd). The page answers the same for every address; the mail carries no PHI."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AccessLink, AuditEvent
from tests.integration.accounts.helpers import post_form
from tests.support.smtp import Mailbox

SENT = "If an account uses that address"


def _link(body: str) -> str:
    found = re.search(r"http://\S+/access/(\S+)", body)
    assert found, body
    return found.group(1)


async def test_reset_link_is_mailed_to_the_owner_and_works(
    client_factory, smtp_server: Mailbox, db: AsyncSession
) -> None:
    client = await client_factory(SMTP_URL=smtp_server.url,
                                  MAIL_FROM="Demo Clinic <no-reply@clinic.test>")
    assert "Forgot your password?" in (await client.get("/login")).text
    asked = await post_form(client, "/forgot-password", {"email": "Patient@Demo.test"})
    assert asked.status_code == 200 and SENT in asked.text
    [message] = smtp_server.wait_for(1)
    assert message["X-Envelope-To"] == "patient@demo.test"
    assert message["From"] == "Demo Clinic <no-reply@clinic.test>"
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    # no PHI: neither the patient's name nor the organization's
    assert "Pat" not in body and "Demo Dental Clinic" not in body
    token = _link(body)
    done = await post_form(client, f"/access/{token}", {
        "password": "my own new passphrase", "password_confirm": "my own new passphrase"})
    assert done.status_code == 303
    token_answer = await client.post("/api/v1/tokens", json={
        "email": "patient@demo.test", "password": "my own new passphrase", "name": "t"})
    assert token_answer.status_code == 201
    assert await db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "password_reset.requested")) == 1


async def test_same_answer_for_unknown_addresses_and_no_mail_bombing(
    client_factory, smtp_server: Mailbox, db: AsyncSession
) -> None:
    client = await client_factory(SMTP_URL=smtp_server.url)
    unknown = await post_form(client, "/forgot-password", {"email": "nobody@example.test"})
    known = await post_form(client, "/forgot-password", {"email": "dentist@demo.test"})
    again = await post_form(client, "/forgot-password", {"email": "dentist@demo.test"})
    assert unknown.status_code == known.status_code == again.status_code == 200
    assert SENT in unknown.text and SENT in known.text and SENT in again.text
    assert len(smtp_server.wait_for(1)) == 1
    assert await db.scalar(select(func.count()).select_from(AccessLink)) == 1


async def test_without_a_mail_server_the_message_lands_in_the_outbox(
    client_factory, settings, tmp_path
) -> None:
    client = await client_factory()
    await post_form(client, "/forgot-password", {"email": "billing@demo.test"})
    outbox = tmp_path / "outbox"
    files = list(outbox.glob("*.eml"))
    assert len(files) == 1 and (files[0].stat().st_mode & 0o777) == 0o600
    assert "/access/" in files[0].read_text()


async def test_an_unreachable_mail_server_does_not_fail_the_request(
    client_factory, db: AsyncSession
) -> None:
    client = await client_factory(SMTP_URL="smtp://127.0.0.1:9")
    asked = await post_form(client, "/forgot-password", {"email": "patient@demo.test"})
    assert asked.status_code == 200 and SENT in asked.text
    assert await db.scalar(select(func.count()).select_from(AccessLink)) == 1
