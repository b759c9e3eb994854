"""Sending one notification, retrying with back-off, and the sweep.

A send first *claims* the row in a transaction of its own: one conditional UPDATE counts the
attempt and moves ``next_attempt_at`` to the back-off time, so two workers (the job and the
sweep) never send the same attempt twice, and a crash mid-send leaves a row the sweep
retries at the back-off time. Then the message goes out and the outcome is stored.

Back-off after a failed attempt: 1 min, 5 min, 30 min, 2 h; the fifth failure is final
(``failed``). The in-process runner sweeps every few minutes, so a retry happens at the
first sweep after its time.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.clock import now_utc
from reviewer.notifications.delivery import Delivery, DeliveryFailed, configured
from reviewer.notifications.messages import Channel, Kind, recipient_language, render
from reviewer.notifications.services import SEND_JOB
from reviewer.screening.letter_links import link_token
from storage.blobs import BlobStore
from storage.models import Notification, Organization, Patient, User

log = logging.getLogger("toothline.notifications")

BACKOFF: Final = (
    dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
)
MAX_ATTEMPTS: Final = len(BACKOFF) + 1
SWEEP_BATCH: Final = 50


async def _claim(db: AsyncSession, row: Notification, now: dt.datetime) -> bool:
    attempt = row.attempts + 1
    retry_at = now + BACKOFF[attempt - 1] if attempt <= len(BACKOFF) else None
    claimed = await db.execute(
        update(Notification)
        .where(Notification.id == row.id, Notification.state == "queued",
               Notification.attempts == row.attempts)
        .values(attempts=attempt, next_attempt_at=retry_at, updated_at=now)
    )
    await db.commit()
    return bool(getattr(claimed, "rowcount", 0))


async def _address(db: AsyncSession, row: Notification) -> str | None:
    user = await db.get(User, row.recipient_user_id) if row.recipient_user_id else None
    if row.recipient_user_id:
        if user is None or not user.is_active:
            return None
        return user.mobile_phone if row.channel == Channel.SMS else user.email
    patient = await db.get(Patient, row.patient_id) if row.patient_id else None
    if patient is None:
        return None
    if row.channel == Channel.SMS:
        return patient.guardian_phone or patient.phone
    return patient.guardian_email or patient.email


def _link(delivery: Delivery, row: Notification) -> str:
    """A patient-role login lands on the case's page (sign-in first, then there); anyone
    else, and every kind without a patient page, on the sign-in page."""
    base = delivery.public_url.rstrip("/")
    if row.kind == Kind.RESULTS_READY:
        return f"{base}/letters/{link_token(delivery.link_secret, row.subject_id)}"
    if row.recipient_user_id and row.case_id and row.kind in {
        Kind.ADVICE_READY, Kind.INFO_REQUESTED,
    }:
        return f"{base}/patient/cases/{row.case_id}"
    return f"{base}/login"


async def _outcome(
    db: AsyncSession, row_id: uuid.UUID, now: dt.datetime, *, state: str | None,
    error: str | None,
) -> None:
    row = await db.get(Notification, row_id, populate_existing=True)
    if row is None:
        return
    row.last_error = error
    if state == "sent":
        row.state, row.sent_at, row.next_attempt_at = "sent", now, None
    elif state is not None:
        row.state, row.next_attempt_at = state, None
    elif row.attempts >= MAX_ATTEMPTS:
        row.state, row.next_attempt_at = "failed", None
    await db.commit()


async def send_notification(
    db: AsyncSession, notification_id: uuid.UUID, *, now: dt.datetime | None = None,
    first: bool = False,
) -> str | None:
    """One attempt, when the row is queued and due; the state it ends in (None: nothing
    done). ``first``: the send job's attempt right after the commit, made before the row is
    due (the sweep leaves fresh rows to their job for ``JOB_GRACE``), and only as the first
    one. Never raises for a refused or unreachable server: that is an outcome."""
    moment = now or now_utc()
    delivery = configured()
    row = await db.get(Notification, notification_id, populate_existing=True)
    if row is None or row.state != "queued":
        return None
    if first:
        if row.attempts:
            return None  # the job ran again after its attempt: retries are the sweep's
    elif row.next_attempt_at is not None and row.next_attempt_at > moment:
        return None  # a retry's time has not come
    if delivery is None:
        log.warning("notification %s waits: no delivery configured in this process", row.id)
        return None
    if not await _claim(db, row, moment):
        return None  # another worker took this attempt
    address = await _address(db, row)
    if not address:
        await _outcome(db, row.id, moment, state="skipped", error="no address on file")
        return "skipped"
    if row.kind == Kind.RESULTS_READY and not delivery.link_secret:
        await _outcome(db, row.id, moment, state="skipped", error="no link secret")
        return "skipped"
    organization = await db.get(Organization, row.organization_id)
    language = recipient_language(
        await db.get(User, row.recipient_user_id) if row.recipient_user_id else None,
        await db.get(Patient, row.patient_id) if row.patient_id else None,
    )
    message = render(
        delivery.templates, row.kind, row.channel,
        organization=organization.name if organization else "Toothline",
        link=_link(delivery, row),
        translations=(delivery.translations or {}).get(language),
    )
    try:
        if row.channel == Channel.SMS:
            await delivery.sms.send_sms(address, message.body)
        else:
            await delivery.mail.send_email(address, message.subject, message.body)
    except DeliveryFailed as exc:
        log.warning("notification %s (%s) not sent: %s", row.id, row.kind, exc.reason)
        await _outcome(db, row.id, moment, state=None, error=exc.reason)
        refreshed = await db.get(Notification, row.id)
        return refreshed.state if refreshed else None
    await _outcome(db, row.id, moment, state="sent", error=None)
    log.info("notification %s (%s, %s) sent", row.id, row.kind, row.channel)
    return "sent"


async def send_job(db: AsyncSession, blobs: BlobStore, payload: Mapping[str, str]) -> None:
    """``notifications.send``: the first attempt, right after the action's commit."""
    del blobs
    await send_notification(db, uuid.UUID(payload["notification_id"]), first=True)


async def send_due(db: AsyncSession, *, now: dt.datetime | None = None) -> int:
    """The sweep's part: every queued notification whose (re)try time has come."""
    moment = now or now_utc()
    due = (
        await db.scalars(
            select(Notification.id)
            .where(Notification.state == "queued", Notification.next_attempt_at <= moment)
            .order_by(Notification.next_attempt_at)
            .limit(SWEEP_BATCH)
        )
    ).all()
    await db.commit()
    tried = 0
    for notification_id in due:
        if await send_notification(db, notification_id, now=moment) is not None:
            tried += 1
    return tried


JOBS: Final = {SEND_JOB: send_job}
