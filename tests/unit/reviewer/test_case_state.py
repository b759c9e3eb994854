"""The case state machine, claims and leases, urgency and turnaround (reviewer.cases.state)."""

from __future__ import annotations

import ast
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reviewer.cases.enums import CaseKind, CaseStatus, Urgency, most_urgent
from reviewer.cases.state import (
    DEFAULT_LEASE,
    DEFAULT_TARGETS,
    CaseAction,
    EmergencySignal,
    InvalidTransition,
    TurnaroundKey,
    allowed_actions,
    can_claim,
    case_urgency,
    due_at,
    emergency_signals,
    is_emergency,
    is_overdue,
    lease_expires_at,
    questionnaire_urgency,
    screening_urgency_to_case_urgency,
    targets_from_hours,
    time_left,
    transition,
    turnaround,
)
from reviewer.errors import Conflict

S = CaseStatus
A = CaseAction

# Written out independently of the module's table: every legal move and where it leads.
LEGAL: dict[tuple[CaseStatus, CaseAction], CaseStatus] = {
    (S.DRAFT, A.SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, A.CLAIM): S.IN_REVIEW,
    (S.IN_REVIEW, A.CLAIM): S.IN_REVIEW,
    (S.IN_REVIEW, A.RELEASE): S.SUBMITTED,
    (S.IN_REVIEW, A.EXPIRE_LEASE): S.SUBMITTED,
    (S.IN_REVIEW, A.REQUEST_INFO): S.NEEDS_INFO,
    (S.NEEDS_INFO, A.RESUBMIT): S.SUBMITTED,
    (S.IN_REVIEW, A.SIGN): S.REVIEWED,
    (S.REVIEWED, A.CLOSE): S.CLOSED,
    (S.IN_REVIEW, A.EDIT_EVALUATION): S.IN_REVIEW,
    (S.REVIEWED, A.ADD_ADDENDUM): S.REVIEWED,
    (S.CLOSED, A.ADD_ADDENDUM): S.CLOSED,
    (S.DRAFT, A.ADD_INFORMATION): S.DRAFT,
    (S.NEEDS_INFO, A.ADD_INFORMATION): S.NEEDS_INFO,
}
ILLEGAL = [pair for pair in itertools.product(CaseStatus, CaseAction) if pair not in LEGAL]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


# --- transitions ----------------------------------------------------------------------------


def test_enum_values_are_the_api_strings() -> None:
    assert [s.value for s in CaseStatus] == [
        "draft",
        "submitted",
        "in_review",
        "needs_info",
        "reviewed",
        "closed",
    ]
    assert {a.value for a in CaseAction} >= {
        "submit",
        "claim",
        "release",
        "expire_lease",
        "request_info",
        "resubmit",
        "sign",
        "close",
    }
    assert [k.value for k in CaseKind] == ["post_op", "emergency", "question", "school_screening"]


@pytest.mark.parametrize(("status", "action"), sorted(LEGAL))
def test_every_legal_transition(status: CaseStatus, action: CaseAction) -> None:
    assert transition(status, action) is LEGAL[(status, action)]
    assert transition(str(status), str(action)) is LEGAL[(status, action)]


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_every_illegal_transition_is_refused(status: CaseStatus, action: CaseAction) -> None:
    with pytest.raises(InvalidTransition) as caught:
        transition(status, action)
    error = caught.value
    assert error.code == "invalid_transition"
    assert isinstance(error, Conflict)  # the portal answers 409
    assert error.status == status
    assert error.action == action
    assert str(action) in error.message
    assert str(status) in error.message


def test_the_whole_life_of_a_case() -> None:
    status = S.DRAFT
    for action in (
        A.ADD_INFORMATION,
        A.SUBMIT,
        A.CLAIM,
        A.EDIT_EVALUATION,
        A.REQUEST_INFO,
        A.ADD_INFORMATION,
        A.RESUBMIT,
        A.CLAIM,
        A.EXPIRE_LEASE,
        A.CLAIM,
        A.SIGN,
        A.ADD_ADDENDUM,
        A.CLOSE,
        A.ADD_ADDENDUM,
    ):
        status = transition(status, action)
    assert status is S.CLOSED


def test_signing_without_a_claim_is_refused_with_a_reason() -> None:
    with pytest.raises(InvalidTransition, match="claimed for review"):
        transition(S.SUBMITTED, A.SIGN)


def test_editing_after_signing_is_refused_with_a_reason() -> None:
    with pytest.raises(InvalidTransition, match="never changes"):
        transition(S.REVIEWED, A.EDIT_EVALUATION)
    with pytest.raises(InvalidTransition):
        transition(S.CLOSED, A.EDIT_EVALUATION)


def test_claiming_a_draft_is_refused_with_a_reason() -> None:
    with pytest.raises(InvalidTransition, match="cannot claim a case that is draft"):
        transition(S.DRAFT, A.CLAIM)


