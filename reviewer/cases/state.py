"""The case state machine and the timing/urgency rules of the queue. Pure: no I/O.

Case life::

    draft --submit--> submitted --claim--> in_review --sign--> reviewed --close--> closed
                          ^                 |  |  |
                          |---release-------'  |  '--request_info--> needs_info
                          |---expire_lease-----'                        |
                          '------------------------resubmit-------------'

Every move a service makes goes through :func:`transition`; an illegal one raises
:class:`InvalidTransition` (HTTP 409, code ``invalid_transition``). Besides the moves that
change the status there are three *checks* that keep it (``edit_evaluation``,
``add_addendum``, ``add_information``), so "editing after signing" is refused by the same
table as "signing without a claim".

Who holds the claim (and whether it is the caller) is not status: the services compare the
claimant; :func:`can_claim` says whether a case is free to be claimed at a given instant.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, cast

from reviewer.cases.enums import CaseKind, CaseStatus, OriginatingSite, Urgency, most_urgent
from reviewer.errors import Conflict

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_TARGETS",
    "CaseAction",
    "CaseKind",
    "CaseStatus",
    "EmergencySignal",
    "InvalidTransition",
    "OriginatingSite",
    "TurnaroundKey",
    "TurnaroundTargets",
    "Urgency",
    "allowed_actions",
    "can_claim",
    "case_urgency",
    "due_at",
    "emergency_signals",
    "is_emergency",
    "is_overdue",
    "lease_expires_at",
    "questionnaire_urgency",
    "screening_urgency_to_case_urgency",
    "targets_from_hours",
    "time_left",
    "transition",
    "turnaround",
]


class CaseAction(StrEnum):
    """Everything that may be done to a case, checked against its status."""

    SUBMIT = "submit"
    """draft → submitted (the submitter sends it)."""
    CLAIM = "claim"
    """submitted → in_review; in_review → in_review (the holder renews, or the lease ran out)."""
    RELEASE = "release"
    """in_review → submitted (the dentist gives it back by hand)."""
    EXPIRE_LEASE = "expire_lease"
    """in_review → submitted (the lease ran out; the case goes back to the queue)."""
    REQUEST_INFO = "request_info"
    """in_review → needs_info (releases the claim, keeps the draft evaluation)."""
    RESUBMIT = "resubmit"
    """needs_info → submitted (the submitter answered; the original due time is kept)."""
    SIGN = "sign"
    """in_review → reviewed (the evaluation becomes immutable)."""
    CLOSE = "close"
    """reviewed → closed (billed, or nothing to bill)."""
    EDIT_EVALUATION = "edit_evaluation"
    """Check only: the draft evaluation may be written while the case is in review."""
    ADD_ADDENDUM = "add_addendum"
    """Check only: signed addenda follow a signed evaluation (reviewed or closed)."""
    ADD_INFORMATION = "add_information"
    """Check only: the submitter adds photos or answers to a draft or a returned case."""


_S = CaseStatus
_A = CaseAction

_TRANSITIONS: Mapping[tuple[CaseStatus, CaseAction], CaseStatus] = MappingProxyType(
    {
        (_S.DRAFT, _A.SUBMIT): _S.SUBMITTED,
        (_S.SUBMITTED, _A.CLAIM): _S.IN_REVIEW,
        (_S.IN_REVIEW, _A.CLAIM): _S.IN_REVIEW,
        (_S.IN_REVIEW, _A.RELEASE): _S.SUBMITTED,
        (_S.IN_REVIEW, _A.EXPIRE_LEASE): _S.SUBMITTED,
        (_S.IN_REVIEW, _A.REQUEST_INFO): _S.NEEDS_INFO,
        (_S.NEEDS_INFO, _A.RESUBMIT): _S.SUBMITTED,
        (_S.IN_REVIEW, _A.SIGN): _S.REVIEWED,
        (_S.REVIEWED, _A.CLOSE): _S.CLOSED,
        (_S.IN_REVIEW, _A.EDIT_EVALUATION): _S.IN_REVIEW,
        (_S.REVIEWED, _A.ADD_ADDENDUM): _S.REVIEWED,
        (_S.CLOSED, _A.ADD_ADDENDUM): _S.CLOSED,
        (_S.DRAFT, _A.ADD_INFORMATION): _S.DRAFT,
        (_S.NEEDS_INFO, _A.ADD_INFORMATION): _S.NEEDS_INFO,
    }
)

_WHY: Mapping[CaseAction, str] = MappingProxyType(
    {
        _A.SUBMIT: "only a draft can be submitted",
        _A.CLAIM: "only a submitted case, or one in review whose lease ran out, can be claimed",
        _A.RELEASE: "only a case in review can be released",
        _A.EXPIRE_LEASE: "only a case in review holds a lease",
        _A.REQUEST_INFO: "information can be requested only on a case claimed for review",
        _A.RESUBMIT: "only a case waiting for more information can be resubmitted",
        _A.SIGN: "an evaluation can be signed only on a case claimed for review",
        _A.CLOSE: "only a reviewed case can be closed",
        _A.EDIT_EVALUATION: (
            "the evaluation can be edited only while the case is claimed for review; "
            "a signed evaluation never changes (add a signed addendum instead)"
        ),
        _A.ADD_ADDENDUM: "addenda follow a signed evaluation only",
        _A.ADD_INFORMATION: (
            "photos and answers can be added only to a draft or to a case sent back for more "
            "information"
        ),
    }
)


class InvalidTransition(Conflict):
    """An action the case's status does not allow (HTTP 409, code ``invalid_transition``)."""

    code = "invalid_transition"

    def __init__(self, status: CaseStatus | str, action: CaseAction | str) -> None:
        self.status = status
        self.action = action
        try:
            why: str | None = _WHY[CaseAction(action)]
        except ValueError:
            why = None
        message = f"cannot {action} a case that is {status}"
        if why:
            message = f"{message}: {why}"
        super().__init__(message)


