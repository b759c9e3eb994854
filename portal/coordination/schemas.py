"""JSON bodies of the referrals and coordination API.

msgspec structs: an unknown key or a value of the wrong JSON type answers 400 (``invalid``,
with the refused fields). Every field may be left out (or sent as null): the services check
what they need and answer their own codes (``case_required``, ``to_provider_required``,
``invalid_minutes``…), the same for the API and the coordinator's forms, so the fields below
say "required" where the service refuses a body without them.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from reviewer.coordination.services import NewActivity
from reviewer.errors import Invalid


class NewReferralIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """POST /referrals: a referral from a signed evaluation or an urgent school screening."""

    case_id: str | None = None
    """Required: the case the referral comes from."""
    to_provider: str | None = None
    """Required: to whom the patient is referred."""
    specialty: str | None = None
    """Default: the evaluation's suggested specialty."""
    reason: str | None = None
    """Required unless the evaluation suggests one."""
    urgency: str | None = None
    """urgent | soon | routine (default: the case's urgency)."""
    note: str | None = None
    """Kept with the first entry of the referral's history."""

    def fields(self) -> dict[str, Any]:
        """The fields sent, as ``create_referral`` reads them."""
        values: dict[str, Any] = msgspec.to_builtins(self)
        return values


class ReferralStatusIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """PATCH /referrals/{id}: the referral's next status (409 invalid_transition otherwise)."""

    status: str | None = None
    """Required: scheduled | seen | report_received | closed | lost_to_follow_up."""
    note: str | None = None


class ActivityIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """POST /patients/{id}/coordination-activities: one piece of coordination work."""

    kind: str | None = None
    """Required: appointment_compliance | care_coordination | motivational_interviewing |
    health_literacy | special_needs."""
    description: str | None = None
    """Required: what was done."""
    minutes: int | None = None
    """Required: the time spent, 1 to 1440."""
    necessity: str | None = None
    """Why it was needed."""
    barrier: str | None = None
    """transport | language | cost | special_needs | scheduling | other."""
    counterpart: str | list[str] | None = None
    """With whom: patient | family | provider | physician | school | payer | other (one or
    a list). Sharing with a provider or a physician needs the patient's current
    information_sharing consent (409 consent_required)."""
    with_whom: str | list[str] | None = None
    """The same as counterpart (read when counterpart is not sent)."""
    outcome: str | None = None
    performed_on: str | None = None
    """The day it was done, YYYY-MM-DD."""
    referral_id: str | None = None
    """The referral it belongs to, if any."""

    def new_activity(self) -> NewActivity:
        return NewActivity.from_dict(msgspec.to_builtins(self))


class BilledIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """POST /patients/{id}/coordination/billed: activities the front desk has billed."""

    activity_ids: list[str] | None = None
    """Required: the activities' ids (at least one)."""

    def ids(self) -> list[uuid.UUID]:
        if not self.activity_ids:
            raise Invalid('Send {"activity_ids": [...]}.', code="invalid_activity_ids")
        try:
            return [uuid.UUID(i) for i in self.activity_ids]
        except ValueError:
            raise Invalid("activity_ids are ids.", code="invalid_activity_ids") from None
