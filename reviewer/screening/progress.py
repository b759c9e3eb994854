"""Where each child of a screening event stands, and the class's progress. Pure.

The stored ``ScreeningEnrollment.status`` says what the hygienist did (pending, screened,
not_screened, submitted); once a case exists its status says the rest, so a case sent or
reviewed through the API shows here too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from reviewer.cases.enums import CaseStatus


class ChildState(StrEnum):
    PENDING = "pending"
    NOT_SCREENED = "not_screened"
    SCREENED = "screened"
    """Findings saved, case still a draft (photos may follow)."""
    SUBMITTED = "submitted"
    """In the dentists' queue (or being reviewed)."""
    NEEDS_INFO = "needs_info"
    """The dentist asked for more (a retake): back to the hygienist."""
    REVIEWED = "reviewed"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    ChildState.PENDING: "Pending",
    ChildState.NOT_SCREENED: "Not screened",
    ChildState.SCREENED: "Screened",
    ChildState.SUBMITTED: "Submitted",
    ChildState.NEEDS_INFO: "Needs info",
    ChildState.REVIEWED: "Reviewed",
}

_BY_CASE = {
    CaseStatus.DRAFT: ChildState.SCREENED,
    CaseStatus.SUBMITTED: ChildState.SUBMITTED,
    CaseStatus.IN_REVIEW: ChildState.SUBMITTED,
    CaseStatus.NEEDS_INFO: ChildState.NEEDS_INFO,
    CaseStatus.REVIEWED: ChildState.REVIEWED,
    CaseStatus.CLOSED: ChildState.REVIEWED,
}


def child_state(enrollment_status: str, case_status: str | None) -> ChildState:
    """One child's state at a glance."""
    if enrollment_status == "not_screened":
        return ChildState.NOT_SCREENED
    if case_status is not None:
        return _BY_CASE[CaseStatus(case_status)]
    return ChildState.PENDING


@dataclass(frozen=True, slots=True)
class Progress:
    total: int
    pending: int
    not_screened: int
    screened: int
    """Children with findings recorded (screened, submitted, needs info or reviewed)."""
    submitted: int
    """Cases sent to the dentists (submitted, needs info or reviewed)."""
    reviewed: int

    @property
    def done(self) -> int:
        """Children nobody needs to see again today: screened or marked not screened."""
        return self.screened + self.not_screened

    @property
    def percent_done(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def progress(states: Iterable[ChildState]) -> Progress:
    counts = Counter(states)
    sent = counts[ChildState.SUBMITTED] + counts[ChildState.NEEDS_INFO] + counts[
        ChildState.REVIEWED
    ]
    return Progress(
        total=sum(counts.values()),
        pending=counts[ChildState.PENDING],
        not_screened=counts[ChildState.NOT_SCREENED],
        screened=counts[ChildState.SCREENED] + sent,
        submitted=sent,
        reviewed=counts[ChildState.REVIEWED],
    )
