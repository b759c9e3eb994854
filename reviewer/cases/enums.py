"""The case vocabulary shared by the whole review engine: status, urgency, kind and site.

These are ``StrEnum``s so their values are the strings stored in the database and spoken by
the JSON API (``"in_review"``, ``"urgent"``, ``"post_op"``, ``"home"``). ``CaseKind`` is
defined with the rest of the shared vocabulary in :mod:`reviewer.vocabulary` and re-exported.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from reviewer.vocabulary import CaseKind

__all__ = ["URGENCY_RANK", "CaseKind", "CaseStatus", "OriginatingSite", "Urgency", "most_urgent"]


class CaseStatus(StrEnum):
    """Where a case is in its life (see ``reviewer.cases.state`` for the moves between them)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    NEEDS_INFO = "needs_info"
    REVIEWED = "reviewed"
    CLOSED = "closed"


class Urgency(StrEnum):
    """How soon a dentist must look. One enum everywhere in the portal.

    Compare with :attr:`rank` (higher is more pressing), never with ``<`` on the strings.
    """

    ROUTINE = "routine"
    SOON = "soon"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """0 for routine, 1 for soon, 2 for urgent: sort descending for the queue."""
        return URGENCY_RANK[self]

    @property
    def queue_rank(self) -> int:
        """What ``Case.urgency_rank`` stores: 0 urgent, 1 soon, 2 routine (ascending sort,
        so the queue index is scanned in one direction)."""
        return 2 - URGENCY_RANK[self]


URGENCY_RANK: dict[Urgency, int] = {Urgency.ROUTINE: 0, Urgency.SOON: 1, Urgency.URGENT: 2}


def most_urgent(urgencies: Iterable[Urgency], default: Urgency = Urgency.ROUTINE) -> Urgency:
    """The most pressing of ``urgencies`` (``default`` when there are none)."""
    best = default
    for urgency in urgencies:
        if urgency.rank > best.rank:
            best = urgency
    return best


class OriginatingSite(StrEnum):
    """Where the patient and the data were when the information was gathered.

    It is the originating site of the teledentistry record and decides the place of service.
    """

    HOME = "home"
    SCHOOL = "school"
    OFFICE = "office"
    OTHER = "other"
