"""Claim-line validation for D9996/D9995 encounters (reviewer.coding.rules; the proposal is
in test_coding_proposal.py).

Every rule is exercised both ways: a line set it accepts, and one it refuses naming the rule.
"""

from __future__ import annotations

from datetime import date

import pytest

from reviewer.cases.enums import CaseKind, OriginatingSite
from reviewer.coding.payer import DEFAULT_PROFILE, PayerProfile, PlaceOfServiceRule
from reviewer.coding.rules import (
    ClaimLine,
    Encounter,
    EncounterType,
    InvalidClaimLine,
    ProblemStatus,
    RecommendedProcedure,
    Rule,
    ServiceDelivered,
    Severity,
    ValidationContext,
    blocking,
    validate_lines,
)
from tests.unit.reviewer.claim_builders import (
    COORDINATOR,
    DENTIST,
    HYGIENIST,
    LENIENT,
    LIVE,
    OTHER_DENTIST,
    OTHER_HYGIENIST,
    SCHOOL_PROGRAM,
    SIGNED,
    VISIT,
    base,
    check,
    line,
    rules_of,
)

# --- validation: teledentistry codes --------------------------------------------------------


def test_teledentistry_not_alone() -> None:
    assert Rule.TELEDENTISTRY_NOT_ALONE in check([line("D9996")])
    assert Rule.TELEDENTISTRY_NOT_ALONE in check([line("D9995", encounter=LIVE)])
    assert Rule.TELEDENTISTRY_NOT_ALONE not in check(base())
    assert check(base()) == set()


def test_teledentistry_one_mode_per_encounter() -> None:
    refused = check(base(line("D9995")))
    assert Rule.TELEDENTISTRY_ONE_MODE in refused
    accepted = check([*base(), line("D0170", encounter=LIVE), line("D9995", encounter=LIVE)])
    assert accepted == set()


def test_teledentistry_code_matches_the_encounter_type() -> None:
    assert Rule.TELEDENTISTRY_MATCHES_ENCOUNTER in check([line("D0140"), line("D9995")])
    live = [line("D0140", encounter=LIVE), line("D9996", encounter=LIVE)]
    assert Rule.TELEDENTISTRY_MATCHES_ENCOUNTER in check(live)
    coordination = Encounter(EncounterType.COORDINATION, "a-1")
    assert Rule.TELEDENTISTRY_MATCHES_ENCOUNTER in check(
        [line("D0140", encounter=coordination), line("D9996", encounter=coordination)]
    )
    assert Rule.TELEDENTISTRY_MATCHES_ENCOUNTER not in check(base())


def test_teledentistry_once_per_encounter() -> None:
    assert Rule.TELEDENTISTRY_ONCE in check(base(line("D9996", OTHER_DENTIST)))
    assert Rule.TELEDENTISTRY_ONCE in check([line("D0140"), line("D9996", quantity=2)])
    assert Rule.TELEDENTISTRY_ONCE not in check(base())


def test_evaluation_present_with_the_teledentistry_code() -> None:
    no_evaluation = [line("D1206", HYGIENIST, VISIT), line("D9996")]
    assert Rule.EVALUATION_PRESENT in check(no_evaluation)
    with_assessment = [line("D0191", HYGIENIST, VISIT), *no_evaluation]
    assert check(with_assessment) == set()
    assert check([line("D0171"), line("D9996")]) == set()


# --- validation: evaluation codes and the payer profile -------------------------------------


def test_evaluation_code_accepted_by_the_payer() -> None:
    refused = validate_lines(base(evaluation="D0120"))
    assert Rule.EVALUATION_CODE_ACCEPTED in rules_of(refused)
    message = next(v.message for v in refused if v.rule == Rule.EVALUATION_CODE_ACCEPTED)
    assert "D0120" in message and "D0140" in message
    assert Rule.EVALUATION_CODE_ACCEPTED in check(base(evaluation="D0150"))
    accepted = validate_lines(base(evaluation="D0150"), ValidationContext(profile=LENIENT))
    assert accepted == []


def test_d0120_where_allowed_comes_with_a_warning_that_does_not_block() -> None:
    violations = validate_lines(base(evaluation="D0120"), ValidationContext(profile=LENIENT))
    assert rules_of(violations) == {Rule.EVALUATION_CODE_CAUTION}
    assert all(v.severity is Severity.WARNING for v in violations)
    assert blocking(violations) == []