def transition(status: CaseStatus | str, action: CaseAction | str) -> CaseStatus:
    """The status after ``action``; raises :class:`InvalidTransition` when it is not allowed."""
    try:
        key = (CaseStatus(status), CaseAction(action))
    except ValueError:
        raise InvalidTransition(status, action) from None
    try:
        return _TRANSITIONS[key]
    except KeyError:
        raise InvalidTransition(key[0], key[1]) from None


def allowed_actions(status: CaseStatus | str) -> frozenset[CaseAction]:
    """The actions :func:`transition` accepts from ``status`` (for buttons and API hints)."""
    current = CaseStatus(status)
    return frozenset(action for (source, action) in _TRANSITIONS if source is current)


# --- claims and leases ----------------------------------------------------------------------

DEFAULT_LEASE = timedelta(minutes=30)


def lease_expires_at(now: datetime, lease: timedelta = DEFAULT_LEASE) -> datetime:
    """When a claim taken (or renewed) at ``now`` runs out."""
    if lease <= timedelta(0):
        raise ValueError("a lease must last a positive time")
    return now + lease


def can_claim(status: CaseStatus | str, lease_expires_at: datetime | None, now: datetime) -> bool:
    """Whether a dentist may claim the case at ``now``.

    A ``submitted`` case may be claimed; so may an ``in_review`` case whose lease has run out
    (``lease_expires_at <= now``) or that has no lease at all (nothing protects it). The same
    predicate in SQL: ``status = 'submitted' OR (status = 'in_review' AND (lease_expires_at IS
    NULL OR lease_expires_at <= :now))``. Whether the caller already holds the case is the
    service's business (claiming your own case again simply renews the lease).
    """
    current = CaseStatus(status)
    if current is CaseStatus.SUBMITTED:
        return True
    if current is CaseStatus.IN_REVIEW:
        return lease_expires_at is None or lease_expires_at <= now
    return False


