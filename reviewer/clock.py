"""Calendar days and ages, once: the organization's time zone decides what day it is.

A patient's age, a date of service, a records-request deadline and a roster's "today" are
days in the organization's (or practice's) time zone, never the server's: ``date.today()``
answers in the zone the server runs in (UTC in the container), which is a day off for a
California practice every evening. Instants are stored timezone-aware UTC; a naive one is
read as UTC.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["age_on", "as_utc", "local_date", "now_utc", "today_in", "zone"]


def zone(name: str | None) -> dt.tzinfo:
    """The zone called ``name``; UTC for an empty or unknown name (a mistyped setting must
    not take a page down; settings and the admin form check names when they are saved)."""
    if not name:
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def as_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` as an aware UTC instant (naive values are UTC already)."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_date(moment: dt.datetime, time_zone: str | None) -> dt.date:
    """The calendar day of ``moment`` in ``time_zone`` (dates of service, due dates)."""
    return as_utc(moment).astimezone(zone(time_zone)).date()


def today_in(time_zone: str | None, *, now: dt.datetime | None = None) -> dt.date:
    """Today in ``time_zone`` (``now`` for tests; default the current instant)."""
    return local_date(now or now_utc(), time_zone)


def age_on(born: dt.date, day: dt.date) -> int:
    """Whole years from ``born`` to ``day`` (a 29 February birthday turns on 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
