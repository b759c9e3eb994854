"""Small field checks shared by the registry and the admin services."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reviewer.errors import Unprocessable

US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
        "GU",
        "VI",
        "AS",
        "MP",
    ]
)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def clean(value: str | None, *, limit: int, field: str, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise Unprocessable(
            f"{field.replace('_', ' ').capitalize()} is required.", code=f"{field}_required"
        )
    if len(text) > limit:
        raise Unprocessable(
            f"{field.replace('_', ' ').capitalize()} is too long.", code=f"{field}_too_long"
        )
    return text


def check_email(email: str | None, *, field: str = "email", required: bool = False) -> str | None:
    address = normalize_email(email or "")
    if not address:
        if required:
            raise Unprocessable("An email address is required.", code=f"{field}_required")
        return None
    if len(address) > 254 or not _EMAIL.match(address):
        raise Unprocessable("That email address does not look right.", code=f"invalid_{field}")
    return address


def check_state(state: str | None, *, required: bool = True) -> str:
    code = (state or "").strip().upper()
    if not code and not required:
        return ""
    if code not in US_STATES:
        raise Unprocessable("Use a two-letter US state code, e.g. CA.", code="invalid_state")
    return code


def check_npi(npi: str | None) -> str | None:
    """A National Provider Identifier: 10 digits whose last is a Luhn check digit over the
    prefix 80840 and the first nine (CMS's rule). Empty means none."""
    digits = (npi or "").strip()
    if not digits:
        return None
    if not re.fullmatch(r"\d{10}", digits) or not _npi_checksum_ok(digits):
        raise Unprocessable("An NPI is 10 digits with a valid check digit.", code="invalid_npi")
    return digits


def _npi_checksum_ok(npi: str) -> bool:
    total = 24  # the constant for the 80840 prefix
    for index, char in enumerate(reversed(npi[:9])):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10 == int(npi[9])


def check_time_zone(name: str | None) -> str:
    zone = (name or "").strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Unprocessable(
            "Use a time zone name such as America/Los_Angeles.", code="invalid_time_zone"
        ) from None
    return zone
