"""The "referral reminder due" notification: the sweep calls :func:`queue_referral_reminders`.

A referral that is still ``sent`` or ``scheduled`` (nobody recorded that the patient was
seen) past its no-news time (``reviewer.referrals.lifecycle.needs_news``, by urgency) gets
one reminder to the patient or guardian; another only after new news (a status change moves
``last_news_at``) and another quiet spell.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.clock import now_utc
from reviewer.notifications.messages import Kind
from reviewer.notifications.services import Subject, notify
from reviewer.referrals.lifecycle import ReferralStatus, needs_news
from storage.models import Notification, Referral

NOT_SEEN: Final = (ReferralStatus.SENT.value, ReferralStatus.SCHEDULED.value)
BATCH: Final = 50


async def queue_referral_reminders(db: AsyncSession, *, now: dt.datetime | None = None) -> int:
    """Queue the reminders that are due, in one transaction; how many were queued."""
    moment = now or now_utc()
    reminded = (
        select(Notification.id)
        .where(Notification.subject_type == "referral",
               Notification.subject_id == Referral.id,
               Notification.kind == Kind.REFERRAL_REMINDER.value,
               Notification.created_at >= Referral.last_news_at)
        .exists()
    )
    referrals = (
        await db.scalars(
            select(Referral)
            .where(Referral.status.in_(NOT_SEEN), ~reminded)
            .order_by(Referral.last_news_at)
            .limit(BATCH)
        )
    ).all()
    queued = 0
    for referral in referrals:
        if not needs_news(referral.status, referral.urgency, referral.last_news_at, moment):
            continue
        await notify(
            db, organization_id=referral.organization_id, patient_id=referral.patient_id,
            kind=Kind.REFERRAL_REMINDER,
            subject=Subject("referral", referral.id, referral.case_id), now=moment,
        )
        queued += 1
    await db.commit()
    return queued
