"""Case-management coding rules: D9991, D9992, D9993, D9994, D9997 (both ways, each rule)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from reviewer.coding.case_management import (
    CODE_FOR_KIND,
    Barrier,
    BilledCaseManagement,
    CaseManagementKind,
    CaseManagementRule,
    CoordinationActivity,
    Counterpart,
    check_activity,
    minutes_by_code,
    propose_case_management_lines,
)
from reviewer.coding.payer import DEFAULT_PROFILE, PayerProfile
from reviewer.coding.rules import (
    EncounterType,
    Provider,
    ProviderRole,
    RuleViolation,
    ValidationContext,
    validate_lines,
)

R = CaseManagementRule
K = CaseManagementKind
COORDINATOR = Provider("", "Sam Patel", ProviderRole.COORDINATOR)
HYGIENIST = Provider("1987654321", "Mai Nguyen", ProviderRole.HYGIENIST)
DAY = date(2026, 3, 10)
ALL_CODES = PayerProfile(
    name="Full program",
    case_management_codes=frozenset({"D9991", "D9992", "D9993", "D9994", "D9997"}),
)

# A valid activity of each kind.
VALID: dict[CaseManagementKind, CoordinationActivity] = {
    K.APPOINTMENT_COMPLIANCE: CoordinationActivity(
        activity_id="a-9991",
        patient_id="p-1",
        kind=K.APPOINTMENT_COMPLIANCE,
        date=DAY,
        performed_by=COORDINATOR,
        minutes=20,
        necessity="Missed two appointments for lack of a ride",
        what_was_done="Booked medical transport for the oral surgeon visit on 3/17",
        barrier=Barrier.TRANSPORT,
        with_whom=frozenset({Counterpart.FAMILY}),
        outcome="Ride confirmed",
    ),
    K.CARE_COORDINATION: CoordinationActivity(
        activity_id="a-9992",
        patient_id="p-1",
        kind=K.CARE_COORDINATION,
        date=DAY,
        performed_by=COORDINATOR,
        minutes=35,
        necessity="Urgent extraction needs a surgeon who takes the child's insurance",
        what_was_done="Sent the images and evaluation to the oral surgeon; set the date",
        barrier=Barrier.SCHEDULING,
        with_whom=frozenset({Counterpart.PROVIDER, Counterpart.FAMILY}),
        information_sharing_consent=True,
    ),
    K.MOTIVATIONAL_INTERVIEWING: CoordinationActivity(
        activity_id="a-9993",
        patient_id="p-1",
        kind=K.MOTIVATIONAL_INTERVIEWING,
        date=DAY,
        performed_by=HYGIENIST,
        minutes=15,
        necessity="High caries risk, sugary drinks daily",
        what_was_done="Motivational interview with the parent about bedtime bottles",
        with_whom=frozenset({Counterpart.FAMILY}),
    ),
    K.HEALTH_LITERACY: CoordinationActivity(
        activity_id="a-9994",
        patient_id="p-1",
        kind=K.HEALTH_LITERACY,
        date=DAY,
        performed_by=HYGIENIST,
        minutes=10,
        necessity="Parent unsure how fluoride varnish works",
        what_was_done="Explained varnish and brushing with pictures in Vietnamese",
        with_whom=frozenset({Counterpart.PATIENT, Counterpart.FAMILY}),
    ),
    K.SPECIAL_NEEDS: CoordinationActivity(
        activity_id="a-9997",
        patient_id="p-1",
        kind=K.SPECIAL_NEEDS,
        date=DAY,
        performed_by=COORDINATOR,
        minutes=45,
        necessity="Autism; needs sedation-capable clinic",
        what_was_done="Found a clinic with sedation, arranged a quiet first visit",
        barrier=Barrier.SPECIAL_NEEDS,
        with_whom=frozenset({Counterpart.PHYSICIAN, Counterpart.FAMILY}),
        special_health_care_needs=True,
    ),
}


def rules_of(violations: list[RuleViolation]) -> set[str]:
    return {v.rule for v in violations}


def changed(kind: CaseManagementKind, **changes: object) -> CoordinationActivity:
    return dataclasses.replace(VALID[kind], **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(K))
def test_every_valid_activity_becomes_one_line(kind: CaseManagementKind) -> None:
    activity = VALID[kind]
    assert check_activity(activity, (), ALL_CODES) == []
    lines, violations = propose_case_management_lines([activity], [], ALL_CODES)
    assert violations == []
    assert len(lines) == 1
    ln = lines[0]
    assert ln.code == CODE_FOR_KIND[kind]
    assert ln.provider == activity.performed_by
    assert ln.date_of_service == DAY
    assert (ln.tooth, ln.surfaces, ln.quantity) == (None, None, 1)
    assert ln.place_of_service == "11"
    assert ln.encounter.type is EncounterType.COORDINATION
    assert ln.encounter.id == activity.activity_id
    assert validate_lines(lines, ValidationContext(profile=ALL_CODES)) == []


# --- what every code needs -------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(K))
@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"minutes": 0}, R.MINUTES),
        ({"minutes": -5}, R.MINUTES),
        ({"performed_by": Provider("", " ", ProviderRole.COORDINATOR)}, R.PERFORMER),
        ({"necessity": "  "}, R.NECESSITY),
        ({"what_was_done": ""}, R.ACTIVITY_DESCRIBED),
    ],
)
def test_documentation_is_required(
    kind: CaseManagementKind, changes: dict[str, object], rule: CaseManagementRule
) -> None:
    activity = changed(kind, **changes)
    violations = check_activity(activity, (), ALL_CODES)
    assert rules_of(violations) == {rule}
    assert all(v.activity_id == activity.activity_id for v in violations)
    lines, refused = propose_case_management_lines([activity], [], ALL_CODES)
    assert lines == [] and rules_of(refused) == {rule}


# --- one rule per code -----------------------------------------------------------------------


@pytest.mark.parametrize("barrier", [Barrier.TRANSPORT, Barrier.SCHEDULING, Barrier.COST])
def test_d9991_accepts_appointment_barriers(barrier: Barrier) -> None:
    assert check_activity(changed(K.APPOINTMENT_COMPLIANCE, barrier=barrier)) == []


@pytest.mark.parametrize("barrier", [None, Barrier.LANGUAGE, Barrier.SPECIAL_NEEDS, Barrier.OTHER])
def test_d9991_refuses_other_barriers(barrier: Barrier | None) -> None:
    violations = check_activity(changed(K.APPOINTMENT_COMPLIANCE, barrier=barrier))
    assert rules_of(violations) == {R.D9991_BARRIER}
    assert "transport, scheduling or cost" in violations[0].message


def test_d9992_needs_another_provider_and_consent() -> None:
    assert check_activity(VALID[K.CARE_COORDINATION]) == []
    physician = changed(K.CARE_COORDINATION, with_whom=frozenset({Counterpart.PHYSICIAN}))
    assert check_activity(physician) == []
    family_only = changed(K.CARE_COORDINATION, with_whom=frozenset({Counterpart.FAMILY}))
    assert rules_of(check_activity(family_only)) == {R.D9992_ACROSS_PROVIDERS}
    no_consent = changed(K.CARE_COORDINATION, information_sharing_consent=False)
    assert rules_of(check_activity(no_consent)) == {R.D9992_CONSENT}


@pytest.mark.parametrize(
    ("kind", "rule"),
    [
        (K.MOTIVATIONAL_INTERVIEWING, R.D9993_WITH_PATIENT),
        (K.HEALTH_LITERACY, R.D9994_WITH_PATIENT),
    ],
)
def test_d9993_d9994_are_with_the_patient_or_family(
    kind: CaseManagementKind, rule: CaseManagementRule
) -> None:
    assert (
        check_activity(changed(kind, with_whom=frozenset({Counterpart.PATIENT})), (), ALL_CODES)
        == []
    )
    school = changed(kind, with_whom=frozenset({Counterpart.SCHOOL}))
    assert rules_of(check_activity(school, (), ALL_CODES)) == {rule}


def test_d9997_needs_special_health_care_needs() -> None:
    assert check_activity(VALID[K.SPECIAL_NEEDS]) == []
    not_shcn = changed(K.SPECIAL_NEEDS, special_health_care_needs=False)
    assert rules_of(check_activity(not_shcn)) == {R.D9997_SPECIAL_NEEDS}


# --- the payer profile -----------------------------------------------------------------------


def test_profile_decides_whether_case_management_is_billed_at_all() -> None:
    off = PayerProfile(name="No CM", bills_case_management_codes=False)
    activities = list(VALID.values())
    lines, violations = propose_case_management_lines(activities, [], off)
    assert lines == []
    assert rules_of(violations) == {R.BILLED_BY_PAYER}
    assert len(violations) == len(activities)
    assert "does not bill case-management codes" in violations[0].message


def test_d9993_d9994_only_where_the_program_uses_them() -> None:
    lines, violations = propose_case_management_lines(list(VALID.values()))
    assert sorted(ln.code for ln in lines) == ["D9991", "D9992", "D9997"]
    assert rules_of(violations) == {R.BILLED_BY_PAYER}
    assert {v.activity_id for v in violations} == {"a-9993", "a-9994"}
    lines, violations = propose_case_management_lines(list(VALID.values()), [], ALL_CODES)
    assert sorted(ln.code for ln in lines) == ["D9991", "D9992", "D9993", "D9994", "D9997"]
    assert violations == []


def test_place_of_service_from_the_profile() -> None:
    home_visits = dataclasses.replace(DEFAULT_PROFILE, case_management_place_of_service="12")
    lines, _ = propose_case_management_lines([VALID[K.SPECIAL_NEEDS]], [], home_visits)
    assert lines[0].place_of_service == "12"


# --- repeated billing ------------------------------------------------------------------------


def billed(code: str, day: date, *ids: str, done: str = "Earlier work") -> BilledCaseManagement:
    return BilledCaseManagement("p-1", code, day, frozenset(ids), (done,))


def test_repeat_needs_a_new_date_of_service() -> None:
    activity = VALID[K.SPECIAL_NEEDS]
    same_day = [billed("D9997", DAY, "a-old")]
    assert rules_of(check_activity(activity, same_day)) == {R.NEW_DATE}
    earlier = [billed("D9997", date(2026, 2, 10), "a-old")]
    assert check_activity(activity, earlier) == []
    other_code = [billed("D9992", DAY, "a-old")]
    assert check_activity(activity, other_code) == []
    other_patient = [BilledCaseManagement("p-2", "D9997", DAY, frozenset({"a-x"}))]
    assert check_activity(activity, other_patient) == []


def test_repeat_needs_new_substantial_activity() -> None:
    activity = VALID[K.SPECIAL_NEEDS]
    same_activity = [billed("D9997", date(2026, 2, 1), activity.activity_id)]
    assert rules_of(check_activity(activity, same_activity)) == {R.NEW_ACTIVITY}
    same_words = [
        billed("D9997", date(2026, 2, 1), "a-old", done="  found a clinic with SEDATION, "
               "arranged a quiet first visit ")
    ]  # fmt: skip
    violations = check_activity(activity, same_words)
    assert rules_of(violations) == {R.NEW_ACTIVITY}
    assert "new substantial activity" in violations[0].message


def test_one_line_per_patient_code_and_day_with_minutes_adding_up() -> None:
    first = VALID[K.CARE_COORDINATION]
    second = dataclasses.replace(
        first, activity_id="a-9992b", minutes=25, what_was_done="Called the surgeon's office back"
    )
    lines, violations = propose_case_management_lines([first, second])
    assert violations == []
    assert len(lines) == 1 and lines[0].encounter.id == first.activity_id
    assert minutes_by_code([first, second]) == {"D9992": 60}


def test_the_dentists_own_time_is_its_own_line() -> None:
    coordinator = VALID[K.CARE_COORDINATION]
    dentist = Provider("1326044579", "Dr. Dana Demo", ProviderRole.DENTIST, user_id="u-dentist")
    own = dataclasses.replace(coordinator, activity_id="a-dentist", performed_by=dentist,
                              minutes=15, what_was_done="Dentist called the oral surgeon")
    lines, violations = propose_case_management_lines([coordinator, own])
    assert violations == []
    assert [(ln.code, ln.provider.name) for ln in lines] == [
        ("D9992", "Sam Patel"), ("D9992", "Dr. Dana Demo")]
    assert lines[1].provider.npi == "1326044579" and lines[1].encounter.id == "a-dentist"


def test_later_days_in_one_call_count_as_repeats() -> None:
    first = VALID[K.SPECIAL_NEEDS]
    next_week = dataclasses.replace(first, activity_id="a-next", date=date(2026, 3, 17))
    lines, violations = propose_case_management_lines([next_week, first])
    assert [ln.date_of_service for ln in lines] == [DAY]
    assert rules_of(violations) == {R.NEW_ACTIVITY}
    assert violations[0].activity_id == "a-next"
    different = dataclasses.replace(next_week, what_was_done="Confirmed the sedation visit")
    lines, violations = propose_case_management_lines([first, different])
    assert [ln.date_of_service for ln in lines] == [DAY, date(2026, 3, 17)]
    assert violations == []


def test_minutes_by_code_ignores_undocumented_time() -> None:
    assert minutes_by_code([changed(K.SPECIAL_NEEDS, minutes=0), VALID[K.SPECIAL_NEEDS]]) == {
        "D9997": 45
    }