def test_closing_needs_a_reviewed_case() -> None:
    for status in (S.DRAFT, S.SUBMITTED, S.IN_REVIEW, S.NEEDS_INFO, S.CLOSED):
        with pytest.raises(InvalidTransition):
            transition(status, A.CLOSE)


def test_unknown_words_are_invalid_transitions_too() -> None:
    with pytest.raises(InvalidTransition) as caught:
        transition("archived", "claim")
    assert caught.value.code == "invalid_transition"
    with pytest.raises(InvalidTransition):
        transition(S.SUBMITTED, "teleport")


def test_allowed_actions_match_the_table() -> None:
    for status in CaseStatus:
        expected = {action for (source, action) in LEGAL if source is status}
        assert allowed_actions(status) == expected
    assert allowed_actions(S.SUBMITTED) == {A.CLAIM}


# --- claims and leases ----------------------------------------------------------------------


def test_a_submitted_case_can_be_claimed() -> None:
    assert can_claim(S.SUBMITTED, None, NOW)


def test_a_case_in_review_with_a_live_lease_cannot_be_claimed() -> None:
    assert not can_claim(S.IN_REVIEW, NOW + timedelta(seconds=1), NOW)


def test_a_case_in_review_whose_lease_ran_out_can_be_claimed() -> None:
    assert can_claim(S.IN_REVIEW, NOW - timedelta(seconds=1), NOW)
    assert can_claim(S.IN_REVIEW, NOW, NOW)  # the lease ends at its expiry instant
    assert can_claim(S.IN_REVIEW, None, NOW)  # no lease: nothing protects it


@pytest.mark.parametrize("status", [S.DRAFT, S.NEEDS_INFO, S.REVIEWED, S.CLOSED])
def test_other_statuses_cannot_be_claimed(status: CaseStatus) -> None:
    assert not can_claim(status, None, NOW)
    assert not can_claim(status, NOW - timedelta(hours=1), NOW)


def test_lease_defaults_to_thirty_minutes() -> None:
    assert timedelta(minutes=30) == DEFAULT_LEASE
    assert lease_expires_at(NOW) == NOW + timedelta(minutes=30)
    assert lease_expires_at(NOW, timedelta(minutes=5)) == NOW + timedelta(minutes=5)
    with pytest.raises(ValueError, match="positive"):
        lease_expires_at(NOW, timedelta(0))


# --- urgency --------------------------------------------------------------------------------


def test_urgency_rank_orders_the_queue() -> None:
    assert Urgency.URGENT.rank > Urgency.SOON.rank > Urgency.ROUTINE.rank
    ordered = sorted([Urgency.SOON, Urgency.ROUTINE, Urgency.URGENT], key=lambda u: -u.rank)
    assert ordered == [Urgency.URGENT, Urgency.SOON, Urgency.ROUTINE]
    assert most_urgent([Urgency.ROUTINE, Urgency.URGENT, Urgency.SOON]) is Urgency.URGENT
    assert most_urgent([]) is Urgency.ROUTINE


@pytest.mark.parametrize(
    ("screening", "expected"),
    [("none", Urgency.ROUTINE), ("early", Urgency.SOON), ("urgent", Urgency.URGENT)],
)
def test_screening_urgency_maps_to_case_urgency(screening: str, expected: Urgency) -> None:
    assert screening_urgency_to_case_urgency(screening) is expected


@pytest.mark.parametrize("bad", ["", "URGENT", "soon", "routine", "high"])
def test_unknown_screening_urgency_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="screening treatment urgency"):
        screening_urgency_to_case_urgency(bad)


@pytest.mark.parametrize(
    ("answers", "signals"),
    [
        ({"fever": True, "swelling": True}, [EmergencySignal.FEVER_WITH_SWELLING]),
        ({"bleeding": True}, [EmergencySignal.UNCONTROLLED_BLEEDING]),
        ({"bleeding": "uncontrolled"}, [EmergencySignal.UNCONTROLLED_BLEEDING]),
        ({"uncontrolled_bleeding": "yes"}, [EmergencySignal.UNCONTROLLED_BLEEDING]),
        ({"difficulty_swallowing": True}, [EmergencySignal.DIFFICULTY_SWALLOWING]),
        ({"difficulty_breathing": "true"}, [EmergencySignal.DIFFICULTY_BREATHING]),
        (
            {"fever": 1, "swelling": "Yes", "difficulty_breathing": True},
            [EmergencySignal.FEVER_WITH_SWELLING, EmergencySignal.DIFFICULTY_BREATHING],
        ),
    ],
)
def test_emergency_answers_make_the_case_urgent(
    answers: dict[str, object], signals: list[EmergencySignal]
) -> None:
    assert list(emergency_signals(answers)) == signals
    assert is_emergency(answers)
    assert questionnaire_urgency(answers) is Urgency.URGENT


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {"fever": True},  # fever alone
        {"swelling": True},  # swelling alone
        {"fever": False, "swelling": True},
        {"bleeding": False},
        {"bleeding": "no"},
        {"bleeding": "minor"},
        {"difficulty_swallowing": "false", "difficulty_breathing": 0},
        {"pain": 10},
        {"notes": "fever and swelling"},  # free text is read by the dentist, not by rules
    ],
)
def test_answers_without_an_emergency_signal(answers: dict[str, object]) -> None:
    assert emergency_signals(answers) == ()
    assert not is_emergency(answers)


