"""Claim-line rules for teledentistry encounters: propose lines, validate edited ones. Pure.

Sources: the CDT entries for D9995/D9996 ("reported in addition to other procedures delivered
to the patient on the date of service"), the ADA's guide to documenting teledentistry events,
and the payer profile (``reviewer.coding.payer``).

Proposal (:func:`propose_async_lines`, :func:`propose_live_lines`), in this order:

1. the hygienist's on-site services, each on the hygienist who delivered it and on the day it
   was delivered — for a school screening, D0191 (the assessment) on the visit's day;
2. radiograph image capture only (D0705-D0709, see :data:`CAPTURE_CODE_BY_KIND`) for whoever
   took images that the dentist read, on the day they were taken;
3. the dentist's evaluation code (:func:`evaluation_code_for`) — left out for a school
   screening when the profile says the program's dentist may not report it;
4. D0391 (reading with a report) for the dentist when they read images someone else took;
5. the teledentistry code: D9996 for an asynchronous review, D9995 for a live session.

The dentist's lines carry the date the dentist signed (asynchronous) or the session's date
(live). Every line of one encounter carries the encounter's place of service from the payer
profile. The dentist's recommended procedures are a treatment plan and never become lines.

Validation (:func:`validate_lines`) returns :class:`RuleViolation` s; each names its rule
(:class:`Rule`) and says why. ``severity="warning"`` ones do not stop billing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from reviewer.cases.enums import CaseKind, OriginatingSite
from reviewer.coding.catalog import (
    ASSESSMENT_CODE,
    ASYNC_TELEDENTISTRY,
    CASE_MANAGEMENT_CODES,
    EVALUATION_CODES,
    IMAGE_CAPTURE_CODES,
    INTERPRETATION_CODE,
    ONSITE_HYGIENIST_CODES,
    SYNC_TELEDENTISTRY,
    TELEDENTISTRY_CODES,
    CdtCode,
    UnknownCode,
    get_code,
    load_catalog,
)
from reviewer.coding.payer import DEFAULT_PROFILE, PayerProfile
from reviewer.coding.teeth import (
    dentition_of,
    region_of,
    surfaces_refusal,
    tooth_age_refusal,
    tooth_refusal,
)
from reviewer.errors import Invalid
from reviewer.vocabulary import (
    CAPTURE_CODE_BY_KIND,
    ESTABLISHED_PROBLEM_EVALUATION,
    NEW_PROBLEM_EVALUATION,
    POST_OPERATIVE_EVALUATION,
    RadiographKind,
)

__all__ = [
    "CAPTURE_CODE_BY_KIND",
    "DENTIST_CODES",
    "EVALUATION_OR_ASSESSMENT_CODES",
    "AsyncReviewFacts",
    "ClaimLine",
    "Encounter",
    "EncounterType",
    "InvalidClaimLine",
    "LiveSessionFacts",
    "OnSiteVisit",
    "ProblemStatus",
    "Provider",
    "ProviderRole",
    "RadiographKind",
    "RadiographSet",
    "RecommendedProcedure",
    "Rule",
    "RuleViolation",
    "ServiceDelivered",
    "Severity",
    "UnknownCode",
    "ValidationContext",
    "blocking",
    "context_for_async",
    "context_for_live",
    "evaluation_code_for",
    "propose_async_lines",
    "propose_live_lines",
    "referenced_codes",
    "validate_lines",
]


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

    def as_dict(self) -> dict[str, str]:
        return {"npi": self.npi, "name": self.name, "role": str(self.role)}


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

    def as_dict(self) -> dict[str, Any]:
        """The API's shape: ``{"code", "provider": {...}, "date_of_service", ..., "encounter"}``."""
        return {
            "code": self.code,
            "provider": self.provider.as_dict(),
            "date_of_service": self.date_of_service.isoformat(),
            "tooth": self.tooth,
            "surfaces": self.surfaces,
            "quantity": self.quantity,
            "place_of_service": self.place_of_service,
            "encounter": self.encounter.as_dict(),
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
                ),
                date_of_service=when if isinstance(when, dt.date) else dt.date.fromisoformat(when),
                tooth=tooth or None,
                surfaces=surfaces or None,
                quantity=quantity,
                place_of_service=str(data["place_of_service"]),
                encounter=Encounter(type=EncounterType(encounter["type"]), id=str(encounter["id"])),
            )
        except InvalidClaimLine:
            raise
        except KeyError as exc:
            raise InvalidClaimLine(f"claim line is missing {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise InvalidClaimLine(f"claim line does not fit: {exc}") from None


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


class ProblemStatus(StrEnum):
    NEW = "new"
    """A problem this practice has not evaluated before → D0140."""
    ESTABLISHED = "established"
    """A problem evaluated before, looked at again → D0170."""


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

_TELEDENTISTRY_FOR: Mapping[EncounterType, str] = MappingProxyType(
    {EncounterType.ASYNCHRONOUS: ASYNC_TELEDENTISTRY, EncounterType.SYNCHRONOUS: SYNC_TELEDENTISTRY}
)
_TELEDENTISTRY_ENCOUNTERS = frozenset(_TELEDENTISTRY_FOR)


# --- proposal --------------------------------------------------------------------------------


def evaluation_code_for(case_kind: CaseKind | None, problem: ProblemStatus) -> str:
    """The dentist's evaluation code: D0171 post-op, D0170 established problem, D0140 new."""
    if case_kind is CaseKind.POST_OP:
        return POST_OPERATIVE_EVALUATION
    if problem is ProblemStatus.ESTABLISHED:
        return ESTABLISHED_PROBLEM_EVALUATION
    return NEW_PROBLEM_EVALUATION


def _line(
    code: str,
    provider: Provider,
    when: dt.date,
    pos: str,
    encounter: Encounter,
    *,
    tooth: str | None = None,
    quantity: int = 1,
) -> ClaimLine:
    get_code(code)  # an unknown code is a programming or data error: raise UnknownCode
    return ClaimLine(
        code=code,
        provider=provider,
        date_of_service=when,
        tooth=tooth,
        surfaces=None,
        quantity=quantity,
        place_of_service=pos,
        encounter=encounter,
    )


def _propose(
    *,
    encounter: Encounter,
    case_kind: CaseKind | None,
    problem: ProblemStatus,
    dentist: Provider,
    dentist_date: dt.date,
    originating_site: OriginatingSite,
    on_site: OnSiteVisit | None,
    services: Sequence[ServiceDelivered],
    radiographs: Sequence[RadiographSet],
    profile: PayerProfile,
) -> list[ClaimLine]:
    pos = profile.place_of_service(originating_site)
    lines: list[ClaimLine] = []

    # 1. the on-site provider's services, on their day
    has_assessment = any(s.code == ASSESSMENT_CODE for s in services)
    if case_kind is CaseKind.SCHOOL_SCREENING and not has_assessment:
        if on_site is None:
            raise ValueError(
                "a school screening needs the hygienist's visit (on_site) for its D0191 line"
            )
        lines.append(_line(ASSESSMENT_CODE, on_site.provider, on_site.date, pos, encounter))
    for service in services:
        lines.append(
            _line(service.code, service.provider, service.date, pos, encounter, tooth=service.tooth)
        )

    # 2. image capture only, for whoever took images the dentist read
    read = [r for r in radiographs if r.interpreted]
    captures: dict[tuple[str, Provider, dt.date], int] = {}
    for r in read:
        if r.captured_by is None or r.captured_by.npi == dentist.npi:
            continue
        key = (CAPTURE_CODE_BY_KIND[r.kind], r.captured_by, r.captured_on)
        if r.kind is RadiographKind.COMPLETE_SERIES:
            captures[key] = 1  # a complete series is one unit, however many images
        else:
            captures[key] = captures.get(key, 0) + max(r.images, 1)
    for (code, provider, taken_on), quantity in captures.items():
        lines.append(_line(code, provider, taken_on, pos, encounter, quantity=quantity))

    # 3. the dentist's evaluation
    reports_evaluation = (
        case_kind is not CaseKind.SCHOOL_SCREENING or profile.allows_school_screening_evaluation
    )
    if reports_evaluation:
        lines.append(
            _line(evaluation_code_for(case_kind, problem), dentist, dentist_date, pos, encounter)
        )

    # 4. reading images someone else took
    if any(r.captured_by is None or r.captured_by.npi != dentist.npi for r in read):
        lines.append(_line(INTERPRETATION_CODE, dentist, dentist_date, pos, encounter))

    # 5. the teledentistry code of the encounter
    lines.append(_line(_TELEDENTISTRY_FOR[encounter.type], dentist, dentist_date, pos, encounter))
    return lines


def propose_async_lines(
    facts: AsyncReviewFacts, profile: PayerProfile = DEFAULT_PROFILE
) -> list[ClaimLine]:
    """The claim lines of a signed asynchronous review (D9996 encounter)."""
    return _propose(
        encounter=Encounter(EncounterType.ASYNCHRONOUS, facts.encounter_id),
        case_kind=facts.case_kind,
        problem=facts.problem,
        dentist=facts.dentist,
        dentist_date=facts.signed_on,
        originating_site=facts.originating_site,
        on_site=facts.on_site,
        services=facts.services,
        radiographs=facts.radiographs,
        profile=profile,
    )


def propose_live_lines(
    facts: LiveSessionFacts, profile: PayerProfile = DEFAULT_PROFILE
) -> list[ClaimLine]:
    """The claim lines of a live session (D9995 encounter), apart from any asynchronous review."""
    return _propose(
        encounter=Encounter(EncounterType.SYNCHRONOUS, facts.encounter_id),
        case_kind=facts.case_kind,
        problem=facts.problem,
        dentist=facts.dentist,
        dentist_date=facts.session_date,
        originating_site=facts.originating_site,
        on_site=facts.on_site,
        services=facts.services,
        radiographs=facts.radiographs,
        profile=profile,
    )


# --- validation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationContext:
    """What validation knows besides the lines; every field is optional.

    A rule that needs a missing fact is skipped (e.g. no age → no age check), except the
    payer profile, which defaults to :data:`DEFAULT_PROFILE`.
    """

    profile: PayerProfile = DEFAULT_PROFILE
    patient_age_years: int | None = None
    case_kind: CaseKind | None = None
    problem: ProblemStatus | None = None
    originating_site: OriginatingSite | None = None
    dentist_date: dt.date | None = None
    """The date the dentist signed (asynchronous) or the live session's date."""
    services: tuple[ServiceDelivered, ...] | None = None
    """The on-site services recorded as delivered (``None``: unknown, not checked)."""
    recommended: tuple[RecommendedProcedure, ...] = ()


def _delivered(
    case_kind: CaseKind | None, on_site: OnSiteVisit | None, services: tuple[ServiceDelivered, ...]
) -> tuple[ServiceDelivered, ...]:
    """The services delivered on site, with a school screening's D0191 made explicit."""
    if case_kind is not CaseKind.SCHOOL_SCREENING or on_site is None:
        return services
    if any(s.code == ASSESSMENT_CODE for s in services):
        return services
    return (ServiceDelivered(ASSESSMENT_CODE, None, on_site.provider, on_site.date), *services)


def _context(
    facts: AsyncReviewFacts | LiveSessionFacts,
    dentist_date: dt.date,
    profile: PayerProfile,
    patient_age_years: int | None,
) -> ValidationContext:
    return ValidationContext(
        profile=profile,
        patient_age_years=patient_age_years,
        case_kind=facts.case_kind,
        problem=facts.problem,
        originating_site=facts.originating_site,
        dentist_date=dentist_date,
        services=_delivered(facts.case_kind, facts.on_site, facts.services),
        recommended=facts.recommended,
    )


def context_for_async(
    facts: AsyncReviewFacts,
    profile: PayerProfile = DEFAULT_PROFILE,
    patient_age_years: int | None = None,
) -> ValidationContext:
    return _context(facts, facts.signed_on, profile, patient_age_years)


def context_for_live(
    facts: LiveSessionFacts,
    profile: PayerProfile = DEFAULT_PROFILE,
    patient_age_years: int | None = None,
) -> ValidationContext:
    return _context(facts, facts.session_date, profile, patient_age_years)


def _v(
    rule: Rule, message: str, index: int | None = None, *, warning: bool = False
) -> RuleViolation:
    return RuleViolation(
        rule=str(rule),
        message=message,
        severity=Severity.WARNING if warning else Severity.ERROR,
        line_index=index,
    )


def _check_tooth_and_surfaces(
    index: int, line: ClaimLine, entry: CdtCode, context: ValidationContext
) -> list[RuleViolation]:
    out: list[RuleViolation] = []
    code = line.code
    if line.tooth is None:
        if entry.needs_tooth:
            out.append(
                _v(Rule.TOOTH_REQUIRED, f"{code} is reported per tooth: give the tooth", index)
            )
    elif not entry.needs_tooth:
        out.append(
            _v(
                Rule.TOOTH_NOT_APPLICABLE,
                f"{code} is not reported per tooth: remove tooth {line.tooth}",
                index,
            )
        )
    else:
        reason = tooth_refusal(line.tooth)
        if reason is not None:
            out.append(_v(Rule.TOOTH_VALID, reason, index))
        else:
            age = context.patient_age_years
            if age is not None:
                age_reason = tooth_age_refusal(line.tooth, age)
                if age_reason is not None:
                    out.append(_v(Rule.TOOTH_VALID_FOR_AGE, age_reason, index))
            if entry.dentition is not None and dentition_of(line.tooth) is not entry.dentition:
                out.append(
                    _v(
                        Rule.TOOTH_FITS_CODE,
                        f"{code} is for {entry.dentition} teeth; tooth {line.tooth} is "
                        f"{dentition_of(line.tooth)}",
                        index,
                    )
                )
            if entry.region is not None and region_of(line.tooth) is not entry.region:
                out.append(
                    _v(
                        Rule.TOOTH_FITS_CODE,
                        f"{code} is for {entry.region} teeth; tooth {line.tooth} is "
                        f"{region_of(line.tooth)}",
                        index,
                    )
                )

    if line.surfaces is None:
        if entry.needs_surface:
            out.append(
                _v(Rule.SURFACES_REQUIRED, f"{code} needs the surfaces treated (MODBFLI)", index)
            )
    elif not entry.needs_surface:
        out.append(
            _v(
                Rule.SURFACES_NOT_APPLICABLE,
                f"{code} is not reported per surface: remove surfaces {line.surfaces}",
                index,
            )
        )
    else:
        tooth = line.tooth if line.tooth is not None and tooth_refusal(line.tooth) is None else None
        reason = surfaces_refusal(line.surfaces, tooth)
        if reason is not None:
            out.append(_v(Rule.SURFACES_VALID, reason, index))
        elif entry.surface_count is not None and len(line.surfaces) != entry.surface_count:
            out.append(
                _v(
                    Rule.SURFACE_COUNT,
                    f"{code} covers exactly {entry.surface_count} surface(s); "
                    f"{line.surfaces} has {len(line.surfaces)}",
                    index,
                )
            )
    return out


def _check_line(index: int, line: ClaimLine, context: ValidationContext) -> list[RuleViolation]:
    catalog = load_catalog()
    if line.code not in catalog:
        return [_v(Rule.UNKNOWN_CODE, f"{line.code!r} is not a CDT code this portal knows", index)]
    entry = catalog.get(line.code)
    code = line.code
    profile = context.profile
    out: list[RuleViolation] = []

    if line.quantity < 1:
        out.append(_v(Rule.QUANTITY_POSITIVE, f"{code}: quantity must be at least 1", index))
    elif entry.needs_tooth and line.quantity != 1:
        out.append(
            _v(Rule.QUANTITY_PER_TOOTH, f"{code} is one line per tooth: quantity must be 1", index)
        )

    out.extend(_check_tooth_and_surfaces(index, line, entry, context))

    # who reports it
    if code in DENTIST_CODES and line.provider.role is not ProviderRole.DENTIST:
        out.append(
            _v(
                Rule.DENTIST_SERVICE_ON_DENTIST,
                f"{code} is the reviewing dentist's service; it is reported on "
                f"{line.provider.name} ({line.provider.role})",
                index,
            )
        )
    if code in ONSITE_HYGIENIST_CODES and line.provider.role is not ProviderRole.HYGIENIST:
        out.append(
            _v(
                Rule.ONSITE_SERVICE_ON_HYGIENIST,
                f"{code} was delivered on site by the hygienist and is reported for that "
                f"hygienist, not for {line.provider.name} ({line.provider.role})",
                index,
            )
        )

    # evaluation codes and the payer
    if code in EVALUATION_CODES:
        if not profile.accepts_evaluation_code(code):
            accepted = ", ".join(sorted(profile.accepted_evaluation_codes)) or "none"
            out.append(
                _v(
                    Rule.EVALUATION_CODE_ACCEPTED,
                    f"payer profile {profile.name!r} does not accept {code} (accepted: {accepted})",
                    index,
                )
            )
        else:
            caution = profile.evaluation_code_warning(code)
            if caution is not None:
                out.append(_v(Rule.EVALUATION_CODE_CAUTION, caution, index, warning=True))
        out.extend(_check_evaluation_fits_case(index, code, context))
        if (
            context.case_kind is CaseKind.SCHOOL_SCREENING
            and not profile.allows_school_screening_evaluation
        ):
            out.append(
                _v(
                    Rule.SCHOOL_SCREENING_EVALUATION,
                    f"payer profile {profile.name!r} does not let the program's dentist report an "
                    f"evaluation ({code}) for a school screening",
                    index,
                )
            )

    if code in CASE_MANAGEMENT_CODES and not profile.bills_case_management(code):
        out.append(
            _v(
                Rule.CASE_MANAGEMENT_BILLED,
                f"payer profile {profile.name!r} does not bill {code}; the work stays documented",
                index,
            )
        )

    # dates
    if (
        code in DENTIST_CODES
        and context.dentist_date is not None
        and line.encounter.type in _TELEDENTISTRY_ENCOUNTERS
        and line.date_of_service != context.dentist_date
    ):
        what = "signed" if line.encounter.type is EncounterType.ASYNCHRONOUS else "held the session"
        out.append(
            _v(
                Rule.DENTIST_LINE_DATE,
                f"{code} carries the date the dentist {what} ({context.dentist_date.isoformat()}), "
                f"not {line.date_of_service.isoformat()}",
                index,
            )
        )
    if code in ONSITE_HYGIENIST_CODES and context.services is not None:
        out.extend(_check_delivered(index, line, context.services))

    # treatment plan is not a claim
    out.extend(_check_not_recommended(index, line, entry, context))
    return out


_CASE_EVALUATIONS = frozenset(
    {NEW_PROBLEM_EVALUATION, ESTABLISHED_PROBLEM_EVALUATION, POST_OPERATIVE_EVALUATION}
)
"""The evaluation codes whose choice follows the case's kind and problem."""


def _check_evaluation_fits_case(
    index: int, code: str, context: ValidationContext
) -> list[RuleViolation]:
    if code not in _CASE_EVALUATIONS or context.case_kind is None:
        return []
    if context.problem is None:
        is_post_op = context.case_kind is CaseKind.POST_OP
        if (code == POST_OPERATIVE_EVALUATION) == is_post_op:
            return []
        expected = (
            POST_OPERATIVE_EVALUATION if is_post_op
            else f"{NEW_PROBLEM_EVALUATION} or {ESTABLISHED_PROBLEM_EVALUATION}"
        )
    else:
        expected = evaluation_code_for(context.case_kind, context.problem)
        if code == expected:
            return []
    what = (
        "a post-operative case"
        if context.case_kind is CaseKind.POST_OP
        else f"a {context.problem or 'non-post-operative'} problem"
    )
    return [
        _v(
            Rule.EVALUATION_CODE_FITS_CASE,
            f"{code} does not fit {what}: the evaluation code for it is {expected} "
            "(D0171 post-operative check, D0170 established problem, D0140 new problem)",
            index,
        )
    ]


def _check_delivered(
    index: int, line: ClaimLine, services: Sequence[ServiceDelivered]
) -> list[RuleViolation]:
    same = [s for s in services if s.code == line.code and s.tooth == line.tooth]
    where = f" on tooth {line.tooth}" if line.tooth else ""
    if not same:
        return [
            _v(
                Rule.SERVICE_DELIVERED,
                f"{line.code}{where} is not recorded as delivered on site: only services "
                "actually delivered are claimed",
                index,
            )
        ]
    by_provider = [s for s in same if s.provider.npi == line.provider.npi]
    if not by_provider:
        names = ", ".join(sorted({s.provider.name for s in same}))
        return [
            _v(
                Rule.SERVICE_LINE_PROVIDER,
                f"{line.code}{where} was delivered by {names} and is reported for them, not for "
                f"{line.provider.name}",
                index,
            )
        ]
    if not any(s.date == line.date_of_service for s in by_provider):
        dates = ", ".join(sorted({s.date.isoformat() for s in by_provider}))
        return [
            _v(
                Rule.SERVICE_LINE_DATE,
                f"{line.code}{where} carries the day it was delivered ({dates}), not "
                f"{line.date_of_service.isoformat()}",
                index,
            )
        ]
    return []


def _check_not_recommended(
    index: int, line: ClaimLine, entry: CdtCode, context: ValidationContext
) -> list[RuleViolation]:
    if line.encounter.type not in _TELEDENTISTRY_ENCOUNTERS:
        return []
    delivered = context.services or ()
    if any(s.code == line.code and (s.tooth == line.tooth) for s in delivered):
        return []
    recommended = any(
        r.code == line.code and (r.tooth is None or r.tooth == line.tooth)
        for r in context.recommended
    )
    if not (recommended or entry.is_treatment):
        return []
    why = "is recommended treatment" if recommended else f"is {entry.category} treatment"
    return [
        _v(
            Rule.RECOMMENDED_NOT_CLAIMED,
            f"{line.code} {why}, not delivered in this teledentistry encounter: the treatment "
            "plan is never claimed",
            index,
        )
    ]


def _check_encounter(
    encounter: Encounter, indexed: list[tuple[int, ClaimLine]], context: ValidationContext
) -> list[RuleViolation]:
    out: list[RuleViolation] = []
    codes = [line.code for _, line in indexed]
    label = f"{encounter.type} encounter {encounter.id}"

    # duplicates
    seen: set[tuple[Any, ...]] = set()
    for i, line in indexed:
        key = (line.code, line.provider.npi, line.date_of_service, line.tooth, line.surfaces)
        if key in seen:
            out.append(
                _v(
                    Rule.DUPLICATE_LINE,
                    f"{line.code} appears twice for the same provider, date and tooth on {label}",
                    i,
                )
            )
        seen.add(key)

    # place of service
    if context.originating_site is not None:
        if encounter.type in _TELEDENTISTRY_ENCOUNTERS:
            expected = context.profile.place_of_service(context.originating_site)
            why = (
                f"payer profile {context.profile.name!r} ({context.profile.place_of_service_rule}"
                f" rule, originating site {context.originating_site})"
            )
        else:
            expected = context.profile.case_management_place_of_service
            why = f"payer profile {context.profile.name!r} for case-management work"
        for i, line in indexed:
            if line.place_of_service != expected:
                out.append(
                    _v(
                        Rule.PLACE_OF_SERVICE,
                        f"{line.code}: place of service is {expected} under {why}, not "
                        f"{line.place_of_service}",
                        i,
                    )
                )
    else:
        places = sorted({line.place_of_service for _, line in indexed})
        if len(places) > 1:
            out.append(
                _v(
                    Rule.PLACE_OF_SERVICE,
                    f"one encounter has one place of service; {label} has {', '.join(places)}",
                )
            )

    # teledentistry codes
    tele = [(i, line) for i, line in indexed if line.code in TELEDENTISTRY_CODES]
    if not tele:
        return out
    tele_codes = {line.code for _, line in tele}
    if tele_codes == TELEDENTISTRY_CODES:
        out.append(
            _v(
                Rule.TELEDENTISTRY_ONE_MODE,
                f"D9995 (live) and D9996 (store and forward) are both on {label}: one encounter is "
                "one or the other; a live call after a review is its own encounter",
                tele[-1][0],
            )
        )
    for i, line in tele:
        wanted = _TELEDENTISTRY_FOR.get(encounter.type)
        if line.code != wanted:
            out.append(
                _v(
                    Rule.TELEDENTISTRY_MATCHES_ENCOUNTER,
                    f"{line.code} does not match a {encounter.type} encounter"
                    + (f" (it takes {wanted})" if wanted else ""),
                    i,
                )
            )
    if len(tele) > 1 or any(line.quantity > 1 for _, line in tele):
        out.append(
            _v(
                Rule.TELEDENTISTRY_ONCE,
                f"the teledentistry code is reported once per encounter; {label} has it more than "
                "once",
                tele[-1][0],
            )
        )
    others = [c for c in codes if c not in TELEDENTISTRY_CODES]
    if not others:
        for i, line in tele:
            out.append(
                _v(
                    Rule.TELEDENTISTRY_NOT_ALONE,
                    f"{line.code} is never billed alone: it is reported in addition to the "
                    "services (e.g. the evaluation) delivered on the date of service",
                    i,
                )
            )
    elif not any(c in EVALUATION_OR_ASSESSMENT_CODES for c in others):
        for i, line in tele:
            out.append(
                _v(
                    Rule.EVALUATION_PRESENT,
                    f"{line.code} needs the evaluation (or assessment) it accompanies on the same "
                    "encounter: D0140, D0170, D0171 or an evaluation the payer accepts, or D0191",
                    i,
                )
            )

    # radiographs: capture by one provider, reading by another
    captures = [(i, line) for i, line in indexed if line.code in IMAGE_CAPTURE_CODES]
    readers = [(i, line) for i, line in indexed if line.code == INTERPRETATION_CODE]
    capturer_npis = {line.provider.npi for _, line in captures}
    for i, line in readers:
        if line.provider.npi in capturer_npis:
            out.append(
                _v(
                    Rule.INTERPRETATION_NOT_BY_CAPTURER,
                    "D0391 is the reading of images someone else took; "
                    f"{line.provider.name} also reports taking them (image capture only)",
                    i,
                )
            )
    for i, line in captures:
        if not any(r.provider.npi != line.provider.npi for _, r in readers):
            out.append(
                _v(
                    Rule.CAPTURE_NEEDS_INTERPRETATION,
                    f"{line.code} is image capture only: it goes with another provider's reading "
                    "and report (D0391) on the same encounter",
                    i,
                )
            )
    return out


def validate_lines(
    lines: Sequence[ClaimLine], context: ValidationContext | None = None
) -> list[RuleViolation]:
    """Every rule broken by ``lines`` (empty when they may be billed as they are).

    Rules about one line come first, in line order; then the rules about each encounter
    (teledentistry code alone or doubled, evaluation missing, place of service, ...).
    """
    ctx = context if context is not None else ValidationContext()
    out: list[RuleViolation] = []
    groups: dict[Encounter, list[tuple[int, ClaimLine]]] = defaultdict(list)
    for index, line in enumerate(lines):
        out.extend(_check_line(index, line, ctx))
        groups[line.encounter].append((index, line))
    for encounter, indexed in groups.items():
        out.extend(_check_encounter(encounter, indexed, ctx))
    return out


def referenced_codes() -> frozenset[str]:
    """Every code these rules name (the tests check each is in the catalog)."""
    return frozenset(
        DENTIST_CODES
        | ONSITE_HYGIENIST_CODES
        | IMAGE_CAPTURE_CODES
        | CASE_MANAGEMENT_CODES
        | set(CAPTURE_CODE_BY_KIND.values())
        | _CASE_EVALUATIONS
        | {ASSESSMENT_CODE}
    )
