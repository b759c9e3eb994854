"""The records-desk policy of an organization (``Organization.records_policy``) and the fee
rules. Pure.

Policy keys (all optional; missing ones take the defaults below)::

    {
      "fee_method": "flat" | "cost_based" | "none",
      "flat_electronic_fee_cents": 650,     # at most 650 ($6.50)
      "cost_based": {"labor_cents_per_item": 100, "paper_cents_per_page": 10,
                     "pages_per_item": 2, "media_cents": 500, "postage_cents": 150},
      "third_party_fee_cents": null,        # a fixed fee for payers and lawyers (state law)
      "no_fee_requesters": ["provider"],    # where the law says no fee
      "second_check": false,                # a second staff member checks before release
      "link_days": 7, "link_uses": 5,       # the download link
      "delivery_methods": ["portal", "email", "mail", "pickup", "fax"]
                                            # how a copy may be released (DeliveryMethod)
    }

The fee is told before anything is prepared, so a cost-based fee is computed from the number
of items asked for (a case's record, each image and original), never from search or retrieval
time (HIPAA's right of access allows only labor for copying, supplies and postage).

* The patient or their personal representative asking for electronic copies under a flat-fee
  policy pays at most $6.50 (HHS guidance on the right of access).
* A requester listed in ``no_fee_requesters`` (e.g. another provider for continuity of care,
  where state law says so), a ``fee_method`` of ``none``, or copies for the practice's own use
  pay nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reviewer.errors import Invalid

__all__ = [
    "FLAT_FEE_CAP_CENTS",
    "DeliveryMethod",
    "FeeMethod",
    "FeeQuote",
    "Format",
    "IdDocumentType",
    "PolicyError",
    "RecordsPolicy",
    "Requester",
    "quote_fee",
]

FLAT_FEE_CAP_CENTS = 650


class Requester(StrEnum):
    PATIENT = "patient"
    REPRESENTATIVE = "representative"
    PROVIDER = "provider"
    PAYER = "payer"
    LEGAL = "legal"


THIRD_PARTIES = frozenset({Requester.PROVIDER, Requester.PAYER, Requester.LEGAL})
RIGHT_OF_ACCESS = frozenset({Requester.PATIENT, Requester.REPRESENTATIVE})


class Format(StrEnum):
    ELECTRONIC = "electronic"
    PAPER = "paper"
    MEDIA = "media"


class DeliveryMethod(StrEnum):
    """How a released copy reaches the requester (the desk picks one at release)."""

    PORTAL = "portal"
    EMAIL = "email"
    MAIL = "mail"
    PICKUP = "pickup"
    FAX = "fax"


class IdDocumentType(StrEnum):
    """The identity document the desk saw (only its type and last four characters are kept)."""

    DRIVERS_LICENSE = "drivers_license"
    STATE_ID = "state_id"
    PASSPORT = "passport"
    MILITARY_ID = "military_id"
    TRIBAL_ID = "tribal_id"
    SCHOOL_ID = "school_id"
    OTHER = "other"


class FeeMethod(StrEnum):
    FLAT = "flat"
    COST_BASED = "cost_based"
    NONE = "none"


class PolicyError(Invalid):
    code = "invalid_records_policy"


@dataclass(frozen=True)
class CostRates:
    labor_cents_per_item: int = 100
    paper_cents_per_page: int = 10
    pages_per_item: int = 2
    media_cents: int = 500
    postage_cents: int = 150


@dataclass(frozen=True)
class RecordsPolicy:
    fee_method: FeeMethod = FeeMethod.FLAT
    flat_electronic_fee_cents: int = FLAT_FEE_CAP_CENTS
    cost_based: CostRates = field(default_factory=CostRates)
    third_party_fee_cents: int | None = None
    no_fee_requesters: frozenset[Requester] = frozenset({Requester.PROVIDER})
    second_check: bool = False
    link_days: int = 7
    link_uses: int = 5
    delivery_methods: tuple[DeliveryMethod, ...] = tuple(DeliveryMethod)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RecordsPolicy:
        if not data:
            return cls()
        known = {
            "fee_method",
            "flat_electronic_fee_cents",
            "cost_based",
            "third_party_fee_cents",
            "no_fee_requesters",
            "second_check",
            "link_days",
            "link_uses",
            "delivery_methods",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise PolicyError(f"unknown records policy key(s): {', '.join(unknown)}")
        try:
            raw_rates = data.get("cost_based") or {}
            rates = CostRates(**{k: _count(v, k) for k, v in raw_rates.items()})
            policy = cls(
                fee_method=FeeMethod(data.get("fee_method", FeeMethod.FLAT)),
                flat_electronic_fee_cents=_count(
                    data.get("flat_electronic_fee_cents", FLAT_FEE_CAP_CENTS),
                    "flat_electronic_fee_cents",
                ),
                cost_based=rates,
                third_party_fee_cents=(
                    None
                    if data.get("third_party_fee_cents") is None
                    else _count(data["third_party_fee_cents"], "third_party_fee_cents")
                ),
                no_fee_requesters=frozenset(
                    Requester(r) for r in data.get("no_fee_requesters", ["provider"])
                ),
                second_check=bool(data.get("second_check", False)),
                link_days=_count(data.get("link_days", 7), "link_days"),
                link_uses=_count(data.get("link_uses", 5), "link_uses"),
                delivery_methods=tuple(
                    dict.fromkeys(
                        DeliveryMethod(m)
                        for m in data.get("delivery_methods", list(DeliveryMethod))
                    )
                ),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, PolicyError):
                raise
            raise PolicyError(f"records policy does not fit: {exc}") from None
        if policy.flat_electronic_fee_cents > FLAT_FEE_CAP_CENTS:
            raise PolicyError("the flat fee for electronic copies is at most $6.50 (650 cents)")
        if policy.link_days < 1 or policy.link_uses < 1:
            raise PolicyError("a download link lasts at least one day and one use")
        if not policy.delivery_methods:
            raise PolicyError("delivery_methods names at least one way to release a copy")
        return policy


def _count(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError(f"{key} must be a whole number, 0 or more")
    return value


@dataclass(frozen=True)
class FeeQuote:
    cents: int
    basis: str
    """Why this amount, in words the requester reads."""

    @property
    def dollars(self) -> str:
        return f"${self.cents // 100}.{self.cents % 100:02d}"


def quote_fee(
    policy: RecordsPolicy,
    requester: Requester | str,
    format: Format | str,
    items: int,
    *,
    own_use: bool = False,
) -> FeeQuote:
    """The fee to tell the requester before anything is prepared."""
    who, fmt = Requester(requester), Format(format)
    if own_use:
        return FeeQuote(0, "no fee: copies for the practice's own use")
    if who in policy.no_fee_requesters:
        return FeeQuote(0, f"no fee: the law charges no fee to a {who} for these copies")
    if policy.fee_method is FeeMethod.NONE:
        return FeeQuote(0, "no fee: this organization charges nothing for copies")
    if who in THIRD_PARTIES and policy.third_party_fee_cents is not None:
        return FeeQuote(policy.third_party_fee_cents, f"fixed fee for copies sent to a {who}")
    if policy.fee_method is FeeMethod.FLAT and fmt is Format.ELECTRONIC and who in RIGHT_OF_ACCESS:
        cents = min(policy.flat_electronic_fee_cents, FLAT_FEE_CAP_CENTS)
        return FeeQuote(cents, "flat fee for electronic copies (at most $6.50)")
    return _cost_based(policy.cost_based, fmt, items)


def _cost_based(rates: CostRates, fmt: Format, items: int) -> FeeQuote:
    count = max(items, 0)
    parts = [f"copying labor {count} item(s) x {rates.labor_cents_per_item} cents"]
    cents = count * rates.labor_cents_per_item
    if fmt is Format.PAPER:
        pages = count * rates.pages_per_item
        cents += pages * rates.paper_cents_per_page + rates.postage_cents
        parts += [f"paper {pages} page(s)", "postage"]
    elif fmt is Format.MEDIA:
        cents += rates.media_cents + rates.postage_cents
        parts += ["portable media", "postage"]
    return FeeQuote(cents, "cost-based fee: " + ", ".join(parts))