@pytest.mark.parametrize(
    ("kind", "problem", "code", "fits"),
    [
        (CaseKind.POST_OP, None, "D0171", True),
        (CaseKind.POST_OP, None, "D0170", False),
        (CaseKind.POST_OP, None, "D0140", False),
        (CaseKind.QUESTION, None, "D0171", False),
        (CaseKind.QUESTION, None, "D0170", True),
        (CaseKind.EMERGENCY, ProblemStatus.NEW, "D0140", True),
        (CaseKind.EMERGENCY, ProblemStatus.NEW, "D0170", False),
        (CaseKind.EMERGENCY, ProblemStatus.ESTABLISHED, "D0170", True),
        (CaseKind.EMERGENCY, ProblemStatus.ESTABLISHED, "D0140", False),
        (CaseKind.POST_OP, ProblemStatus.ESTABLISHED, "D0171", True),
        (CaseKind.POST_OP, ProblemStatus.ESTABLISHED, "D0170", False),
    ],
)
def test_evaluation_code_fits_the_case(
    kind: CaseKind, problem: ProblemStatus | None, code: str, fits: bool
) -> None:
    got = check(base(evaluation=code), case_kind=kind, problem=problem)
    assert (Rule.EVALUATION_CODE_FITS_CASE not in got) is fits


def test_school_screening_evaluation_allowed_by_profile() -> None:
    lines = [line("D0191", HYGIENIST, VISIT), *base()]
    assert check(lines, case_kind=CaseKind.SCHOOL_SCREENING) == set()
    refused = check(lines, case_kind=CaseKind.SCHOOL_SCREENING, profile=SCHOOL_PROGRAM)
    assert refused == {Rule.SCHOOL_SCREENING_EVALUATION}
    assert check(base(), case_kind=CaseKind.QUESTION, profile=SCHOOL_PROGRAM) == set()


# --- validation: who and when ---------------------------------------------------------------


def test_dentist_services_on_a_dentist() -> None:
    rule = Rule.DENTIST_SERVICE_ON_DENTIST
    assert rule in check([line("D0140", HYGIENIST), line("D9996")])
    assert rule in check([line("D0140"), line("D9996", HYGIENIST)])
    assert rule in check([line("D0140"), line("D9995", COORDINATOR, encounter=LIVE)])
    assert rule in check(base(line("D0391", HYGIENIST)))
    assert rule not in check(base(line("D0391")))


@pytest.mark.parametrize("code", ["D0191", "D1206", "D1351"])
def test_onsite_services_on_the_hygienist(code: str) -> None:
    tooth = "3" if code == "D1351" else None
    assert Rule.ONSITE_SERVICE_ON_HYGIENIST in check(base(line(code, DENTIST, tooth=tooth)))
    assert Rule.ONSITE_SERVICE_ON_HYGIENIST not in check(
        base(line(code, HYGIENIST, VISIT, tooth=tooth))
    )


def test_dentist_lines_carry_the_signed_date() -> None:
    assert check(base(), dentist_date=SIGNED) == set()
    late = [line("D0140"), line("D9996", when=date(2026, 3, 6))]
    assert check(late, dentist_date=SIGNED) == {Rule.DENTIST_LINE_DATE}
    live = [line("D0140", when=VISIT, encounter=LIVE), line("D9995", encounter=LIVE)]
    got = validate_lines(live, ValidationContext(dentist_date=VISIT))
    assert rules_of(got) == {Rule.DENTIST_LINE_DATE}
    assert "held the session" in got[0].message


def test_hygienist_lines_carry_the_day_they_were_delivered() -> None:
    delivered = (
        ServiceDelivered("D1206", None, HYGIENIST, VISIT),
        ServiceDelivered("D1351", "3", HYGIENIST, VISIT),
    )
    ok = base(line("D1206", HYGIENIST, VISIT), line("D1351", HYGIENIST, VISIT, tooth="3"))
    assert check(ok, services=delivered) == set()

    wrong_day = base(line("D1206", HYGIENIST, SIGNED))
    assert check(wrong_day, services=delivered) == {Rule.SERVICE_LINE_DATE}

    wrong_person = base(line("D1206", OTHER_HYGIENIST, VISIT))
    assert check(wrong_person, services=delivered) == {Rule.SERVICE_LINE_PROVIDER}

    not_delivered = base(line("D1351", HYGIENIST, VISIT, tooth="14"))
    assert check(not_delivered, services=delivered) == {Rule.SERVICE_DELIVERED}
    # without a record of what was delivered, the check is skipped
    assert check(not_delivered) == set()


def test_recommended_treatment_is_never_claimed() -> None:
    plan = (RecommendedProcedure("D2391", "30"), RecommendedProcedure("D0220"))
    filling = line("D2391", tooth="30", surfaces="O")
    assert Rule.RECOMMENDED_NOT_CLAIMED in check(base(filling), recommended=plan)
    assert Rule.RECOMMENDED_NOT_CLAIMED in check(base(line("D0220")), recommended=plan)
    # treatment is refused on a teledentistry encounter even when nobody listed it as a plan
    assert Rule.RECOMMENDED_NOT_CLAIMED in check(base(line("D7140", tooth="1")))
    # ... unless it was delivered on site
    delivered = (ServiceDelivered("D4355", None, HYGIENIST, VISIT),)
    assert check(base(line("D4355", HYGIENIST, VISIT)), services=delivered) == set()
    assert check(base(), recommended=plan) == set()


