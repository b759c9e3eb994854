"""Claim-line proposal for D9996/D9995 encounters (reviewer.coding.rules): the evaluation
code, radiographs, live sessions."""

from __future__ import annotations

from datetime import date

import pytest

from reviewer.cases.enums import CaseKind, OriginatingSite
from reviewer.coding.catalog import UnknownCode
from reviewer.coding.payer import PayerProfile, PlaceOfServiceRule
from reviewer.coding.rules import (
    CAPTURE_CODE_BY_KIND,
    Encounter,
    LiveSessionFacts,
    ProblemStatus,
    RadiographKind,
    RadiographSet,
    RecommendedProcedure,
    ServiceDelivered,
    context_for_async,
    context_for_live,
    evaluation_code_for,
    propose_async_lines,
    propose_live_lines,
    validate_lines,
)
from tests.unit.reviewer.claim_builders import (
    ASYNC,
    DENTIST,
    HYGIENIST,
    LIVE,
    OTHER_HYGIENIST,
    SCHOOL_PROGRAM,
    SIGNED,
    VISIT,
    async_facts,
    school_facts,
    summary,
)

# --- proposal: the evaluation code ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "problem", "code"),
    [
        (CaseKind.POST_OP, ProblemStatus.NEW, "D0171"),
        (CaseKind.POST_OP, ProblemStatus.ESTABLISHED, "D0171"),
        (CaseKind.EMERGENCY, ProblemStatus.NEW, "D0140"),
        (CaseKind.EMERGENCY, ProblemStatus.ESTABLISHED, "D0170"),
        (CaseKind.QUESTION, ProblemStatus.NEW, "D0140"),
        (CaseKind.QUESTION, ProblemStatus.ESTABLISHED, "D0170"),
        (CaseKind.SCHOOL_SCREENING, ProblemStatus.NEW, "D0140"),
        (None, ProblemStatus.ESTABLISHED, "D0170"),
    ],
)
def test_evaluation_code_for(kind: CaseKind | None, problem: ProblemStatus, code: str) -> None:
    assert evaluation_code_for(kind, problem) == code


@pytest.mark.parametrize(
    ("kind", "problem", "code"),
    [
        (CaseKind.POST_OP, ProblemStatus.NEW, "D0171"),
        (CaseKind.EMERGENCY, ProblemStatus.ESTABLISHED, "D0170"),
        (CaseKind.QUESTION, ProblemStatus.NEW, "D0140"),
    ],
)
def test_async_proposal_is_evaluation_plus_d9996_on_the_signed_date(
    kind: CaseKind, problem: ProblemStatus, code: str
) -> None:
    facts = async_facts(case_kind=kind, problem=problem)
    lines = propose_async_lines(facts)
    assert summary(lines) == [
        (code, DENTIST.npi, SIGNED, None, 1),
        ("D9996", DENTIST.npi, SIGNED, None, 1),
    ]
    assert {ln.encounter for ln in lines} == {ASYNC}
    assert {ln.place_of_service for ln in lines} == {"10"}  # the patient was at home
    assert validate_lines(lines, context_for_async(facts, patient_age_years=30)) == []


@pytest.mark.parametrize(
    ("site", "rule", "pos"),
    [
        (OriginatingSite.HOME, PlaceOfServiceRule.TELEHEALTH, "10"),
        (OriginatingSite.OFFICE, PlaceOfServiceRule.TELEHEALTH, "02"),
        (OriginatingSite.SCHOOL, PlaceOfServiceRule.ORIGINATING_SITE, "03"),
        (OriginatingSite.OFFICE, PlaceOfServiceRule.ORIGINATING_SITE, "11"),
    ],
)
def test_proposal_place_of_service_follows_the_profile(
    site: OriginatingSite, rule: PlaceOfServiceRule, pos: str
) -> None:
    profile = PayerProfile(name="P", place_of_service_rule=rule)
    facts = async_facts(originating_site=site)
    lines = propose_async_lines(facts, profile)
    assert {ln.place_of_service for ln in lines} == {pos}
    assert validate_lines(lines, context_for_async(facts, profile)) == []


def test_school_screening_proposal() -> None:
    facts = school_facts()
    lines = propose_async_lines(facts)
    assert summary(lines) == [
        ("D0191", HYGIENIST.npi, VISIT, None, 1),
        ("D1206", HYGIENIST.npi, VISIT, None, 1),
        ("D1351", HYGIENIST.npi, VISIT, "3", 1),
        ("D1351", HYGIENIST.npi, VISIT, "14", 1),
        ("D0140", DENTIST.npi, SIGNED, None, 1),
        ("D9996", DENTIST.npi, SIGNED, None, 1),
    ]
    assert {ln.place_of_service for ln in lines} == {"02"}
    assert validate_lines(lines, context_for_async(facts, patient_age_years=9)) == []


def test_school_screening_without_the_dentists_evaluation_when_the_profile_says_so() -> None:
    facts = school_facts()
    lines = propose_async_lines(facts, SCHOOL_PROGRAM)
    codes = [ln.code for ln in lines]
    assert codes == ["D0191", "D1206", "D1351", "D1351", "D9996"]
    # D9996 still rides on the assessment delivered that day, so it is not alone
    assert validate_lines(lines, context_for_async(facts, SCHOOL_PROGRAM, 9)) == []