# --- urgency ---------------------------------------------------------------------------------

_SCREENING_URGENCY: Mapping[str, Urgency] = MappingProxyType(
    {"none": Urgency.ROUTINE, "early": Urgency.SOON, "urgent": Urgency.URGENT}
)


def screening_urgency_to_case_urgency(treatment_urgency: str) -> Urgency:
    """A school screening's treatment urgency (ASTDD form) as the case urgency.

    ``none`` → routine, ``early`` (early dental care) → soon, ``urgent`` → urgent. Anything else
    raises ``ValueError``.
    """
    try:
        return _SCREENING_URGENCY[treatment_urgency]
    except KeyError:
        allowed = ", ".join(_SCREENING_URGENCY)
        raise ValueError(
            f"unknown screening treatment urgency {treatment_urgency!r} (expected one of: "
            f"{allowed})"
        ) from None


class EmergencySignal(StrEnum):
    """Questionnaire answers that mean "call the practice / emergency services now"."""

    FEVER_WITH_SWELLING = "fever_with_swelling"
    UNCONTROLLED_BLEEDING = "uncontrolled_bleeding"
    DIFFICULTY_SWALLOWING = "difficulty_swallowing"
    DIFFICULTY_BREATHING = "difficulty_breathing"


SEVERE_PAIN = 7
"""A pain score (0-10) at or above this makes a case ``soon``."""

_YES = frozenset({"true", "yes", "y", "1", "on"})
_BLEEDING_UNCONTROLLED = frozenset({"uncontrolled", "heavy", "severe", "does_not_stop"})


def _flag(value: Any) -> bool:
    """A questionnaire yes/no answer: True, 1, or "true"/"yes"/"1"/"on" (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value == 1
    if isinstance(value, str):
        return value.strip().lower() in _YES
    return False


def _pain(value: Any) -> int | None:
    """A pain score 0-10 from an int or a numeric string; anything else counts as no answer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        score = int(value)
    elif isinstance(value, str):
        try:
            score = int(float(value.strip()))
        except ValueError:
            return None
    else:
        return None
    return score if 0 <= score <= 10 else None


def _bleeding_uncontrolled(q: Mapping[str, Any]) -> bool:
    if _flag(q.get("uncontrolled_bleeding")):
        return True
    value = q.get("bleeding")
    if isinstance(value, str) and value.strip().lower() in _BLEEDING_UNCONTROLLED:
        return True
    # The intake form asks "is it bleeding and the bleeding does not stop?": yes is the signal.
    return _flag(value)


def emergency_signals(q: Mapping[str, Any]) -> tuple[EmergencySignal, ...]:
    """The emergency signals in a questionnaire, in a stable order (empty when none).

    Keys read (intake's questionnaire): ``fever`` and ``swelling`` (both needed),
    ``bleeding`` (a yes, or "uncontrolled"/"heavy") or ``uncontrolled_bleeding``,
    ``difficulty_swallowing``, ``difficulty_breathing``. Missing keys mean no.
    """
    signals: list[EmergencySignal] = []
    if _flag(q.get("fever")) and _flag(q.get("swelling")):
        signals.append(EmergencySignal.FEVER_WITH_SWELLING)
    if _bleeding_uncontrolled(q):
        signals.append(EmergencySignal.UNCONTROLLED_BLEEDING)
    if _flag(q.get("difficulty_swallowing")):
        signals.append(EmergencySignal.DIFFICULTY_SWALLOWING)
    if _flag(q.get("difficulty_breathing")):
        signals.append(EmergencySignal.DIFFICULTY_BREATHING)
    return tuple(signals)


def is_emergency(q: Mapping[str, Any]) -> bool:
    """Whether the answers show an emergency (the page tells the patient to call at once)."""
    return bool(emergency_signals(q))