def test_radiograph_capture_and_reading_by_different_providers() -> None:
    ok = base(line("D0707", HYGIENIST, VISIT, quantity=2), line("D0391"))
    assert check(ok) == set()

    same_person = base(line("D0707", DENTIST, quantity=2), line("D0391"))
    assert Rule.INTERPRETATION_NOT_BY_CAPTURER in check(same_person)

    unread = base(line("D0707", HYGIENIST, VISIT))
    assert check(unread) == {Rule.CAPTURE_NEEDS_INTERPRETATION}
    assert check(base(line("D0391"))) == set()  # reading images taken elsewhere


def test_case_management_codes_follow_the_profile() -> None:
    encounter = Encounter(EncounterType.COORDINATION, "a-1")
    cm = [line("D9992", COORDINATOR, pos="11", encounter=encounter)]
    assert check(cm) == set()
    assert check(cm, profile=PayerProfile(name="No CM", bills_case_management_codes=False)) == {
        Rule.CASE_MANAGEMENT_BILLED
    }
    assert check([line("D9993", COORDINATOR, pos="11", encounter=encounter)]) == {
        Rule.CASE_MANAGEMENT_BILLED
    }


# --- validation: lines ----------------------------------------------------------------------


def test_unknown_code() -> None:
    assert check(base(line("D1999"))) == {Rule.UNKNOWN_CODE}


def test_quantity() -> None:
    assert Rule.QUANTITY_POSITIVE in check([line("D0140", quantity=0), line("D9996")])
    sealants = line("D1351", HYGIENIST, VISIT, tooth="3", quantity=2)
    assert Rule.QUANTITY_PER_TOOTH in check(base(sealants))
    assert check(base(line("D0707", HYGIENIST, VISIT, quantity=4), line("D0391"))) == set()


def test_duplicate_lines() -> None:
    sealant = line("D1351", HYGIENIST, VISIT, tooth="3")
    assert Rule.DUPLICATE_LINE in check(base(sealant, sealant))
    other_tooth = line("D1351", HYGIENIST, VISIT, tooth="14")
    assert Rule.DUPLICATE_LINE not in check(base(sealant, other_tooth))


def test_place_of_service() -> None:
    at_home = [line("D0140", pos="10"), line("D9996", pos="10")]
    assert check(at_home, originating_site=OriginatingSite.HOME) == set()
    assert check(base(), originating_site=OriginatingSite.HOME) == {Rule.PLACE_OF_SERVICE}
    site_profile = PayerProfile(
        name="Site", place_of_service_rule=PlaceOfServiceRule.ORIGINATING_SITE
    )
    at_school = [line("D0140", pos="03"), line("D9996", pos="03")]
    assert check(at_school, originating_site="school", profile=site_profile) == set()
    assert check(at_school, originating_site="school") == {Rule.PLACE_OF_SERVICE}
    mixed = [line("D0140", pos="02"), line("D9996", pos="10")]
    assert check(mixed) == {Rule.PLACE_OF_SERVICE}  # one encounter, one place of service


def test_tooth_required_and_not_applicable() -> None:
    assert Rule.TOOTH_REQUIRED in check(base(line("D1351", HYGIENIST, VISIT)))
    assert Rule.TOOTH_NOT_APPLICABLE in check(base(line("D1206", HYGIENIST, VISIT, tooth="3")))
    assert check(base(line("D1351", HYGIENIST, VISIT, tooth="3"))) == set()


@pytest.mark.parametrize("tooth", ["0", "33", "U", "k", "03"])
def test_tooth_valid(tooth: str) -> None:
    got = validate_lines(base(line("D1351", HYGIENIST, VISIT, tooth=tooth)))
    assert rules_of(got) == {Rule.TOOTH_VALID}
    assert "Universal" in got[0].message


@pytest.mark.parametrize(
    ("tooth", "age", "ok"),
    [
        ("3", 4, False),
        ("3", 5, True),
        ("A", 4, True),
        ("A", 13, True),
        ("A", 14, False),
        ("30", 14, True),
    ],
)
def test_tooth_valid_for_age(tooth: str, age: int, ok: bool) -> None:
    lines = base(line("D1351", HYGIENIST, VISIT, tooth=tooth))
    got = check(lines, patient_age_years=age)
    assert got == (set() if ok else {Rule.TOOTH_VALID_FOR_AGE})


