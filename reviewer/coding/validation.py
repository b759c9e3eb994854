"""Validating claim lines, proposed or edited: each check returns rule violations naming
their rule (``reviewer.coding.rules``). Pure."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reviewer.cases.enums import CaseKind, OriginatingSite
from reviewer.coding.catalog import (
    ASSESSMENT_CODE,
    CASE_MANAGEMENT_CODES,
    EVALUATION_CODES,
    IMAGE_CAPTURE_CODES,
    INTERPRETATION_CODE,
    ONSITE_HYGIENIST_CODES,
    TELEDENTISTRY_CODES,
    CdtCode,
    load_catalog,
)
from reviewer.coding.claim_model import (
    DENTIST_CODES,
    EVALUATION_OR_ASSESSMENT_CODES,
    TELEDENTISTRY_ENCOUNTERS,
    TELEDENTISTRY_FOR,
    AsyncReviewFacts,
    ClaimLine,
    Encounter,
    EncounterType,
    LiveSessionFacts,
    OnSiteVisit,
    ProblemStatus,
    Provider,
    ProviderRole,
    RecommendedProcedure,
    Rule,
    RuleViolation,
    ServiceDelivered,
)
from reviewer.coding.payer import DEFAULT_PROFILE, PayerProfile
from reviewer.coding.proposal import (
    evaluation_code_for,
)
from reviewer.coding.tooth_checks import check_tooth_and_surfaces
from reviewer.coding.tooth_checks import violation as _v
from reviewer.vocabulary import (
    CAPTURE_CODE_BY_KIND,
    ESTABLISHED_PROBLEM_EVALUATION,
    NEW_PROBLEM_EVALUATION,
    POST_OPERATIVE_EVALUATION,
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
    signer: Provider | None = None
    """The dentist who signed the evaluation (or held the live session): the evaluation,
    interpretation and teledentistry lines are theirs and nobody else's."""
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
        signer=facts.dentist,
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

    out.extend(check_tooth_and_surfaces(index, line, entry, context.patient_age_years))

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
    if (
        code in DENTIST_CODES
        and context.signer is not None
        and not line.provider.same_person(context.signer)
    ):
        out.append(
            _v(
                Rule.PROVIDER_NOT_SIGNER,
                f"{code} is reported on {context.signer.name}, the dentist who signed this "
                f"encounter; not on {line.provider.name} (NPI {line.provider.npi or 'none'})",
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
        and line.encounter.type in TELEDENTISTRY_ENCOUNTERS
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
    by_provider = [s for s in same if s.provider.same_person(line.provider)]
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
    if line.encounter.type not in TELEDENTISTRY_ENCOUNTERS:
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
        site = context.originating_site
        for i, line in indexed:
            if encounter.type not in TELEDENTISTRY_ENCOUNTERS:
                expected = context.profile.case_management_place_of_service
                why = f"payer profile {context.profile.name!r} for case-management work"
            elif line.code in context.profile.in_person_codes:
                expected = context.profile.line_place_of_service(line.code, site)
                why = (f"payer profile {context.profile.name!r} (delivered in person, "
                       f"originating site {site})")
            else:
                expected = context.profile.place_of_service(site)
                why = (f"payer profile {context.profile.name!r} "
                       f"({context.profile.place_of_service_rule} rule, originating site {site})")
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
        places = sorted({line.place_of_service for _, line in indexed
                         if line.code not in context.profile.in_person_codes})
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
        wanted = TELEDENTISTRY_FOR.get(encounter.type)
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
