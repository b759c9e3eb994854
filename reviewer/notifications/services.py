"""Queue notifications with the action that causes them, and list them for staff.

:func:`notify` runs inside the action's transaction: the rows are added there (a rolled-back
signature sends nothing) and the send job is queued for after the commit. It never raises
into the action: a failure to queue is logged, the action goes on, and nobody is told (the
staff list shows no row, so the desk can still phone).

Recipients: every active patient-role login linked to the patient (the patient, a
guardian), each by their own choice (email / text / none); a patient without a login gets an
email at the guardian's address, else their own. A choice of "none" leaves a ``skipped``
row, so staff see that nobody was told and why.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import Forbidden, Invalid
from reviewer.i18n import N_
from reviewer.jobs import after_commit
from reviewer.notifications.messages import CHOICES, Channel, Kind
from storage.audit import AuditContext, record_event
from storage.models import Notification, Role, User, patient_login

log = logging.getLogger("toothline.notifications")

SEND_JOB: Final = "notifications.send"
JOB_GRACE: Final = dt.timedelta(minutes=1)
"""How long a fresh notification is left to its send job before the sweep may send it."""
STAFF_ROLES: Final = frozenset(
    {Role.HYGIENIST, Role.DENTIST, Role.COORDINATOR, Role.FRONT_DESK, Role.ADMIN}
)


@dataclass(frozen=True)
class Subject:
    """What a notification is about (ids only)."""

    type: str
    id: uuid.UUID
    case_id: uuid.UUID | None = None


async def _logins(db: AsyncSession, patient_id: uuid.UUID) -> list[User]:
    return list(
        (
            await db.scalars(
                select(User)
                .join(patient_login, patient_login.c.user_id == User.id)
                .where(patient_login.c.patient_id == patient_id,
                       User.role == Role.PATIENT, User.is_active.is_(True))
                .order_by(User.created_at)
            )
        ).all()
    )


def _channel(choice: str | None) -> Channel:
    return Channel(choice) if choice in CHOICES else Channel.EMAIL


async def _queue(
    db: AsyncSession, organization_id: uuid.UUID, patient_id: uuid.UUID, kind: Kind,
    subject: Subject, now: dt.datetime,
) -> list[Notification]:
    recipients: list[tuple[uuid.UUID | None, Channel]] = [
        (user.id, _channel(user.notify_by)) for user in await _logins(db, patient_id)
    ] or [(None, Channel.EMAIL)]
    rows = []
    for user_id, channel in recipients:
        row = Notification(
            organization_id=organization_id, recipient_user_id=user_id, patient_id=patient_id,
            kind=kind.value, channel=channel.value, attempts=0,
            subject_type=subject.type, subject_id=subject.id, case_id=subject.case_id,
        )
        if channel == Channel.NONE:
            row.state, row.last_error = "skipped", "the person chose no notifications"
        else:
            # The send job has the first attempt; the sweep takes over only if it got lost.
            row.state, row.next_attempt_at = "queued", now + JOB_GRACE
        db.add(row)
        rows.append(row)
    await db.flush()
    for row in rows:
        if row.state == "queued":
            after_commit(db, SEND_JOB, {"notification_id": str(row.id)})
    return rows


async def notify(
    db: AsyncSession, *, organization_id: uuid.UUID, patient_id: uuid.UUID, kind: Kind,
    subject: Subject, now: dt.datetime,
) -> list[Notification]:
    """Queue ``kind`` for everyone who hears about ``patient_id``; never raises."""
    try:
        return await _queue(db, organization_id, patient_id, kind, subject, now)
    except Exception:  # the action matters more than its notification
        log.exception("could not queue a %s notification", kind.value)
        return []


def _staff_of(actor: Actor, organization_id: uuid.UUID | None) -> frozenset[uuid.UUID]:
    if actor.role not in STAFF_ROLES:
        raise Forbidden("Only staff see notifications.")
    if organization_id is not None:
        if not actor.in_org(organization_id):
            raise Forbidden("That organization is not yours.")
        return frozenset({organization_id})
    return actor.organization_ids


async def list_notifications(
    db: AsyncSession, actor: Actor, *, case_id: uuid.UUID | None = None, limit: int = 100,
) -> list[Notification]:
    """The newest notifications of the actor's organizations (of one case when given). A
    case of another organization lists nothing, the same as a case without notifications."""
    orgs = _staff_of(actor, None)
    query = select(Notification).where(Notification.organization_id.in_(orgs))
    if case_id is not None:
        query = query.where(Notification.case_id == case_id)
    return list(
        (await db.scalars(query.order_by(Notification.created_at.desc()).limit(limit))).all()
    )


def notification_json(row: Notification) -> dict[str, object]:
    """What staff see: who by id, never the address; the error's kind, never the text."""
    return {
        "id": str(row.id),
        "kind": row.kind,
        "channel": row.channel,
        "state": row.state,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "created_at": row.created_at.isoformat(),
        "recipient": "login" if row.recipient_user_id else "patient contact",
        "recipient_user_id": str(row.recipient_user_id) if row.recipient_user_id else None,
        "patient_id": str(row.patient_id) if row.patient_id else None,
        "case_id": str(row.case_id) if row.case_id else None,
        "subject_type": row.subject_type,
        "subject_id": str(row.subject_id),
    }


async def set_choice(
    db: AsyncSession, actor: Actor, context: AuditContext, *, notify_by: str,
    mobile_phone: str,
) -> User:
    """The account page's choice: email, text (needs a mobile number) or none; audited
    (the choice, never the number)."""
    if notify_by not in CHOICES:
        raise Invalid(N_("Choose email, text message or none."), code="invalid_choice")
    phone = "".join(ch for ch in mobile_phone.strip() if ch not in " -().")
    if phone and not (phone.startswith("+") and phone[1:].isdigit() and 8 <= len(phone) <= 16):
        raise Invalid(N_("Write the mobile number with its country code, e.g. +15551234567."),
                      code="invalid_phone")
    if notify_by == Channel.SMS and not phone:
        raise Invalid(N_("Text messages need a mobile number."), code="phone_required")
    user = await db.get(User, actor.user_id)
    if user is None:
        raise Forbidden("No such account.")
    user.notify_by = notify_by
    user.mobile_phone = phone or None
    await db.flush()
    await record_event(
        db, "account.notifications_changed", context, subject_type="user", subject_id=user.id,
        details={"notify_by": notify_by, "mobile_phone": bool(phone)},
    )
    return user
