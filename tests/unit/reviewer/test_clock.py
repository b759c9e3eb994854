"""Days and ages in the organization's time zone (reviewer/clock.py)."""

from __future__ import annotations

import datetime as dt

from reviewer.clock import age_on, as_utc, local_date, today_in, zone

LA = "America/Los_Angeles"


def test_age_turns_on_the_birthday() -> None:
    born = dt.date(2010, 6, 15)
    assert age_on(born, dt.date(2026, 6, 14)) == 15
    assert age_on(born, dt.date(2026, 6, 15)) == 16


def test_a_leap_day_birthday_turns_on_the_first_of_march() -> None:
    born = dt.date(2008, 2, 29)
    assert age_on(born, dt.date(2026, 2, 28)) == 17
    assert age_on(born, dt.date(2026, 3, 1)) == 18


def test_local_date_is_the_day_in_the_zone_not_in_utc() -> None:
    evening = dt.datetime(2026, 11, 22, 5, 30, tzinfo=dt.UTC)  # 21:30 on the 21st in LA
    assert local_date(evening, LA) == dt.date(2026, 11, 21)
    assert local_date(evening, "UTC") == dt.date(2026, 11, 22)
    assert local_date(evening.replace(tzinfo=None), LA) == dt.date(2026, 11, 21)  # naive = UTC


def test_today_in_uses_the_zone() -> None:
    now = dt.datetime(2026, 6, 15, 3, 0, tzinfo=dt.UTC)  # still the 14th in California
    assert today_in(LA, now=now) == dt.date(2026, 6, 14)
    assert age_on(dt.date(2010, 6, 15), today_in(LA, now=now)) == 15


def test_an_unknown_or_empty_zone_is_utc() -> None:
    assert zone("Not/AZone") is dt.UTC
    assert zone("") is dt.UTC
    assert zone(None) is dt.UTC


def test_as_utc() -> None:
    naive = dt.datetime(2026, 1, 1, 12, 0)
    assert as_utc(naive) == dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    plus_two = dt.datetime(2026, 1, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert as_utc(plus_two).hour == 12 and as_utc(plus_two).tzinfo is dt.UTC
