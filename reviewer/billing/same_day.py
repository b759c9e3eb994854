"""Once per patient per date of service, across encounters.

A payer pays one teledentistry code (D9995 or D9996) per patient per date, and one evaluation
of a kind by a provider per date, however many cases and live sessions there were that day.
:func:`same_day_problems` finds, for one encounter, the lines another encounter of the same
patient already claims on the same date: each is a blocking problem naming the code and the
other encounter, until billing drops the line or records an override with a reason
(:func:`reviewer.billing.lines.override_same_day`, audited).

Which of two encounters is "the second": one already ready or billed comes first; otherwise
the one whose billing row was stored first (the earlier signature). An encounter with nothing
to bill claims nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.coding.catalog import EVALUATION_CODES, TELEDENTISTRY_CODES
from reviewer.coding.rules import ClaimLine, Rule, RuleViolation, Severity
from storage.models import Case, EncounterBilling, LiveSession

SAME_DAY_RULES = frozenset({str(Rule.TELEDENTISTRY_ONCE_PER_DAY),
                            str(Rule.EVALUATION_ONCE_PER_DAY)})
_SETTLED = ("ready", "billed")


@dataclass(frozen=True)
class _Other:
    billing: EncounterBilling
    label: str
    lines: list[ClaimLine]


def _label(billing: EncounterBilling) -> str:
    if billing.case_id is not None:
        return f"case review {billing.case_id}"
    return f"live session {billing.live_session_id}"


def _comes_first(other: EncounterBilling, this: EncounterBilling) -> bool:
    if (other.status in _SETTLED) != (this.status in _SETTLED):
        return other.status in _SETTLED
    if this.created_at is None or this.id is None:  # not stored yet: the newest
        return True
    return (other.created_at, str(other.id)) < (this.created_at, str(this.id))


async def _others(
    db: AsyncSession, billing: EncounterBilling, patient_id: uuid.UUID
) -> list[_Other]:
    rows = (
        await db.scalars(
            select(EncounterBilling)
            .outerjoin(Case, Case.id == EncounterBilling.case_id)
            .outerjoin(LiveSession, LiveSession.id == EncounterBilling.live_session_id)
            .where(
                EncounterBilling.organization_id == billing.organization_id,
                or_(Case.patient_id == patient_id, LiveSession.patient_id == patient_id),
                EncounterBilling.status != "nothing_to_bill",
            )
        )
    ).all()
    return [
        _Other(row, _label(row), [ClaimLine.from_dict(r) for r in row.lines])
        for row in rows
        if row.id != billing.id and _comes_first(row, billing)
    ]


def _clash(line: ClaimLine, other: ClaimLine) -> Rule | None:
    if line.date_of_service != other.date_of_service:
        return None
    if line.code in TELEDENTISTRY_CODES and other.code in TELEDENTISTRY_CODES:
        return Rule.TELEDENTISTRY_ONCE_PER_DAY
    if (
        line.code in EVALUATION_CODES
        and line.code == other.code
        and line.provider.same_person(other.provider)
    ):
        return Rule.EVALUATION_ONCE_PER_DAY
    return None


def _override(overrides: Sequence[Mapping[str, Any]], rule: Rule) -> Mapping[str, Any] | None:
    return next((o for o in overrides if o.get("rule") == str(rule)), None)


async def same_day_problems(
    db: AsyncSession, billing: EncounterBilling, patient_id: uuid.UUID,
    lines: Sequence[ClaimLine],
) -> list[RuleViolation]:
    """The lines of this encounter that another encounter of the patient claimed first on the
    same date; an override recorded for the rule turns its problem into a warning."""
    candidates = [(i, line) for i, line in enumerate(lines)
                  if line.code in TELEDENTISTRY_CODES | EVALUATION_CODES]
    if not candidates:
        return []
    out: list[RuleViolation] = []
    for other in await _others(db, billing, patient_id):
        for index, line in candidates:
            for theirs in other.lines:
                rule = _clash(line, theirs)
                if rule is None:
                    continue
                day = line.date_of_service.isoformat()
                message = (
                    f"{line.code} on {day}: {theirs.code} for this patient on that date is "
                    f"already claimed on {other.label} ({other.billing.status}); merge the "
                    "encounters, drop this line, or record an override with a reason"
                    if rule is Rule.TELEDENTISTRY_ONCE_PER_DAY else
                    f"{line.code} on {day}: {line.provider.name} already reports {theirs.code} "
                    f"for this patient on that date on {other.label} ({other.billing.status});"
                    " drop this line, or record an override with a reason"
                )
                override = _override(billing.overrides or [], rule)
                if override is not None:
                    message += f" — overridden: {override.get('reason', '')}"
                out.append(RuleViolation(
                    rule=str(rule), message=message, line_index=index,
                    severity=Severity.WARNING if override is not None else Severity.ERROR,
                ))
                break
    return out
