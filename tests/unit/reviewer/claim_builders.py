"""Providers, dates, encounters and line builders shared by the claim-line rule tests."""

from __future__ import annotations

import dataclasses
from datetime import date

from reviewer.cases.enums import CaseKind, OriginatingSite
from reviewer.coding.payer import PayerProfile
from reviewer.coding.rules import (
    AsyncReviewFacts,
    ClaimLine,
    Encounter,
    EncounterType,
    OnSiteVisit,
    ProblemStatus,
    Provider,
    ProviderRole,
    RuleViolation,
    ServiceDelivered,
    ValidationContext,
    validate_lines,
)

DENTIST = Provider("1234567893", "Dr. Ana Ruiz", ProviderRole.DENTIST)
OTHER_DENTIST = Provider("1477777777", "Dr. Wei Chen", ProviderRole.DENTIST)
HYGIENIST = Provider("1987654321", "Mai Nguyễn", ProviderRole.HYGIENIST)
OTHER_HYGIENIST = Provider("1555555555", "Li Ming", ProviderRole.HYGIENIST)
COORDINATOR = Provider("", "Sam Patel", ProviderRole.COORDINATOR)
SIGNED = date(2026, 3, 5)
VISIT = date(2026, 3, 2)
ASYNC = Encounter(EncounterType.ASYNCHRONOUS, "case-1")
LIVE = Encounter(EncounterType.SYNCHRONOUS, "live-1")

SCHOOL_PROGRAM = PayerProfile(name="School program", allows_school_screening_evaluation=False)
LENIENT = PayerProfile(
    name="Lenient", accepted_evaluation_codes=frozenset({"D0120", "D0140", "D0150", "D0170"})
)


def line(
    code: str,
    provider: Provider = DENTIST,
    when: date = SIGNED,
    *,
    tooth: str | None = None,
    surfaces: str | None = None,
    quantity: int = 1,
    pos: str = "02",
    encounter: Encounter = ASYNC,
) -> ClaimLine:
    return ClaimLine(code, provider, when, tooth, surfaces, quantity, pos, encounter)


def rules_of(violations: list[RuleViolation]) -> set[str]:
    return {v.rule for v in violations}


def check(lines: list[ClaimLine], **context: object) -> set[str]:
    return rules_of(validate_lines(lines, ValidationContext(**context)))  # type: ignore[arg-type]


def base(*extra: ClaimLine, evaluation: str = "D0140") -> list[ClaimLine]:
    """A valid asynchronous encounter plus ``extra`` lines."""
    return [line(evaluation), line("D9996"), *extra]


def async_facts(**changes: object) -> AsyncReviewFacts:
    facts = AsyncReviewFacts(
        encounter_id="case-1",
        case_kind=CaseKind.QUESTION,
        problem=ProblemStatus.NEW,
        dentist=DENTIST,
        signed_on=SIGNED,
        originating_site=OriginatingSite.HOME,
    )
    return dataclasses.replace(facts, **changes)  # type: ignore[arg-type]


def school_facts(**changes: object) -> AsyncReviewFacts:
    school: dict[str, object] = {
        "case_kind": CaseKind.SCHOOL_SCREENING,
        "originating_site": OriginatingSite.SCHOOL,
        "on_site": OnSiteVisit(HYGIENIST, VISIT),
        "services": (
            ServiceDelivered("D1206", None, HYGIENIST, VISIT),
            ServiceDelivered("D1351", "3", HYGIENIST, VISIT),
            ServiceDelivered("D1351", "14", HYGIENIST, VISIT),
        ),
    }
    return async_facts(**{**school, **changes})


def summary(lines: list[ClaimLine]) -> list[tuple[str, str, date, str | None, int]]:
    return [(ln.code, ln.provider.npi, ln.date_of_service, ln.tooth, ln.quantity) for ln in lines]