def questionnaire_urgency(q: Mapping[str, Any]) -> Urgency:
    """Urgent on any emergency signal; soon for pain of 7 or more out of 10; else routine."""
    if is_emergency(q):
        return Urgency.URGENT
    pain = _pain(q.get("pain"))
    if pain is not None and pain >= SEVERE_PAIN:
        return Urgency.SOON
    return Urgency.ROUTINE


def case_urgency(
    questionnaire: Mapping[str, Any] | None = None,
    screening_treatment_urgency: str | None = None,
    floor: Urgency = Urgency.ROUTINE,
) -> Urgency:
    """The urgency a new case starts with: the most pressing of its signals (never below floor)."""
    candidates = [floor]
    if questionnaire is not None:
        candidates.append(questionnaire_urgency(questionnaire))
    if screening_treatment_urgency is not None:
        candidates.append(screening_urgency_to_case_urgency(screening_treatment_urgency))
    return most_urgent(candidates)


# --- turnaround ------------------------------------------------------------------------------

TurnaroundKey = Urgency | tuple[CaseKind, Urgency]
TurnaroundTargets = (
    Mapping[Urgency, timedelta]
    | Mapping[tuple[CaseKind, Urgency], timedelta]
    | Mapping[TurnaroundKey, timedelta]
)
"""Turnaround per urgency, optionally refined per (kind, urgency); missing ones use defaults."""

DEFAULT_TARGETS: Mapping[Urgency, timedelta] = MappingProxyType(
    {
        Urgency.URGENT: timedelta(hours=4),
        Urgency.SOON: timedelta(hours=24),
        Urgency.ROUTINE: timedelta(hours=72),
    }
)


def targets_from_hours(hours: Mapping[str, float]) -> dict[TurnaroundKey, timedelta]:
    """Organization settings → targets: keys ``"urgent"`` or ``"post_op:urgent"``, values hours.

    Raises ``ValueError`` on an unknown key or a target that is not a positive number of hours.
    """
    targets: dict[TurnaroundKey, timedelta] = {}
    for key, value in hours.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"turnaround target {key!r} must be a positive number of hours")
        kind_text, _, urgency_text = key.rpartition(":")
        try:
            urgency = Urgency(urgency_text)
            target_key: TurnaroundKey = (CaseKind(kind_text), urgency) if kind_text else urgency
        except ValueError:
            raise ValueError(f"unknown turnaround target {key!r}") from None
        targets[target_key] = timedelta(hours=value)
    return targets


def turnaround(
    urgency: Urgency | str,
    targets: TurnaroundTargets = DEFAULT_TARGETS,
    kind: CaseKind | str | None = None,
) -> timedelta:
    """The target for ``urgency`` (and ``kind``): kind-specific first, then per urgency, then the
    built-in default."""
    level = Urgency(urgency)
    table = cast(Mapping[object, timedelta], targets)
    if kind is not None:
        specific = table.get((CaseKind(kind), level))
        if specific is not None:
            return specific
    general = table.get(level)
    if general is not None:
        return general
    return DEFAULT_TARGETS[level]


def due_at(
    submitted_at: datetime,
    urgency: Urgency | str,
    targets: TurnaroundTargets = DEFAULT_TARGETS,
    kind: CaseKind | str | None = None,
) -> datetime:
    """When a dentist's review is due: first submission plus the turnaround target.

    A case sent back for information keeps the due time of its first submission: pass that
    time, not the resubmission's.
    """
    target = turnaround(urgency, targets, kind)
    if target <= timedelta(0):
        raise ValueError(f"the turnaround target for {urgency} must be positive")
    return submitted_at + target


def time_left(due: datetime, now: datetime) -> timedelta:
    """Time until ``due`` (negative once overdue)."""
    return due - now


def is_overdue(due: datetime, now: datetime) -> bool:
    """Whether the review is late at ``now``."""
    return now > due