def test_school_screening_uses_a_recorded_d0191_instead_of_the_visit() -> None:
    facts = school_facts(
        on_site=None,
        services=(ServiceDelivered("D0191", None, OTHER_HYGIENIST, VISIT),),
    )
    lines = propose_async_lines(facts)
    assert summary(lines)[0] == ("D0191", OTHER_HYGIENIST.npi, VISIT, None, 1)
    assert [ln.code for ln in lines].count("D0191") == 1


def test_school_screening_needs_the_hygienists_visit() -> None:
    with pytest.raises(ValueError, match="hygienist's visit"):
        propose_async_lines(school_facts(on_site=None, services=()))


def test_recommended_procedures_never_become_lines() -> None:
    facts = async_facts(
        case_kind=CaseKind.EMERGENCY,
        recommended=(
            RecommendedProcedure("D2391", "30", "O"),
            RecommendedProcedure("D7140", "1"),
            RecommendedProcedure("D0220"),
        ),
    )
    codes = [ln.code for ln in propose_async_lines(facts)]
    assert codes == ["D0140", "D9996"]


def test_unknown_service_code_raises() -> None:
    facts = async_facts(services=(ServiceDelivered("D1999", None, HYGIENIST, VISIT),))
    with pytest.raises(UnknownCode):
        propose_async_lines(facts)


# --- proposal: radiographs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (RadiographKind.EXTRAORAL_POSTERIOR, "D0705"),
        (RadiographKind.OCCLUSAL, "D0706"),
        (RadiographKind.PERIAPICAL, "D0707"),
        (RadiographKind.BITEWING, "D0708"),
        (RadiographKind.COMPLETE_SERIES, "D0709"),
    ],
)
def test_capture_code_table(kind: RadiographKind, code: str) -> None:
    assert CAPTURE_CODE_BY_KIND[kind] == code


def test_radiographs_taken_by_the_hygienist_and_read_by_the_dentist() -> None:
    facts = school_facts(
        radiographs=(
            RadiographSet(RadiographKind.BITEWING, VISIT, HYGIENIST, images=2),
            RadiographSet(RadiographKind.PERIAPICAL, VISIT, HYGIENIST, images=1),
            RadiographSet(RadiographKind.PERIAPICAL, VISIT, HYGIENIST, images=2),
        )
    )
    lines = propose_async_lines(facts)
    got = summary(lines)
    assert ("D0708", HYGIENIST.npi, VISIT, None, 2) in got
    assert ("D0707", HYGIENIST.npi, VISIT, None, 3) in got  # merged: one line, 3 images
    assert ("D0391", DENTIST.npi, SIGNED, None, 1) in got
    assert [c for c, *_ in got].count("D0391") == 1
    assert validate_lines(lines, context_for_async(facts, patient_age_years=9)) == []


def test_a_complete_series_is_one_unit() -> None:
    facts = async_facts(
        radiographs=(RadiographSet(RadiographKind.COMPLETE_SERIES, VISIT, HYGIENIST, images=18),)
    )
    assert ("D0709", HYGIENIST.npi, VISIT, None, 1) in summary(propose_async_lines(facts))


def test_radiographs_from_elsewhere_are_read_but_not_captured_here() -> None:
    facts = async_facts(radiographs=(RadiographSet(RadiographKind.PERIAPICAL, VISIT, None),))
    codes = [ln.code for ln in propose_async_lines(facts)]
    assert codes == ["D0140", "D0391", "D9996"]


def test_radiographs_the_dentist_took_or_did_not_read_add_nothing() -> None:
    own = async_facts(radiographs=(RadiographSet(RadiographKind.BITEWING, VISIT, DENTIST),))
    unread = async_facts(
        radiographs=(RadiographSet(RadiographKind.BITEWING, VISIT, HYGIENIST, interpreted=False),)
    )
    for facts in (own, unread):
        assert [ln.code for ln in propose_async_lines(facts)] == ["D0140", "D9996"]


# --- proposal: live sessions ----------------------------------------------------------------


def test_live_session_proposal() -> None:
    session_day = date(2026, 3, 6)
    facts = LiveSessionFacts(
        encounter_id="live-1",
        dentist=DENTIST,
        session_date=session_day,
        originating_site=OriginatingSite.HOME,
        case_kind=CaseKind.POST_OP,
    )
    lines = propose_live_lines(facts)
    assert summary(lines) == [
        ("D0171", DENTIST.npi, session_day, None, 1),
        ("D9995", DENTIST.npi, session_day, None, 1),
    ]
    assert {ln.encounter for ln in lines} == {LIVE}
    assert validate_lines(lines, context_for_live(facts)) == []


def test_an_escalated_case_has_two_encounters_and_never_both_codes_on_one() -> None:
    review = propose_async_lines(async_facts(case_kind=CaseKind.EMERGENCY))
    live = propose_live_lines(
        LiveSessionFacts(
            encounter_id="live-1",
            dentist=DENTIST,
            session_date=date(2026, 3, 6),
            originating_site=OriginatingSite.HOME,
            problem=ProblemStatus.ESTABLISHED,
        )
    )
    both = review + live
    by_encounter: dict[Encounter, set[str]] = {}
    for ln in both:
        by_encounter.setdefault(ln.encounter, set()).add(ln.code)
    assert by_encounter == {ASYNC: {"D0140", "D9996"}, LIVE: {"D0170", "D9995"}}
    assert validate_lines(both) == []
