"""Case-management coding rules (D9991, D9992, D9993, D9994, D9997). Pure.

Coordination work is logged as :class:`CoordinationActivity` records; these rules decide
which of them become claim lines and say why the others do not.

Every code needs: documented minutes (more than 0), the person who did the work, the
necessity (why it was needed) and what was done. Then one rule per code:

========  ==========================================================================
D9991     appointment compliance barriers: the barrier is transport, scheduling or cost
D9992     care coordination across providers: with another provider or a physician, and
          the patient's consent to share information on file
D9993     motivational interviewing: with the patient or the family
D9994     health-literacy education: with the patient or the family
D9997     case management for a patient with special health care needs: the patient has them
========  ==========================================================================

Repeated billing for the same patient needs a new date of service (one line per patient, code
and day: that day's activities for the code are one line) and new substantial activity (an
activity billed before, or the same work described again, is refused). The payer profile
decides whether the codes are billed at all (``bills_case_management_codes``) and which
(``case_management_codes``: D9993/D9994 only where a program uses them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from reviewer.coding.payer import DEFAULT_PROFILE, PayerProfile
from reviewer.coding.rules import (
    ClaimLine,
    Encounter,
    EncounterType,
    Provider,
    RuleViolation,
    Severity,
)

__all__ = [
    "CODE_FOR_KIND",
    "CODE_RULES",
    "Barrier",
    "BilledCaseManagement",
    "CaseManagementKind",
    "CaseManagementRule",
    "CoordinationActivity",
    "Counterpart",
    "check_activity",
    "check_d9991",
    "check_d9992",
    "check_d9993",
    "check_d9994",
    "check_d9997",
    "check_documentation",
    "check_profile",
    "check_repetition",
    "minutes_by_code",
    "propose_case_management_lines",
]


class CaseManagementKind(StrEnum):
    APPOINTMENT_COMPLIANCE = "appointment_compliance"
    CARE_COORDINATION = "care_coordination"
    MOTIVATIONAL_INTERVIEWING = "motivational_interviewing"
    HEALTH_LITERACY = "health_literacy"
    SPECIAL_NEEDS = "special_needs"


CODE_FOR_KIND: Mapping[CaseManagementKind, str] = MappingProxyType(
    {
        CaseManagementKind.APPOINTMENT_COMPLIANCE: "D9991",
        CaseManagementKind.CARE_COORDINATION: "D9992",
        CaseManagementKind.MOTIVATIONAL_INTERVIEWING: "D9993",
        CaseManagementKind.HEALTH_LITERACY: "D9994",
        CaseManagementKind.SPECIAL_NEEDS: "D9997",
    }
)


class Barrier(StrEnum):
    TRANSPORT = "transport"
    LANGUAGE = "language"
    """Language and interpreter."""
    COST = "cost"
    """Cost and insurance."""
    SPECIAL_NEEDS = "special_needs"
    SCHEDULING = "scheduling"
    """Scheduling, across specialists too."""
    OTHER = "other"


D9991_BARRIERS = frozenset({Barrier.TRANSPORT, Barrier.SCHEDULING, Barrier.COST})


class Counterpart(StrEnum):
    """With whom the work was done."""

    PATIENT = "patient"
    FAMILY = "family"
    PROVIDER = "provider"
    """Another dental provider (a specialist, the patient's dentist)."""
    PHYSICIAN = "physician"
    SCHOOL = "school"
    PAYER = "payer"
    OTHER = "other"


_PROVIDERS = frozenset({Counterpart.PROVIDER, Counterpart.PHYSICIAN})
_PATIENT_SIDE = frozenset({Counterpart.PATIENT, Counterpart.FAMILY})


class CaseManagementRule(StrEnum):
    BILLED_BY_PAYER = "case_management_billed_by_payer"
    MINUTES = "case_management_minutes"
    PERFORMER = "case_management_performer"
    NECESSITY = "case_management_necessity"
    ACTIVITY_DESCRIBED = "case_management_activity_described"
    NEW_DATE = "case_management_new_date"
    NEW_ACTIVITY = "case_management_new_activity"
    D9991_BARRIER = "d9991_barrier"
    D9992_ACROSS_PROVIDERS = "d9992_across_providers"
    D9992_CONSENT = "d9992_consent"
    D9993_WITH_PATIENT = "d9993_with_patient"
    D9994_WITH_PATIENT = "d9994_with_patient"
    D9997_SPECIAL_NEEDS = "d9997_special_needs"


@dataclass(frozen=True)
class CoordinationActivity:
    """One piece of logged coordination work on a patient."""

    activity_id: str
    patient_id: str
    kind: CaseManagementKind
    date: dt.date
    performed_by: Provider
    minutes: int
    necessity: str
    """Why the work was needed (the documented necessity)."""
    what_was_done: str
    barrier: Barrier | None = None
    with_whom: frozenset[Counterpart] = field(default_factory=frozenset)
    outcome: str = ""
    special_health_care_needs: bool = False
    """The patient has special health care needs (D9997)."""
    information_sharing_consent: bool = False
    """The patient's consent to share information with other providers is on file (D9992)."""

    @property
    def code(self) -> str:
        return CODE_FOR_KIND[self.kind]


@dataclass(frozen=True)
class BilledCaseManagement:
    """A case-management line billed before for a patient (the history the rules compare)."""

    patient_id: str
    code: str
    date_of_service: dt.date
    activity_ids: frozenset[str] = field(default_factory=frozenset)
    what_was_done: tuple[str, ...] = ()


def _v(rule: CaseManagementRule, message: str, activity: CoordinationActivity) -> RuleViolation:
    return RuleViolation(
        rule=str(rule),
        message=message,
        severity=Severity.ERROR,
        activity_id=activity.activity_id,
    )


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


# --- what every code needs -------------------------------------------------------------------


def check_documentation(activity: CoordinationActivity) -> list[RuleViolation]:
    """Minutes, the person, the necessity and what was done: needed by every code."""
    code = activity.code
    out: list[RuleViolation] = []
    if isinstance(activity.minutes, bool) or activity.minutes <= 0:
        out.append(
            _v(
                CaseManagementRule.MINUTES,
                f"{code} needs the time spent documented in minutes (more than 0)",
                activity,
            )
        )
    if not activity.performed_by.name.strip():
        out.append(
            _v(CaseManagementRule.PERFORMER, f"{code} needs the person who did the work", activity)
        )
    if not activity.necessity.strip():
        out.append(
            _v(
                CaseManagementRule.NECESSITY,
                f"{code} needs the necessity documented: why this work was needed",
                activity,
            )
        )
    if not activity.what_was_done.strip():
        out.append(
            _v(
                CaseManagementRule.ACTIVITY_DESCRIBED,
                f"{code} needs what was done: a substantial activity, described",
                activity,
            )
        )
    return out


# --- one rule per code -----------------------------------------------------------------------


def check_d9991(activity: CoordinationActivity) -> list[RuleViolation]:
    """D9991: addressing appointment compliance barriers (transport, scheduling, cost)."""
    if activity.barrier in D9991_BARRIERS:
        return []
    found = activity.barrier or "none recorded"
    return [
        _v(
            CaseManagementRule.D9991_BARRIER,
            "D9991 addresses a barrier to keeping appointments - transport, scheduling or cost; "
            f"the barrier here is {found}",
            activity,
        )
    ]


def check_d9992(activity: CoordinationActivity) -> list[RuleViolation]:
    """D9992: care coordination across providers, with consent to share information."""
    out: list[RuleViolation] = []
    if not activity.with_whom & _PROVIDERS:
        out.append(
            _v(
                CaseManagementRule.D9992_ACROSS_PROVIDERS,
                "D9992 is coordination across providers: record the other provider or physician "
                "the work was done with",
                activity,
            )
        )
    if not activity.information_sharing_consent:
        out.append(
            _v(
                CaseManagementRule.D9992_CONSENT,
                "D9992 shares the patient's information with another provider: the patient's "
                "information-sharing consent must be on file",
                activity,
            )
        )
    return out


def check_d9993(activity: CoordinationActivity) -> list[RuleViolation]:
    """D9993: motivational interviewing, with the patient or the family."""
    if activity.with_whom & _PATIENT_SIDE:
        return []
    return [
        _v(
            CaseManagementRule.D9993_WITH_PATIENT,
            "D9993 is motivational interviewing of the patient or the family: record which",
            activity,
        )
    ]


def check_d9994(activity: CoordinationActivity) -> list[RuleViolation]:
    """D9994: education to improve oral health literacy, with the patient or the family."""
    if activity.with_whom & _PATIENT_SIDE:
        return []
    return [
        _v(
            CaseManagementRule.D9994_WITH_PATIENT,
            "D9994 is health-literacy education of the patient or the family: record which",
            activity,
        )
    ]


def check_d9997(activity: CoordinationActivity) -> list[RuleViolation]:
    """D9997: case management for a patient with special health care needs."""
    if activity.special_health_care_needs:
        return []
    return [
        _v(
            CaseManagementRule.D9997_SPECIAL_NEEDS,
            "D9997 is case management for a patient with special health care needs; this "
            "patient is not recorded as having them",
            activity,
        )
    ]


CODE_RULES: Mapping[str, Callable[[CoordinationActivity], list[RuleViolation]]] = MappingProxyType(
    {
        "D9991": check_d9991,
        "D9992": check_d9992,
        "D9993": check_d9993,
        "D9994": check_d9994,
        "D9997": check_d9997,
    }
)


# --- repetition and the payer ----------------------------------------------------------------


def check_repetition(
    activity: CoordinationActivity, history: Iterable[BilledCaseManagement]
) -> list[RuleViolation]:
    """A new date of service and new substantial activity for each repeated billing."""
    code = activity.code
    mine = [h for h in history if h.patient_id == activity.patient_id]
    out: list[RuleViolation] = []
    if any(activity.activity_id in h.activity_ids for h in mine):
        out.append(
            _v(
                CaseManagementRule.NEW_ACTIVITY,
                f"activity {activity.activity_id} was billed before; it cannot be billed again",
                activity,
            )
        )
    same_code = [h for h in mine if h.code == code]
    if any(h.date_of_service == activity.date for h in same_code):
        out.append(
            _v(
                CaseManagementRule.NEW_DATE,
                f"{code} was already billed for this patient on {activity.date.isoformat()}: a "
                "repeated billing needs a new date of service",
                activity,
            )
        )
    described = _normal(activity.what_was_done)
    if described and any(described == _normal(text) for h in same_code for text in h.what_was_done):
        out.append(
            _v(
                CaseManagementRule.NEW_ACTIVITY,
                f"the same work was billed before as {code} for this patient: a repeated "
                "billing needs new substantial activity",
                activity,
            )
        )
    return out


def check_profile(activity: CoordinationActivity, profile: PayerProfile) -> list[RuleViolation]:
    code = activity.code
    if profile.bills_case_management(code):
        return []
    if not profile.bills_case_management_codes:
        why = f"payer profile {profile.name!r} does not bill case-management codes"
    else:
        why = f"payer profile {profile.name!r} does not use {code}"
    return [_v(CaseManagementRule.BILLED_BY_PAYER, f"{why}; the work stays documented", activity)]


def check_activity(
    activity: CoordinationActivity,
    history: Iterable[BilledCaseManagement] = (),
    profile: PayerProfile = DEFAULT_PROFILE,
) -> list[RuleViolation]:
    """Every reason ``activity`` cannot be billed (empty when it can)."""
    return [
        *check_profile(activity, profile),
        *check_documentation(activity),
        *CODE_RULES[activity.code](activity),
        *check_repetition(activity, history),
    ]


def propose_case_management_lines(
    activities: Sequence[CoordinationActivity],
    history: Sequence[BilledCaseManagement] = (),
    profile: PayerProfile = DEFAULT_PROFILE,
) -> tuple[list[ClaimLine], list[RuleViolation]]:
    """Claim lines for the billable activities, and the reasons the others are not billed.

    One line per patient, code, day and performer (quantity 1), on the person who did the
    work: a dentist's own coordination time is a line of its own, never merged into the
    coordinator's. At the profile's case-management place of service, on a ``coordination``
    encounter whose id is the first of those activities' id. Activities are taken in date
    order; an activity billed earlier in the same call counts as history for later days.
    """
    lines: list[ClaimLine] = []
    violations: list[RuleViolation] = []
    billed_here: list[BilledCaseManagement] = []
    groups: dict[tuple[str, str, dt.date, str], list[CoordinationActivity]] = {}
    for activity in sorted(activities, key=lambda a: a.date):
        that_day = (activity.patient_id, activity.code, activity.date)
        performer = activity.performed_by.user_id or activity.performed_by.npi or \
            activity.performed_by.name
        key = (*that_day, performer)
        # earlier days of this call count as history; the same day's activities share lines
        earlier = [b for b in billed_here if (b.patient_id, b.code, b.date_of_service) != that_day]
        problems = check_activity(activity, [*history, *earlier], profile)
        if problems:
            violations.extend(problems)
            continue
        groups.setdefault(key, []).append(activity)
        billed_here.append(
            BilledCaseManagement(
                patient_id=activity.patient_id,
                code=activity.code,
                date_of_service=activity.date,
                activity_ids=frozenset({activity.activity_id}),
                what_was_done=(activity.what_was_done,),
            )
        )
    for (_patient, code, day, _performer), group in groups.items():
        first = group[0]
        lines.append(
            ClaimLine(
                code=code,
                provider=first.performed_by,
                date_of_service=day,
                tooth=None,
                surfaces=None,
                quantity=1,
                place_of_service=profile.case_management_place_of_service,
                encounter=Encounter(EncounterType.COORDINATION, first.activity_id),
            )
        )
    return lines, violations


def minutes_by_code(activities: Iterable[CoordinationActivity]) -> dict[str, int]:
    """Total documented minutes per code (for the D9997/D9992 documentation)."""
    totals: dict[str, int] = {}
    for activity in activities:
        if activity.minutes > 0:
            totals[activity.code] = totals.get(activity.code, 0) + activity.minutes
    return totals
