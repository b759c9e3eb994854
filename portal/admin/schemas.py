"""JSON bodies of the administration API (msgspec structs: unknown keys, missing fields and
wrong types answer 400 ``invalid`` with ``errors``). What only the service can judge keeps its
own answer: 422 ``invalid_payer_profile`` with ``problems``, 400 ``invalid_fee_schedule``."""

from __future__ import annotations

from typing import Any

import msgspec


class FeeScheduleIn(msgspec.Struct, forbid_unknown_fields=True):
    fees: dict[str, str]
    """The whole schedule, ``{"D0140": "95.00", ...}``: it replaces what was there (an empty
    object empties it). Amounts are dollars and cents as text, never numbers."""


class PayerProfileIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    """The payer's name as patients' records spell it (a patient takes the profile whose name
    is their payer's); unique within the organization (409 ``payer_profile_name_taken``)."""
    is_default: bool = False
    """The organization's default profile (for patients without a matching payer); setting it
    unsets the other profiles' default."""
    rules: dict[str, Any] = msgspec.field(default_factory=dict)
    """The payer's rules as ``GET`` answers them (``place_of_service_rule``,
    ``originating_site_codes``, ``in_person_codes``, ...); missing keys take the defaults; an
    unknown key or a value that does not fit answers 422 with ``problems``."""