def test_tooth_fits_code() -> None:
    delivered = (
        ServiceDelivered("D2930", "30", HYGIENIST, VISIT),
        ServiceDelivered("D2930", "K", HYGIENIST, VISIT),
        ServiceDelivered("D2330", "30", HYGIENIST, VISIT),
    )
    wrong = base(line("D2930", HYGIENIST, VISIT, tooth="30"))
    assert check(wrong, services=delivered) == {Rule.TOOTH_FITS_CODE}
    right = base(line("D2930", HYGIENIST, VISIT, tooth="K"))
    assert check(right, services=delivered) == set()
    back_tooth = base(line("D2330", HYGIENIST, VISIT, tooth="30", surfaces="B"))
    assert check(back_tooth, services=delivered) == {Rule.TOOTH_FITS_CODE}


def _filling(code: str, tooth: str | None, surfaces: str | None) -> set[str]:
    coordination = Encounter(EncounterType.COORDINATION, "x")  # outside teledentistry rules
    return check([line(code, tooth=tooth, surfaces=surfaces, encounter=coordination)])


def test_surfaces_required_not_applicable_valid_and_counted() -> None:
    assert _filling("D2150", "30", "MO") == set()
    assert _filling("D2150", "30", None) == {Rule.SURFACES_REQUIRED}
    assert _filling("D2740", "30", "MO") == {Rule.SURFACES_NOT_APPLICABLE}
    assert _filling("D2150", "30", "MM") == {Rule.SURFACES_VALID}
    assert _filling("D2150", "30", "MX") == {Rule.SURFACES_VALID}
    assert _filling("D2150", "8", "MO") == {Rule.SURFACES_VALID}  # occlusal on a front tooth
    assert _filling("D2150", "30", "MOD") == {Rule.SURFACE_COUNT}
    assert _filling("D2160", "30", "MOD") == set()
    assert _filling("D2330", "8", "I") == set()


def test_every_refusal_names_its_rule_and_says_why() -> None:
    lines = [
        line("D9996", HYGIENIST, quantity=2),
        line("D9995"),
        line("D1351", DENTIST, tooth="40"),
        line("D2150", tooth="8", surfaces="MOD"),
        line("D0120"),
        line("D1999"),
    ]
    violations = validate_lines(
        lines,
        ValidationContext(
            case_kind=CaseKind.POST_OP,
            originating_site=OriginatingSite.HOME,
            dentist_date=VISIT,
            services=(),
            patient_age_years=3,
        ),
    )
    known = {str(r) for r in Rule}
    assert len(violations) >= 8
    for v in violations:
        assert v.rule in known
        assert len(v.message) > 15
        assert v.as_dict()["rule"] == v.rule
    assert all(v.line_index is None or 0 <= v.line_index < len(lines) for v in violations)


# --- claim lines as data --------------------------------------------------------------------


def test_claim_line_round_trips_in_the_api_shape() -> None:
    ln = line("D1351", HYGIENIST, VISIT, tooth="3")
    data = ln.as_dict()
    assert data == {
        "code": "D1351",
        "provider": {"user_id": None, "npi": HYGIENIST.npi, "name": "Mai Nguyễn",
                     "role": "hygienist"},
        "date_of_service": "2026-03-02",
        "tooth": "3",
        "surfaces": None,
        "quantity": 1,
        "place_of_service": "02",
        "encounter": {"type": "asynchronous", "id": "case-1"},
        "fee": None,
    }
    assert ClaimLine.from_dict(data) == ln
    priced = ClaimLine.from_dict({**data, "fee": "1095.5", "quantity": 1})
    assert priced.fee_cents == 109550 and priced.as_dict()["fee"] == "1095.50"
    assert ln.with_fee(4200).fee == "42.00"


@pytest.mark.parametrize(
    "changes",
    [
        {"date_of_service": "5 March"},
        {"quantity": "1"},
        {"quantity": True},
        {"tooth": 3},
        {"provider": {"npi": "1", "name": "x", "role": "wizard"}},
        {"fee": "12.345"},
        {"fee": "-1"},
        {"encounter": {"type": "in_person", "id": "1"}},
        {"code": None, "provider": None},
    ],
)
def test_claim_line_from_dict_refuses_bad_shapes(changes: dict[str, object]) -> None:
    data = {**line("D0140").as_dict(), **changes}
    with pytest.raises(InvalidClaimLine) as caught:
        ClaimLine.from_dict(data)
    assert caught.value.code == "invalid_claim_line"


def test_claim_line_from_dict_missing_field() -> None:
    data = line("D0140").as_dict()
    del data["place_of_service"]
    with pytest.raises(InvalidClaimLine, match="place_of_service"):
        ClaimLine.from_dict(data)


def test_default_profile_is_used_without_context() -> None:
    assert validate_lines(base()) == validate_lines(base(), ValidationContext())
    assert ValidationContext().profile is DEFAULT_PROFILE
