"""Claim lines of one encounter: read them, edit them under the coding rules, and move them
through proposed → ready → billed (or nothing to bill). Written once for both encounter kinds
(:mod:`reviewer.billing.encounters`)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.billing.encounters import (
    EDITORS,
    BillingStatus,
    EncounterView,
    LinesRefused,
    kind_of,
    require,
    visible_view,
)
from reviewer.billing.facts import payer_profile_record_for
from reviewer.billing.packages import current_package, rebuild_after_commit
from reviewer.billing.payer_profiles import stamp
from reviewer.billing.providers import with_chosen_providers
from reviewer.billing.same_day import SAME_DAY_RULES, same_day_problems
from reviewer.cases.state import CaseAction, transition
from reviewer.coding.rules import (
    ClaimLine,
    EncounterType,
    InvalidClaimLine,
    Rule,
    RuleViolation,
    blocking,
    validate_lines,
)
from reviewer.errors import Conflict, Invalid, Unprocessable
from storage.audit import AuditContext, record_event


async def _viewed(
    db: AsyncSession, actor: Actor, ctx: AuditContext, kind: EncounterType,
    encounter_id: uuid.UUID,
) -> EncounterView:
    view = await visible_view(db, actor, kind, encounter_id)
    subject_type, subject_id = view.subject
    await record_event(
        db, "claim_lines.viewed", ctx, organization_id=view.billing.organization_id,
        subject_type=subject_type, subject_id=subject_id, details={"encounter": str(kind)},
    )
    return view


async def case_encounter(
    db: AsyncSession, actor: Actor, ctx: AuditContext, case_id: uuid.UUID
) -> EncounterView:
    """A signed case's billing: its lines (billing's edits, else the proposal) and packages."""
    return await _viewed(db, actor, ctx, EncounterType.ASYNCHRONOUS, case_id)


async def live_encounter(
    db: AsyncSession, actor: Actor, ctx: AuditContext, session_id: uuid.UUID
) -> EncounterView:
    return await _viewed(db, actor, ctx, EncounterType.SYNCHRONOUS, session_id)


async def _audit(db: AsyncSession, ctx: AuditContext, view: EncounterView, action: str,
                 details: dict[str, Any] | None = None) -> None:
    subject_type, subject_id = view.subject
    await record_event(
        db, action, ctx, organization_id=view.billing.organization_id,
        subject_type=subject_type, subject_id=subject_id, details=details,
    )
    await db.flush()


async def _editable(
    db: AsyncSession, actor: Actor, kind: EncounterType, encounter_id: uuid.UUID,
    states: Sequence[str], refusal: str, *, code: str = "billing_state",
) -> EncounterView:
    """The start of every change: the front desk, the encounter in reach (its billing row
    stored), in one of ``states`` — else Conflict ``code`` with ``refusal`` filled in."""
    require(actor, EDITORS)
    view = await visible_view(db, actor, kind, encounter_id, store=True)
    status = view.billing.status
    if status not in states:
        raise Conflict(refusal.format(status=status, spoken=status.replace("_", " ")), code=code)
    return view


class ProviderNotSigner(LinesRefused):
    """A dentist's line (evaluation, interpretation, D9995/D9996) put on someone other than
    the dentist who signed."""

    code = "provider_not_signer"


class CorrectionReasonRequired(Unprocessable):
    code = "correction_reason_required"


class SessionUnsigned(Unprocessable):
    """A live session is billed only once the dentist who held it signed its record."""

    code = "session_unsigned"


async def update_lines(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    kind: EncounterType,
    encounter_id: uuid.UUID,
    rows: Sequence[Mapping[str, Any]],
    reason: str | None = None,
) -> EncounterView:
    """Replace an encounter's claim lines with billing's edit, if the coding rules allow it.

    Every line's provider is a provider of the organization chosen by id
    (:mod:`reviewer.billing.providers`: 422 ``provider_unknown``); the dentist's lines stay on
    the dentist who signed (422 ``provider_not_signer``). The encounter is signed, so a change
    is a correction: it needs a ``reason`` (422 ``correction_reason_required``), is audited
    with the lines before and after, and is kept on the billing row for the next package's
    "claim lines corrected" section. Raises :class:`LinesRefused` (422) naming every rule
    broken; warnings do not refuse. Editing un-readies the encounter (it goes back to
    ``proposed``); the package with the new lines is built after the commit.
    """
    view = await _editable(
        db, actor, kind, encounter_id, BillingStatus.OPEN,
        "These claim lines are {spoken}: they no longer change.", code="billing_closed",
    )
    rows = await with_chosen_providers(db, view.billing.organization_id, rows)
    lines: list[ClaimLine] = []
    for index, row in enumerate(rows):
        try:
            line = ClaimLine.from_dict({**row, "fee": None})
            lines.append(line.with_fee(view.fees.fee(line.code)))
        except InvalidClaimLine as exc:
            raise InvalidClaimLine(f"line {index + 1}: {exc.message}") from None
    foreign = [
        RuleViolation(
            rule="line_encounter",
            message=(
                f"line {i + 1} belongs to {line.encounter.type} encounter {line.encounter.id}; "
                f"these are the lines of {view.encounter.type} encounter {view.encounter.id} "
                "(an asynchronous review and a live session are billed apart)"
            ),
            line_index=i,
        )
        for i, line in enumerate(lines)
        if line.encounter != view.encounter
    ]
    violations = foreign + validate_lines(lines, view.context)
    refused = blocking(violations)
    not_signer = [v for v in refused if v.rule == Rule.PROVIDER_NOT_SIGNER]
    if not_signer:
        raise ProviderNotSigner(not_signer)
    if refused:
        raise LinesRefused(refused)
    before = [line.as_dict() for line in view.lines]
    after = [line.as_dict() for line in lines]
    if after == before:
        return view
    why = (reason or "").strip()
    if not why:
        raise CorrectionReasonRequired(
            "These lines belong to a signed encounter: say why they change (reason)."
        )
    if len(why) > 500:
        raise Invalid("Keep the reason under 500 characters.", code="invalid_reason")
    at = dt.datetime.now(dt.UTC)
    view.billing.corrections = [
        *(view.billing.corrections or []),
        {"at": at.isoformat(), "by_id": str(actor.user_id), "by": actor.email,
         "reason": why, "before": before, "after": after},
    ]
    view.billing.lines = after
    stamp(view.billing, await payer_profile_record_for(
        db, view.billing.organization_id, view.patient.payer_name))
    view.billing.status = BillingStatus.PROPOSED
    view.billing.ready_at = None
    view.billing.edited_by_id = actor.user_id
    view.lines = lines
    view.violations = violations + await same_day_problems(
        db, view.billing, view.patient.id, lines
    )
    await _audit(db, ctx, view, "claim_lines.edited", {
        "codes": [line.code for line in lines], "reason": why, "before": before, "after": after,
    })
    rebuild_after_commit(db, kind, encounter_id, actor)
    return view


async def override_same_day(
    db: AsyncSession, actor: Actor, ctx: AuditContext, kind: EncounterType,
    encounter_id: uuid.UUID, rule: str, reason: str,
) -> EncounterView:
    """Record billing's reason to bill a same-day line anyway (audited); the problem stays on
    the encounter as a warning that quotes the reason."""
    if rule not in SAME_DAY_RULES:
        raise Invalid(f"Only {', '.join(sorted(SAME_DAY_RULES))} can be overridden.",
                      code="invalid_override")
    why = reason.strip()
    if not why or len(why) > 500:
        raise Invalid("Say why (up to 500 characters).", code="invalid_reason")
    view = await _editable(
        db, actor, kind, encounter_id, BillingStatus.OPEN,
        "These claim lines are {spoken}: they no longer change.", code="billing_closed",
    )
    if not any(v.rule == rule for v in view.violations):
        raise Conflict(f"This encounter has no {rule} problem to override.",
                       code="nothing_to_override")
    view.billing.overrides = [
        *[o for o in (view.billing.overrides or []) if o.get("rule") != rule],
        {"rule": rule, "reason": why, "at": dt.datetime.now(dt.UTC).isoformat(),
         "by_id": str(actor.user_id), "by": actor.email},
    ]
    await _audit(db, ctx, view, "claim_lines.override", {"rule": rule, "reason": why})
    return await visible_view(db, actor, kind, encounter_id)


async def mark_ready(
    db: AsyncSession, actor: Actor, ctx: AuditContext, kind: EncounterType,
    encounter_id: uuid.UUID,
) -> EncounterView:
    """proposed → ready, when no coding rule is broken (and a live session's record is
    signed: 422 ``session_unsigned``; signing needs it documented)."""
    view = await _editable(
        db, actor, kind, encounter_id, (BillingStatus.PROPOSED,),
        "Only proposed lines can be marked ready; these are {status}.",
    )
    if view.live_facts is not None and view.live_facts.session.signed_at is None:
        raise SessionUnsigned(
            "The dentist who held this live session has not signed its record yet: it is "
            "billed once the session is documented and signed."
        )
    if view.blocking:
        raise LinesRefused(view.blocking)
    view.billing.status = BillingStatus.READY
    view.billing.ready_at = dt.datetime.now(dt.UTC)
    view.billing.lines = [line.as_dict() for line in view.lines]  # the fees billed, kept
    await _audit(db, ctx, view, "encounter_billing.ready")
    return view


def _close_case(view: EncounterView) -> None:
    if view.case_facts is not None:
        case = view.case_facts.case
        case.status = transition(case.status, CaseAction.CLOSE)
        case.closed_at = dt.datetime.now(dt.UTC)


async def mark_billed(
    db: AsyncSession, actor: Actor, ctx: AuditContext, kind: EncounterType,
    encounter_id: uuid.UUID,
) -> EncounterView:
    """ready → billed; a billed case review closes its case. The encounter keeps the package
    version and attachment control number it was billed with; while the current package is
    still being built, billing waits (409 ``package_not_ready``)."""
    view = await _editable(
        db, actor, kind, encounter_id, (BillingStatus.READY,),
        "Mark the lines ready to bill first; they are {status}.",
    )
    package = current_package(view, kind_of(kind))
    if package is None:
        raise Conflict(
            "The documents for these lines are still being prepared; bill in a few seconds.",
            code="package_not_ready",
        )
    _close_case(view)
    view.billing.status = BillingStatus.BILLED
    view.billing.billed_at = dt.datetime.now(dt.UTC)
    view.billing.billed_package_version = package.version
    view.billing.billed_attachment_control_number = package.attachment_control_number
    await _audit(db, ctx, view, "encounter_billing.billed", {
        "package_version": package.version,
        "attachment_control_number": package.attachment_control_number,
    })
    return view


async def mark_nothing_to_bill(
    db: AsyncSession, actor: Actor, ctx: AuditContext, kind: EncounterType,
    encounter_id: uuid.UUID,
) -> EncounterView:
    """The front desk closes a reviewed case (or a live session) with nothing to bill."""
    view = await _editable(
        db, actor, kind, encounter_id, BillingStatus.OPEN, "These lines are already {spoken}."
    )
    _close_case(view)
    view.billing.status = BillingStatus.NOTHING_TO_BILL
    await _audit(db, ctx, view, "encounter_billing.nothing_to_bill")
    return view
