"""Results letters by email: a link to the child's letter is mailed to the guardian, never
the letter itself (the letter is PHI; a mailbox is neither private nor forgettable).

The token in the link is ``HMAC-SHA256(secret, link id)`` (the portal's secret key, handed to
the notification delivery): the send job derives it when it writes the mail, so the token is
stored nowhere, neither in the database (which keeps its SHA-256 only) nor in the job queue.
The link expires after ``LINK_LIFETIME``, may be revoked (a resend revokes the earlier link),
and every opening is counted and audited as a view by ``guardian link`` (ids only).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import anyio.to_thread
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.clock import now_utc
from reviewer.jobs import after_commit
from reviewer.notifications.messages import Kind
from reviewer.notifications.services import SEND_JOB
from reviewer.screening.children import Child, load_children
from reviewer.screening.events import get_event
from reviewer.screening.letters import LETTER_PRINTERS, letter_for, letter_language
from reviewer.screening.letters_pdf import Translator, render_letters
from reviewer.screening.progress import ChildState
from storage.audit import AuditContext, record_event, record_view
from storage.models import LetterLink, Notification, Organization, Patient, ScreeningEvent

__all__ = ["LINK_LIFETIME", "EmailOutcome", "email_letters", "link_token", "open_letter"]

LINK_LIFETIME: Final = dt.timedelta(days=30)
SUBJECT_TYPE: Final = "letter_link"
"""The notification's subject: the link (its id), so the send job can derive the token."""


def link_token(secret: bytes, link_id: uuid.UUID) -> str:
    """The token of a link: unguessable without the secret, derivable by the send job."""
    mac = hmac.new(secret, b"letter-link:" + link_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class EmailOutcome:
    """What a press of "Email letters to guardians" did (no addresses: staff see names)."""

    sent: int = 0
    already_sent: int = 0
    print_these: list[str] = field(default_factory=list)
    """The screened children without a guardian email: their letters go home on paper."""


def _screened(child: Child) -> bool:
    return child.state not in {ChildState.PENDING, ChildState.NOT_SCREENED} and bool(
        child.findings
    )


async def _live_link(db: AsyncSession, event_id: uuid.UUID, patient_id: uuid.UUID,
                     now: dt.datetime) -> LetterLink | None:
    return await db.scalar(
        select(LetterLink).where(
            LetterLink.screening_event_id == event_id, LetterLink.patient_id == patient_id,
            LetterLink.revoked.is_(False), LetterLink.expires_at > now,
        ).limit(1)
    )


async def email_letters(
    db: AsyncSession, actor: Actor, ctx: AuditContext, event_id: uuid.UUID, secret: bytes,
    *, resend: bool = False, now: dt.datetime | None = None,
) -> EmailOutcome:
    """For each screened child with a guardian email: a new link and a ``results_ready``
    mail to that address. Idempotent: a child with a live link is skipped unless ``resend``
    (which revokes the old link first). Audited with the children's ids."""
    event = await get_event(db, actor, event_id, LETTER_PRINTERS)
    moment = now or now_utc()
    sent: list[str] = []
    already = 0
    print_these: list[str] = []
    for child in await load_children(db, event):
        if not _screened(child):
            continue
        patient = child.patient
        if not patient.guardian_email:
            print_these.append(f"{patient.first_name} {patient.last_name}".strip())
            continue
        live = await _live_link(db, event.id, patient.id, moment)
        if live is not None and not resend:
            already += 1
            continue
        await db.execute(
            update(LetterLink)
            .where(LetterLink.screening_event_id == event.id,
                   LetterLink.patient_id == patient.id, LetterLink.revoked.is_(False))
            .values(revoked=True)
        )
        link = LetterLink(
            id=uuid.uuid4(), organization_id=event.organization_id, patient_id=patient.id,
            screening_event_id=event.id, language=letter_language(patient.preferred_language),
            expires_at=moment + LINK_LIFETIME, opened_count=0, revoked=False, token_hash="",
        )
        link.token_hash = token_hash(link_token(secret, link.id))
        db.add(link)
        # To the guardian's address (recipient_user_id None), whatever logins exist.
        row = Notification(
            organization_id=event.organization_id, recipient_user_id=None,
            patient_id=patient.id, kind=Kind.RESULTS_READY.value, channel="email", attempts=0,
            subject_type=SUBJECT_TYPE, subject_id=link.id, state="queued",
            next_attempt_at=moment + dt.timedelta(minutes=1),
        )
        db.add(row)
        await db.flush()
        after_commit(db, SEND_JOB, {"notification_id": str(row.id)})
        sent.append(str(patient.id))
    await record_event(
        db, "screening_letters.emailed", ctx, organization_id=event.organization_id,
        subject_type="screening_event", subject_id=event.id,
        details={"patient_ids": sent, "already_sent": already, "resend": resend,
                 "without_email": len(print_these)},
    )
    return EmailOutcome(len(sent), already, print_these)


async def open_letter(
    db: AsyncSession, ctx: AuditContext, token: str,
    translations: Callable[[str], Translator], *, find_dentist: str = "",
    now: dt.datetime | None = None,
) -> bytes | None:
    """The letter PDF of a valid, unexpired, unrevoked token (None otherwise, the same for
    every refusal). Counted on the link and audited as a view by the guardian link."""
    moment = now or now_utc()
    link = await db.scalar(select(LetterLink).where(LetterLink.token_hash == token_hash(token)))
    if link is None or link.revoked or _utc(link.expires_at) <= moment:
        return None
    event = await db.get(ScreeningEvent, link.screening_event_id)
    patient = await db.get(Patient, link.patient_id)
    if event is None or patient is None:
        return None
    children = [c for c in await load_children(db, event)
                if c.patient.id == patient.id and _screened(c)]
    if not children:
        return None
    org = await db.get_one(Organization, link.organization_id)
    letter = letter_for(children[0], event, org, find_dentist)
    pdf = await anyio.to_thread.run_sync(render_letters, [letter], translations, moment)
    link.opened_count += 1
    link.last_opened_at = moment
    record_view(
        db, "screening_letter.opened", ctx, organization_id=link.organization_id,
        subject_type="letter_link", subject_id=link.id,
        details={"via": "guardian link", "patient_id": str(patient.id),
                 "screening_event_id": str(event.id), "opened_count": link.opened_count},
    )
    return pdf
