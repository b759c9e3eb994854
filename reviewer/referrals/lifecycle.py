"""A referral's life and its no-news reminder. Pure.

::

    sent -> scheduled -> seen -> report_received -> closed
      \\________\\__________\\______________________/-> closed
       any open status -> lost_to_follow_up -> scheduled | seen | closed (found again)

A referral that had no news (no status change) for longer than its urgency allows needs a
reminder: :func:`needs_news`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from reviewer.errors import Conflict

__all__ = [
    "NEWS_DAYS",
    "OPEN",
    "InvalidReferralTransition",
    "ReferralStatus",
    "needs_news",
    "next_statuses",
    "transition",
]


class ReferralStatus(StrEnum):
    SENT = "sent"
    SCHEDULED = "scheduled"
    SEEN = "seen"
    REPORT_RECEIVED = "report_received"
    CLOSED = "closed"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"


R = ReferralStatus
OPEN = frozenset({R.SENT, R.SCHEDULED, R.SEEN})
SEEN_BY_DENTIST = frozenset({R.SEEN, R.REPORT_RECEIVED})
"""Statuses that mean the patient was seen (a closed referral counts when it was seen first)."""

_NEXT: Mapping[ReferralStatus, frozenset[ReferralStatus]] = MappingProxyType(
    {
        R.SENT: frozenset({R.SCHEDULED, R.SEEN, R.REPORT_RECEIVED, R.CLOSED,
                           R.LOST_TO_FOLLOW_UP}),
        R.SCHEDULED: frozenset({R.SEEN, R.REPORT_RECEIVED, R.CLOSED, R.LOST_TO_FOLLOW_UP}),
        R.SEEN: frozenset({R.REPORT_RECEIVED, R.CLOSED, R.LOST_TO_FOLLOW_UP}),
        R.REPORT_RECEIVED: frozenset({R.CLOSED}),
        R.LOST_TO_FOLLOW_UP: frozenset({R.SCHEDULED, R.SEEN, R.CLOSED}),
        R.CLOSED: frozenset(),
    }
)

NEWS_DAYS: Mapping[str, int] = MappingProxyType({"urgent": 3, "soon": 7, "routine": 14})
"""Days without news after which an open referral needs a reminder, by urgency."""


class InvalidReferralTransition(Conflict):
    code = "invalid_transition"


def next_statuses(status: ReferralStatus | str) -> frozenset[ReferralStatus]:
    return _NEXT[ReferralStatus(status)]


def transition(status: ReferralStatus | str, target: ReferralStatus | str) -> ReferralStatus:
    current = ReferralStatus(status)
    try:
        wanted = ReferralStatus(target)
    except ValueError:
        raise InvalidReferralTransition(
            f"Unknown referral status {target!r}.", code="invalid_status"
        ) from None
    if wanted not in _NEXT[current]:
        raise InvalidReferralTransition(
            f"A referral that is {current.replace('_', ' ')} cannot become "
            f"{wanted.replace('_', ' ')}."
        )
    return wanted


def needs_news(
    status: ReferralStatus | str, urgency: str, last_news_at: dt.datetime, now: dt.datetime,
    days: Mapping[str, int] = NEWS_DAYS,
) -> bool:
    if ReferralStatus(status) not in OPEN:
        return False
    last = last_news_at if last_news_at.tzinfo else last_news_at.replace(tzinfo=dt.UTC)
    return now - last >= dt.timedelta(days=days.get(urgency, days["routine"]))
