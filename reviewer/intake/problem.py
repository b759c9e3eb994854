"""The case's problem status (new / established / post-op check): the patient answers it at
intake (questionnaire ``problem``), the reviewing dentist may correct it while the case is in
review. It picks the evaluation code the billing proposal makes (D0140 / D0170 / D0171)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.cases.state import CaseAction, transition
from reviewer.errors import Forbidden, Invalid
from reviewer.queue.claims import NotLicensed, held_case
from reviewer.queue.scope import review_scope
from reviewer.vocabulary import ProblemStatus
from storage.audit import AuditContext, record_event
from storage.models import Case, Role

__all__ = ["PROBLEM_LABELS", "correct_problem"]

PROBLEM_LABELS = {
    ProblemStatus.NEW: "New problem (D0140)",
    ProblemStatus.ESTABLISHED: "Established problem, re-evaluated (D0170)",
    ProblemStatus.POST_OP_CHECK: "Post-operative check (D0171)",
}
"""How the dentist's case page names each status, with the code it leads to."""


def _status(value: str | None) -> ProblemStatus:
    text = (value or "").strip().lower()
    if text not in set(ProblemStatus):
        raise Invalid("The problem is new, established or post_op_check.",
                      code="invalid_problem")
    return ProblemStatus(text)


async def correct_problem(
    db: AsyncSession, actor: Actor, ctx: AuditContext, case_id: uuid.UUID, value: str | None,
    *, now: datetime,
) -> Case:
    """Set the case's problem status: only the dentist who holds the case, in review, licensed
    where the patient is (404 / 409 ``not_claimant`` / 409 ``invalid_transition`` / 403).
    Audited as ``case.problem_corrected`` with the old and new status (no PHI)."""
    if actor.role != Role.DENTIST:
        raise Forbidden("Only the reviewing dentist corrects the problem status.")
    case = await held_case(db, actor, case_id)
    transition(case.status, CaseAction.EDIT_EVALUATION)
    if not (await review_scope(db, actor, now)).covers(case):
        raise NotLicensed("You hold no current license where this patient is located.")
    status = _status(value)
    before = case.problem
    if before != status.value:
        case.problem = status.value
        await db.flush()
        await record_event(
            db, "case.problem_corrected", ctx, organization_id=case.organization_id,
            subject_type="case", subject_id=case.id,
            details={"from": before, "to": status.value},
        )
    return case