@pytest.mark.parametrize(
    ("pain", "expected"),
    [
        (None, Urgency.ROUTINE),
        (0, Urgency.ROUTINE),
        (6, Urgency.ROUTINE),
        (7, Urgency.SOON),
        ("7", Urgency.SOON),
        (10, Urgency.SOON),
        (6.9, Urgency.ROUTINE),
        ("severe", Urgency.ROUTINE),  # not a score
        (11, Urgency.ROUTINE),  # out of range: not a score
        (True, Urgency.ROUTINE),  # a boolean is not a score
    ],
)
def test_pain_score_decides_soon(pain: object, expected: Urgency) -> None:
    assert questionnaire_urgency({"pain": pain}) is expected


def test_an_emergency_outranks_pain() -> None:
    assert questionnaire_urgency({"pain": 9, "difficulty_breathing": True}) is Urgency.URGENT


def test_case_urgency_takes_the_most_pressing_signal() -> None:
    assert case_urgency() is Urgency.ROUTINE
    assert case_urgency({"pain": 8}) is Urgency.SOON
    assert case_urgency({"pain": 2}, "urgent") is Urgency.URGENT
    assert case_urgency({"pain": 9}, "none") is Urgency.SOON
    assert case_urgency(None, "early") is Urgency.SOON
    assert case_urgency({}, None, floor=Urgency.SOON) is Urgency.SOON


# --- turnaround -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("urgency", "hours"), [(Urgency.URGENT, 4), (Urgency.SOON, 24), (Urgency.ROUTINE, 72)]
)
def test_default_turnaround_targets(urgency: Urgency, hours: int) -> None:
    assert DEFAULT_TARGETS[urgency] == timedelta(hours=hours)
    assert due_at(NOW, urgency) == NOW + timedelta(hours=hours)
    assert due_at(NOW, str(urgency)) == NOW + timedelta(hours=hours)


def test_due_at_uses_the_organizations_targets_and_falls_back() -> None:
    targets = {Urgency.URGENT: timedelta(hours=2)}
    assert due_at(NOW, Urgency.URGENT, targets) == NOW + timedelta(hours=2)
    assert due_at(NOW, Urgency.SOON, targets) == NOW + timedelta(hours=24)


def test_due_at_per_kind_target_wins() -> None:
    targets: dict[TurnaroundKey, timedelta] = {
        (CaseKind.POST_OP, Urgency.ROUTINE): timedelta(hours=48),
        Urgency.ROUTINE: timedelta(hours=96),
    }
    assert due_at(NOW, Urgency.ROUTINE, targets, kind=CaseKind.POST_OP) == NOW + timedelta(hours=48)
    assert due_at(NOW, Urgency.ROUTINE, targets, kind="question") == NOW + timedelta(hours=96)
    assert due_at(NOW, Urgency.ROUTINE, targets) == NOW + timedelta(hours=96)
    assert turnaround(Urgency.URGENT, targets, CaseKind.POST_OP) == timedelta(hours=4)


def test_due_at_refuses_a_target_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        due_at(NOW, Urgency.URGENT, {Urgency.URGENT: timedelta(0)})


def test_targets_from_hours() -> None:
    targets = targets_from_hours({"urgent": 2, "post_op:routine": 48.5})
    assert targets == {
        Urgency.URGENT: timedelta(hours=2),
        (CaseKind.POST_OP, Urgency.ROUTINE): timedelta(hours=48.5),
    }
    for bad in ({"urgent": 0}, {"urgent": -1}, {"urgent": True}, {"urgent": "4"}):
        with pytest.raises(ValueError, match="positive number of hours"):
            targets_from_hours(bad)  # type: ignore[arg-type]
    for bad_key in ({"critical": 1}, {"dental:urgent": 1}):
        with pytest.raises(ValueError, match="unknown turnaround target"):
            targets_from_hours(bad_key)


def test_time_left_and_overdue() -> None:
    due = due_at(NOW, Urgency.URGENT)
    assert time_left(due, NOW) == timedelta(hours=4)
    assert not is_overdue(due, NOW)
    assert not is_overdue(due, due)
    later = due + timedelta(minutes=1)
    assert is_overdue(due, later)
    assert time_left(due, later) == timedelta(minutes=-1)


# --- purity ---------------------------------------------------------------------------------


PURE = ["reviewer/cases/state.py", "reviewer/cases/enums.py"]


@pytest.mark.parametrize("relative", PURE)
def test_pure_modules_import_no_io_layers(relative: str) -> None:
    root = Path(__file__).resolve().parents[3]
    tree = ast.parse((root / relative).read_text())
    modules = {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    } | {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not modules & {"portal", "storage", "sqlalchemy", "litestar", "httpx"}
