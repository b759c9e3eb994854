"""Plain data of claim-line coding: who provides, what an encounter is, a claim line, a rule
violation, the facts the proposal reads, and the rule ids. No I/O; the rules are told in
``reviewer.coding.rules``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from reviewer.cases.enums import CaseKind, OriginatingSite
from reviewer.coding.catalog import (
    ASSESSMENT_CODE,
    ASYNC_TELEDENTISTRY,
    EVALUATION_CODES,
    INTERPRETATION_CODE,
    SYNC_TELEDENTISTRY,
    TELEDENTISTRY_CODES,
)
from reviewer.errors import Invalid
from reviewer.vocabulary import (
    ProblemStatus,  # defined with the rest of the vocabulary; re-exported for the rules
    RadiographKind,
)

# --- plain data ------------------------------------------------------------------------------


class ProviderRole(StrEnum):
    DENTIST = "dentist"
    HYGIENIST = "hygienist"
    COORDINATOR = "coordinator"
    OTHER = "other"


@dataclass(frozen=True)
class Provider:
    npi: str
    name: str
    role: ProviderRole
    user_id: str | None = None
    """The organization's user who is this provider. Lines billing edits always carry it
    (:mod:`reviewer.billing.providers` fills name, NPI and role from that user); ``None`` only
    on lines stored before providers were chosen by id."""

    def as_dict(self) -> dict[str, str | None]:
        return {"user_id": self.user_id, "npi": self.npi, "name": self.name,
                "role": str(self.role)}

    def same_person(self, other: Provider) -> bool:
        """One provider: the same user where both are known, else the same NPI."""
        if self.user_id and other.user_id:
            return self.user_id == other.user_id
        return bool(self.npi) and self.npi == other.npi


class EncounterType(StrEnum):
    ASYNCHRONOUS = "asynchronous"
    """A stored-and-forwarded review (D9996)."""
    SYNCHRONOUS = "synchronous"
    """A live session (D9995)."""
    COORDINATION = "coordination"
    """Case-management work (D9991-D9994, D9997); not teledentistry."""


@dataclass(frozen=True)
class Encounter:
    type: EncounterType
    id: str

    def as_dict(self) -> dict[str, str]:
        return {"type": str(self.type), "id": self.id}


class InvalidClaimLine(Invalid):
    """A claim line that cannot even be read (missing field, bad date)."""

    code = "invalid_claim_line"


@dataclass(frozen=True)
class ClaimLine:
    code: str
    provider: Provider
    date_of_service: dt.date
    tooth: str | None
    surfaces: str | None
    quantity: int
    place_of_service: str
    encounter: Encounter
    fee_cents: int | None = None
    """The line's charge (unit fee times quantity) from the fee schedule when the line was stored
    (:mod:`reviewer.billing.fees`); None where the schedule has no fee for the code."""

    def with_fee(self, unit_cents: int | None) -> ClaimLine:
        fee = None if unit_cents is None else unit_cents * max(self.quantity, 0)
        return dataclasses.replace(self, fee_cents=fee)

    @property
    def fee(self) -> str | None:
        """The charge as dollars and cents text (``"95.00"``)."""
        if self.fee_cents is None:
            return None
        return f"{self.fee_cents // 100}.{self.fee_cents % 100:02d}"

    def as_dict(self) -> dict[str, Any]:
        """The API's shape: ``{"code", "provider": {...}, "date_of_service", ..., "encounter",
        "fee"}``."""
        return {
            "code": self.code,
            "provider": self.provider.as_dict(),
            "date_of_service": self.date_of_service.isoformat(),
            "tooth": self.tooth,
            "surfaces": self.surfaces,
            "quantity": self.quantity,
            "place_of_service": self.place_of_service,
            "encounter": self.encounter.as_dict(),
            "fee": self.fee,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClaimLine:
        """Read a line as :meth:`as_dict` writes it (billing staff's edits).

        Only the shape is checked here (raises :class:`InvalidClaimLine`); the coding rules
        are :func:`validate_lines`' job.
        """
        try:
            provider = data["provider"]
            encounter = data["encounter"]
            quantity = data.get("quantity", 1)
            if isinstance(quantity, bool) or not isinstance(quantity, int):
                raise InvalidClaimLine("quantity must be a whole number")
            tooth = data.get("tooth")
            surfaces = data.get("surfaces")
            for label, value in (("tooth", tooth), ("surfaces", surfaces)):
                if value is not None and not isinstance(value, str):
                    raise InvalidClaimLine(f"{label} must be text or null")
            when = data["date_of_service"]
            return cls(
                code=str(data["code"]).strip().upper(),
                provider=Provider(
                    npi=str(provider["npi"]),
                    name=str(provider["name"]),
                    role=ProviderRole(provider["role"]),
                    user_id=str(provider["user_id"]) if provider.get("user_id") else None,
                ),
                date_of_service=when if isinstance(when, dt.date) else dt.date.fromisoformat(when),
                tooth=tooth or None,
                surfaces=surfaces or None,
                quantity=quantity,
                place_of_service=str(data["place_of_service"]),
                encounter=Encounter(type=EncounterType(encounter["type"]), id=str(encounter["id"])),
                fee_cents=_cents(data.get("fee")),
            )
        except InvalidClaimLine:
            raise
        except KeyError as exc:
            raise InvalidClaimLine(f"claim line is missing {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise InvalidClaimLine(f"claim line does not fit: {exc}") from None


def _cents(fee: Any) -> int | None:
    """A stored line's ``fee`` ("95.00") as cents; what a client sends is replaced by the
    schedule's fee anyway."""
    if fee is None or fee == "":
        return None
    whole, _, part = str(fee).partition(".")
    if not whole.isdigit() or not (part == "" or (part.isdigit() and len(part) <= 2)):
        raise InvalidClaimLine(f"fee {fee!r} is not an amount in dollars and cents")
    return int(whole) * 100 + int(part.ljust(2, "0") or 0)


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class RuleViolation:
    rule: str
    """The rule's id (a :class:`Rule` value, or a case-management rule's id)."""
    message: str
    """Why, for people."""
    severity: Severity = Severity.ERROR
    line_index: int | None = None
    """0-based index of the offending line in what was validated, when there is one."""
    activity_id: str | None = None
    """The case-management activity concerned, when there is one."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "message": self.message,
            "severity": str(self.severity),
            "line_index": self.line_index,
            "activity_id": self.activity_id,
        }


def blocking(violations: Iterable[RuleViolation]) -> list[RuleViolation]:
    """The violations that stop billing (errors, not warnings)."""
    return [v for v in violations if v.severity is Severity.ERROR]


@dataclass(frozen=True)
class ServiceDelivered:
    """A service a hygienist delivered in person at the originating site."""

    code: str
    tooth: str | None
    provider: Provider
    date: dt.date


@dataclass(frozen=True)
class OnSiteVisit:
    """Who gathered the information with the patient, and when (a school screening's day)."""

    provider: Provider
    date: dt.date


@dataclass(frozen=True)
class RadiographSet:
    """Radiographs of one kind taken on one day by one provider."""

    kind: RadiographKind
    captured_on: dt.date
    captured_by: Provider | None
    """``None`` when taken outside this program (a patient's X-rays from another practice):
    no capture line here, though the dentist's reading is still D0391."""
    images: int = 1
    interpreted: bool = True
    """Read by the reviewing dentist, with a report."""


@dataclass(frozen=True)
class RecommendedProcedure:
    """Treatment the dentist recommends: treatment plan, never a claim line."""

    code: str
    tooth: str | None = None
    surfaces: str | None = None


@dataclass(frozen=True)
class AsyncReviewFacts:
    """What the proposal needs from a signed asynchronous review (D9996)."""

    encounter_id: str
    case_kind: CaseKind
    problem: ProblemStatus
    dentist: Provider
    signed_on: dt.date
    originating_site: OriginatingSite
    on_site: OnSiteVisit | None = None
    """Required for a school screening (the hygienist's D0191)."""
    services: tuple[ServiceDelivered, ...] = ()
    radiographs: tuple[RadiographSet, ...] = ()
    recommended: tuple[RecommendedProcedure, ...] = ()


@dataclass(frozen=True)
class LiveSessionFacts:
    """What the proposal needs from a live session (D9995)."""

    encounter_id: str
    dentist: Provider
    session_date: dt.date
    originating_site: OriginatingSite
    problem: ProblemStatus = ProblemStatus.NEW
    case_kind: CaseKind | None = None
    """The linked case's kind, when the session belongs to one."""
    on_site: OnSiteVisit | None = None
    services: tuple[ServiceDelivered, ...] = ()
    radiographs: tuple[RadiographSet, ...] = ()
    recommended: tuple[RecommendedProcedure, ...] = ()


# --- rule ids --------------------------------------------------------------------------------


class Rule(StrEnum):
    UNKNOWN_CODE = "unknown_code"
    QUANTITY_POSITIVE = "quantity_positive"
    QUANTITY_PER_TOOTH = "quantity_per_tooth"
    DUPLICATE_LINE = "duplicate_line"
    PLACE_OF_SERVICE = "place_of_service"
    TELEDENTISTRY_NOT_ALONE = "teledentistry_not_alone"
    TELEDENTISTRY_ONE_MODE = "teledentistry_one_mode"
    TELEDENTISTRY_MATCHES_ENCOUNTER = "teledentistry_matches_encounter"
    TELEDENTISTRY_ONCE = "teledentistry_once"
    EVALUATION_PRESENT = "evaluation_present"
    EVALUATION_CODE_ACCEPTED = "evaluation_code_accepted"
    EVALUATION_CODE_CAUTION = "evaluation_code_caution"
    EVALUATION_CODE_FITS_CASE = "evaluation_code_fits_case"
    SCHOOL_SCREENING_EVALUATION = "school_screening_evaluation_allowed"
    DENTIST_SERVICE_ON_DENTIST = "dentist_service_on_dentist"
    ONSITE_SERVICE_ON_HYGIENIST = "onsite_service_on_hygienist"
    DENTIST_LINE_DATE = "dentist_line_date"
    SERVICE_DELIVERED = "service_delivered"
    SERVICE_LINE_PROVIDER = "service_line_provider"
    SERVICE_LINE_DATE = "service_line_date"
    RECOMMENDED_NOT_CLAIMED = "recommended_not_claimed"
    PROVIDER_NOT_SIGNER = "provider_not_signer"
    TELEDENTISTRY_ONCE_PER_DAY = "teledentistry_once_per_day"
    EVALUATION_ONCE_PER_DAY = "evaluation_once_per_day"
    INTERPRETATION_NOT_BY_CAPTURER = "interpretation_not_by_capturer"
    CAPTURE_NEEDS_INTERPRETATION = "capture_needs_interpretation"
    CASE_MANAGEMENT_BILLED = "case_management_billed_by_payer"
    TOOTH_REQUIRED = "tooth_required"
    TOOTH_NOT_APPLICABLE = "tooth_not_applicable"
    TOOTH_VALID = "tooth_valid"
    TOOTH_VALID_FOR_AGE = "tooth_valid_for_age"
    TOOTH_FITS_CODE = "tooth_fits_code"
    SURFACES_REQUIRED = "surfaces_required"
    SURFACES_NOT_APPLICABLE = "surfaces_not_applicable"
    SURFACES_VALID = "surfaces_valid"
    SURFACE_COUNT = "surface_count"


DENTIST_CODES = EVALUATION_CODES | TELEDENTISTRY_CODES | {INTERPRETATION_CODE}
"""Codes only the (reviewing) dentist reports."""
EVALUATION_OR_ASSESSMENT_CODES = EVALUATION_CODES | {ASSESSMENT_CODE}
"""What counts as "the evaluation" beside a teledentistry code."""

TELEDENTISTRY_FOR: Mapping[EncounterType, str] = MappingProxyType(
    {EncounterType.ASYNCHRONOUS: ASYNC_TELEDENTISTRY, EncounterType.SYNCHRONOUS: SYNC_TELEDENTISTRY}
)
TELEDENTISTRY_ENCOUNTERS = frozenset(TELEDENTISTRY_FOR)
