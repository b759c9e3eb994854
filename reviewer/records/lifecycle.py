"""The records-request life and its 30-day clock. Pure: no I/O.

A request for copies (D9961) moves::

    received --verify--> verified --quote--> fee_quoted --pay----> paid ---.
                                                        '--waive--> waived -+-prepare-> prepared
    prepared --check--> checked --deliver--> delivered      (where the organization asks
    prepared ----------------------deliver--> delivered      for a second check: via checked)
    any open state --refuse--> refused (with the reason)

``extend`` keeps the status: it records the one 30-day extension (with a written reason),
allowed while the request is open and its first due date has not passed.

Every move goes through :func:`transition`; an illegal one raises :class:`InvalidTransition`
(HTTP 409, code ``invalid_transition``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from reviewer.clock import local_date, zone
from reviewer.errors import Conflict

__all__ = [
    "DUE_DAYS",
    "EXTENSION_DAYS",
    "InvalidTransition",
    "RecordsAction",
    "RecordsStatus",
    "allowed_actions",
    "can_extend",
    "deadline",
    "due_on",
    "effective_due_on",
    "extended_due_on",
    "is_open",
    "is_overdue",
    "local_date",
    "time_left",
    "transition",
    "zone",
]

DUE_DAYS = 30
EXTENSION_DAYS = 30


class RecordsStatus(StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    FEE_QUOTED = "fee_quoted"
    PAID = "paid"
    WAIVED = "waived"
    PREPARED = "prepared"
    CHECKED = "checked"
    DELIVERED = "delivered"
    REFUSED = "refused"


class RecordsAction(StrEnum):
    VERIFY = "verify"
    QUOTE = "quote"
    PAY = "pay"
    WAIVE = "waive"
    PREPARE = "prepare"
    CHECK = "check"
    DELIVER = "deliver"
    REFUSE = "refuse"


S = RecordsStatus
A = RecordsAction
OPEN_STATES = frozenset(set(S) - {S.DELIVERED, S.REFUSED})

_MOVES: Mapping[tuple[RecordsStatus, RecordsAction], RecordsStatus] = MappingProxyType(
    {
        (S.RECEIVED, A.VERIFY): S.VERIFIED,
        (S.VERIFIED, A.QUOTE): S.FEE_QUOTED,
        # A quote may be corrected before it is paid or waived.
        (S.FEE_QUOTED, A.QUOTE): S.FEE_QUOTED,
        (S.FEE_QUOTED, A.PAY): S.PAID,
        (S.FEE_QUOTED, A.WAIVE): S.WAIVED,
        (S.PAID, A.PREPARE): S.PREPARED,
        (S.WAIVED, A.PREPARE): S.PREPARED,
        (S.PREPARED, A.CHECK): S.CHECKED,
        (S.PREPARED, A.DELIVER): S.DELIVERED,
        (S.CHECKED, A.DELIVER): S.DELIVERED,
        **{(state, A.REFUSE): S.REFUSED for state in OPEN_STATES},
    }
)


class InvalidTransition(Conflict):
    code = "invalid_transition"


def transition(
    status: RecordsStatus | str, action: RecordsAction | str, *, second_check: bool = False
) -> RecordsStatus:
    """The status after ``action``; :class:`InvalidTransition` when it is not allowed.

    ``second_check``: the organization has a second staff member check every package, so a
    prepared package is delivered only once checked (and ``check`` exists only then).
    """
    current, move = RecordsStatus(status), RecordsAction(action)
    if move is A.CHECK and not second_check:
        raise InvalidTransition(
            "This organization does not ask for a second check before release.",
        )
    if move is A.DELIVER and current is S.PREPARED and second_check:
        raise InvalidTransition(
            "A second staff member must check the package before it is released.",
        )
    target = _MOVES.get((current, move))
    if target is None:
        raise InvalidTransition(f"A request that is {_label(current)} cannot be {_done(move)}.")
    return target


def allowed_actions(
    status: RecordsStatus | str, *, second_check: bool = False
) -> list[RecordsAction]:
    out = []
    for action in RecordsAction:
        try:
            transition(status, action, second_check=second_check)
        except InvalidTransition:
            continue
        out.append(action)
    return out


def is_open(status: RecordsStatus | str) -> bool:
    return RecordsStatus(status) in OPEN_STATES


def _label(status: RecordsStatus) -> str:
    return str(status).replace("_", " ")


def _done(action: RecordsAction) -> str:
    return {
        A.VERIFY: "verified",
        A.QUOTE: "given a fee quote",
        A.PAY: "marked paid",
        A.WAIVE: "given a fee waiver",
        A.PREPARE: "prepared",
        A.CHECK: "checked",
        A.DELIVER: "delivered",
        A.REFUSE: "refused",
    }[action]


# --- the clock -----------------------------------------------------------------------------


def due_on(received_at: dt.datetime, time_zone: str) -> dt.date:
    """The 30th calendar day after the day of receipt, in the organization's time zone.

    The request is due at the end of that day (:func:`deadline`).
    """
    return local_date(received_at, time_zone) + dt.timedelta(days=DUE_DAYS)


def extended_due_on(first_due_on: dt.date) -> dt.date:
    return first_due_on + dt.timedelta(days=EXTENSION_DAYS)


def effective_due_on(first_due_on: dt.date, extension: dt.date | None) -> dt.date:
    return extension or first_due_on


def deadline(day: dt.date, time_zone: str) -> dt.datetime:
    """The end of ``day`` in ``time_zone`` (the first instant of the next day), in UTC."""
    next_day = day + dt.timedelta(days=1)
    local = dt.datetime(next_day.year, next_day.month, next_day.day, tzinfo=zone(time_zone))
    return local.astimezone(dt.UTC)


def time_left(
    first_due_on: dt.date, extension: dt.date | None, time_zone: str, now: dt.datetime
) -> dt.timedelta:
    """Negative once overdue."""
    return deadline(effective_due_on(first_due_on, extension), time_zone) - now


def is_overdue(
    status: RecordsStatus | str,
    first_due_on: dt.date,
    extension: dt.date | None,
    time_zone: str,
    now: dt.datetime,
) -> bool:
    return is_open(status) and time_left(first_due_on, extension, time_zone, now) <= dt.timedelta(0)


def can_extend(
    status: RecordsStatus | str,
    first_due_on: dt.date,
    extension: dt.date | None,
    time_zone: str,
    now: dt.datetime,
) -> str | None:
    """Why the one extension cannot be taken now (``None`` when it can)."""
    if not is_open(status):
        return "The request is finished; there is nothing to extend."
    if extension is not None:
        return "The one 30-day extension was already taken."
    if now >= deadline(first_due_on, time_zone):
        return "The extension must be given before the first 30 days run out."
    return None
