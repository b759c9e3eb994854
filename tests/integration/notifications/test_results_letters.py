"""Results letters by email: the guardian gets a link, never the letter (no names, findings
or urgency words in the mail); the link opens that one child's letter in the guardian's
language; expired or made-up tokens 404; a second press mails nobody; another program's
hygienist cannot send; the database keeps only the token's hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from email.message import Message

from litestar import Litestar
from litestar.testing import AsyncTestClient
from pypdf import PdfReader
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.app import create_app
from storage.models import LetterLink, Notification, Organization, ViewEvent
from tests.integration.notifications.conftest import PUBLIC_URL
from tests.integration.screening.conftest import (
    FRONT_DESK,
    HYGIENIST,
    children,
    create_event,
    headers,
    import_roster,
)
from tests.integration.screening.test_children import save
from tests.support.portal import csrf_token, sign_in
from tests.support.smtp import Mailbox

Client = AsyncTestClient[Litestar]
ROSTER = (
    "student_id,first_name,last_name,date_of_birth,grade,guardian_name,consent,language,"
    "guardian_email\n"
    "E-1,Sofía,Muñoz,2017-02-01,3,Ramón Muñoz,yes,es,ramon.munoz@example.test\n"
    "E-2,Oliver,Brown,2017-05-01,3,Kate Brown,yes,en,kate.brown@example.test\n"
    "E-3,Iker,Peña,2016-05-01,4,,yes,es,\n"
).encode()
LINK = re.compile(re.escape(PUBLIC_URL) + r"/letters/([A-Za-z0-9_-]+)")


def _text(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return f"{message['Subject']}\n{payload.decode()}"


async def _press(client: Client, event_id: str, **form: str) -> int:
    response = await client.post(
        f"/screening/events/{event_id}/letters/email",
        data={"_csrf_token": await csrf_token(client), **form}, follow_redirects=False,
        headers={"x-csrftoken": await csrf_token(client)})
    return response.status_code


async def _mail_count(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(Notification)
                               .where(Notification.kind == "results_ready")) or 0)


async def test_guardians_get_a_link_not_the_letter(
    app: Litestar, client: Client, db: AsyncSession, smtp_server: Mailbox,
) -> None:
    await sign_in(client, HYGIENIST)
    event_id = (await create_event(client)).json()["id"]
    assert (await import_roster(client, event_id, ROSTER)).status_code == 200
    kids = await children(client, event_id)
    for student in ("E-1", "E-2", "E-3"):
        assert (await save(client, event_id, kids[student])).status_code == 200

    assert await _press(client, event_id) == 303
    page = await client.get(f"/screening/events/{event_id}")
    assert "Letters emailed: 2." in page.text and "Print these: Iker Peña." in page.text
    await app.state.jobs.drained()
    messages = {str(m["X-Envelope-To"]): m for m in smtp_server.wait_for(2)}
    assert set(messages) == {"ramon.munoz@example.test", "kate.brown@example.test"}
    forbidden = ["Sofía", "Muñoz", "Oliver", "Brown", "Ramón", "Kate", "Iker", "urgent",
                 "urgente", "decay", "caries", "sealant", "fluoride", "Lincoln"]
    assert "carta del examen dental escolar" in _text(messages["ramon.munoz@example.test"])
    assert "screening letter from" in _text(messages["kate.brown@example.test"])
    tokens = {}
    for address, message in messages.items():
        text = _text(message)
        assert "school dental screening letter" in text.lower() or "carta" in text.lower()
        match = LINK.search(text)
        assert match is not None, text
        outside_link = text.replace(match.group(0), "")  # a random token may spell a word
        for word in forbidden:
            assert word.lower() not in outside_link.lower(), (address, word)
        assert not message.is_multipart()
        tokens[address] = match.group(1)

    # The database holds the hashes only, never a token.
    links = list(await db.scalars(select(LetterLink)))
    assert len(links) == 2
    assert {link.token_hash for link in links} == {
        hashlib.sha256(token.encode()).hexdigest() for token in tokens.values()}
    for link in links:
        assert all(token not in str(value) for token in tokens.values()
                   for value in vars(link).values())

    async with AsyncTestClient(app=create_app(app.state.settings)) as guardian:
        opened = await guardian.get(f"/letters/{tokens['ramon.munoz@example.test']}")
        assert opened.status_code == 200, opened.text
        assert opened.headers["content-type"] == "application/pdf"
        assert opened.headers["cache-control"] == "no-store"
        assert opened.headers["x-robots-tag"] == "noindex"
        assert opened.headers["content-disposition"].startswith("inline")
        (letter,) = [" ".join((p.extract_text() or "").split())
                     for p in PdfReader(io.BytesIO(opened.content)).pages]
        assert "Sofía Muñoz tuvo un examen dental" in letter and "Oliver" not in letter
        english = await guardian.get(f"/letters/{tokens['kate.brown@example.test']}")
        assert "Oliver Brown had a dental screening" in " ".join(
            (PdfReader(io.BytesIO(english.content)).pages[0].extract_text() or "").split())

        made_up = await guardian.get("/letters/not-a-real-token-at-all")
        assert made_up.status_code == 404
        assert "This link is not valid" in made_up.text and "no es válido" in made_up.text
        await db.execute(update(LetterLink).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
        await db.commit()
        expired = await guardian.get(f"/letters/{tokens['kate.brown@example.test']}")
        assert expired.status_code == 404

    db.expire_all()
    views = list(await db.scalars(select(ViewEvent).where(
        ViewEvent.action == "screening_letter.opened")))
    assert len(views) == 2 and all(v.details["via"] == "guardian link" for v in views)
    assert all("Muñoz" not in str(v.details) for v in views)
    opened_link = await db.scalar(select(LetterLink).where(LetterLink.opened_count == 1)
                                  .limit(1))
    assert opened_link is not None and opened_link.last_opened_at is not None


async def test_a_second_press_mails_nobody_and_resend_mails_again(
    app: Litestar, client: Client, db: AsyncSession, smtp_server: Mailbox,
) -> None:
    await sign_in(client, HYGIENIST)
    event_id = (await create_event(client)).json()["id"]
    assert (await import_roster(client, event_id, ROSTER)).status_code == 200
    kids = await children(client, event_id)
    assert (await save(client, event_id, kids["E-1"])).status_code == 200
    assert await _press(client, event_id) == 303
    assert await _mail_count(db) == 1
    assert await _press(client, event_id) == 303
    assert await _mail_count(db) == 1
    page = await client.get(f"/screening/events/{event_id}")
    assert "Letters emailed: 0. Already emailed: 1." in page.text
    assert await _press(client, event_id, resend="1") == 303
    assert await _mail_count(db) == 2
    db.expire_all()
    links = list(await db.scalars(select(LetterLink).order_by(LetterLink.created_at)))
    assert [link.revoked for link in links] == [True, False]
    await app.state.jobs.drained()


async def test_another_programs_hygienist_cannot_send(client: Client, db: AsyncSession) -> None:
    clinic = await db.scalar(select(Organization).where(Organization.name == "Demo Dental Clinic"))
    assert clinic is not None
    await sign_in(client, FRONT_DESK)
    event_id = (await create_event(client, organization_id=str(clinic.id))).json()["id"]
    assert await _press(client, event_id) == 403  # the front desk prints no letters
    client.cookies.clear()
    await sign_in(client, HYGIENIST)  # the school program only
    assert await _press(client, event_id) == 404
    assert await _mail_count(db) == 0
    assert (await client.post(
        f"/screening/events/{event_id}/letters/email", data={},
        headers=await headers(client))).status_code in {403, 404}
