"""One encounter model for billing: a signed case review (asynchronous, D9996) or a live
session (synchronous, D9995), behind one :class:`EncounterKind` protocol with two adapters.

Everything that used to be written twice — who may see the encounter, how its facts load,
the billing row it gets, how its lines are validated, which document it renders — lives in
the adapter; the views, edits, packages and downloads are written once against the protocol.

Reads never write: an encounter whose billing row does not exist yet (signed before billing
existed, or whose proposal failed) is shown with its proposal in a row that is not added to
the session; the row is stored when the encounter is signed (:func:`propose_case_lines`), when
a live session is recorded, when billing first edits or marks it, or by the job runner's
sweep.
"""

from __future__ import annotations

import abc
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.billing.facts import (
    CaseFacts,
    LiveFacts,
    load_case_facts,
    load_live_facts,
    payer_profile_record_for,
)
from reviewer.billing.fees import FeeTable, fee_table
from reviewer.billing.payer_profiles import stamp
from reviewer.billing.same_day import same_day_problems
from reviewer.billing.status import BillingStatus
from reviewer.cases.enums import CaseStatus
from reviewer.coding.rules import (
    ClaimLine,
    Encounter,
    EncounterType,
    RuleViolation,
    Severity,
    ValidationContext,
    blocking,
    context_for_async,
    context_for_live,
    validate_lines,
)
from reviewer.errors import Forbidden, NotFound, Unprocessable
from storage.blobs import BlobStore
from storage.models import (
    Case,
    ClaimPackage,
    EncounterBilling,
    Evaluation,
    LiveSession,
    Patient,
    Role,
)

READERS = frozenset({Role.DENTIST, Role.FRONT_DESK})
EDITORS = frozenset({Role.FRONT_DESK})


class LinesRefused(Unprocessable):
    """Edited lines that break a coding rule; ``violations`` name each rule and why."""

    code = "claim_lines_refused"

    def __init__(self, violations: Sequence[RuleViolation]) -> None:
        self.violations = list(violations)
        first = "; ".join(f"{v.rule}: {v.message}" for v in self.violations[:3])
        more = f" (and {len(self.violations) - 3} more)" if len(self.violations) > 3 else ""
        super().__init__(f"The claim lines break the coding rules — {first}{more}.")


def require(actor: Actor, roles: frozenset[Role]) -> None:
    if actor.role not in roles:
        raise Forbidden("Your role cannot do this.")


def teledentistry_code(kind: EncounterType | str) -> str:
    return "D9996" if kind == EncounterType.ASYNCHRONOUS else "D9995"


Facts = CaseFacts | LiveFacts


@dataclass
class EncounterView:
    """One encounter as billing sees it."""

    encounter: Encounter
    billing: EncounterBilling
    lines: list[ClaimLine]
    violations: list[RuleViolation]
    context: ValidationContext
    case_facts: CaseFacts | None = None
    live_facts: LiveFacts | None = None
    packages: list[ClaimPackage] = field(default_factory=list)
    fees: FeeTable = field(default_factory=lambda: FeeTable({}, {}))

    @property
    def total_cents(self) -> int:
        return sum(line.fee_cents or 0 for line in self.lines)

    @property
    def missing_fees(self) -> list[str]:
        """Codes of lines with no fee in the schedule."""
        return [line.code for line in self.lines if line.fee_cents is None]

    @property
    def teledentistry_code(self) -> str:
        return teledentistry_code(self.encounter.type)

    @property
    def label(self) -> str:
        if self.encounter.type is EncounterType.ASYNCHRONOUS:
            return "Asynchronous review (store and forward), D9996"
        return "Live session (synchronous), D9995"

    @property
    def facts(self) -> Facts:
        facts = self.case_facts or self.live_facts
        assert facts is not None
        return facts

    @property
    def patient(self) -> Patient:
        return self.facts.patient

    @property
    def subject(self) -> tuple[str, uuid.UUID]:
        """The audit subject: ``("case", id)`` or ``("live_session", id)``."""
        return kind_of(self.encounter.type).subject_type, uuid.UUID(self.encounter.id)

    @property
    def blocking(self) -> list[RuleViolation]:
        return blocking(self.violations)

    @property
    def warnings(self) -> list[RuleViolation]:
        return [v for v in self.violations if v.severity is Severity.WARNING]


# --- the protocol and its two adapters -------------------------------------------------------


class EncounterKind(abc.ABC):
    """What differs between a case review and a live session, and nothing else."""

    encounter_type: ClassVar[EncounterType]
    subject_type: ClassVar[str]
    """The audit subject type: ``case`` or ``live_session``."""
    model: ClassVar[type[Any]]

    @property
    @abc.abstractmethod
    def billing_column(self) -> Any:
        """``EncounterBilling``'s column that points at this kind of encounter."""

    @property
    @abc.abstractmethod
    def package_column(self) -> Any:
        """``ClaimPackage``'s column that points at this kind of encounter."""

    not_found: ClassVar[str]

    @abc.abstractmethod
    def scoped(self, encounter_id: uuid.UUID, actor: Actor) -> Select[Any]:
        """The query for the subject within ``actor``'s organizations (and, for a dentist,
        their own encounters)."""

    async def visible(self, db: AsyncSession, actor: Actor, encounter_id: uuid.UUID) -> Any:
        """The subject row (Case or LiveSession) if ``actor`` may read it, else NotFound."""
        require(actor, READERS)
        found = await db.scalar(self.scoped(encounter_id, actor)) if actor.organization_ids \
            else None
        if found is None:
            raise NotFound(self.not_found)
        return found

    @abc.abstractmethod
    async def facts(
        self, db: AsyncSession, subject: Any, lines: Sequence[ClaimLine] | None,
        blobs: BlobStore | None = None,
    ) -> Facts:
        """Everything billing and the documents need; ``blobs`` loads the pictures."""

    @abc.abstractmethod
    def context(self, facts: Any) -> ValidationContext:
        """The coding rules' context for this encounter's lines."""

    @abc.abstractmethod
    def new_billing(self, subject: Any, proposed: Sequence[ClaimLine]) -> EncounterBilling:
        """The billing row an encounter starts with (not added to the session)."""

    @abc.abstractmethod
    def signed_at(self, facts: Any) -> dt.datetime:
        """The last signature a package must be newer than."""


class CaseKind(EncounterKind):
    """A signed case review: visible to its signing dentist and its organization's desk."""

    encounter_type: ClassVar[EncounterType] = EncounterType.ASYNCHRONOUS
    subject_type: ClassVar[str] = "case"
    model = Case

    @property
    def billing_column(self) -> Any:
        return EncounterBilling.case_id

    @property
    def package_column(self) -> Any:
        return ClaimPackage.case_id

    not_found = "No such signed case."

    def scoped(self, encounter_id: uuid.UUID, actor: Actor) -> Select[Any]:
        query = (
            select(Case)
            .join(Evaluation, Evaluation.case_id == Case.id)
            .where(
                Case.id == encounter_id,
                Case.organization_id.in_(actor.organization_ids),
                Evaluation.status == "signed",
            )
        )
        if actor.role == Role.DENTIST:
            query = query.where(Evaluation.dentist_id == actor.user_id)
        return query

    async def facts(
        self, db: AsyncSession, subject: Case, lines: Sequence[ClaimLine] | None,
        blobs: BlobStore | None = None,
    ) -> CaseFacts:
        return await load_case_facts(db, subject, blobs=blobs, lines=lines)

    def context(self, facts: CaseFacts) -> ValidationContext:
        return context_for_async(facts.facts, facts.profile, facts.patient_age)

    def new_billing(self, subject: Case, proposed: Sequence[ClaimLine]) -> EncounterBilling:
        # A case closed before billing existed counts as billed; otherwise proposed.
        status = (BillingStatus.BILLED if subject.status == CaseStatus.CLOSED
                  else BillingStatus.PROPOSED)
        return EncounterBilling(
            organization_id=subject.organization_id, case_id=subject.id,
            lines=[line.as_dict() for line in proposed], status=status,
        )

    def signed_at(self, facts: CaseFacts) -> dt.datetime:
        return facts.latest_signature


class LiveKind(EncounterKind):
    """A live session: visible to the dentist who held it and its organization's desk."""

    encounter_type: ClassVar[EncounterType] = EncounterType.SYNCHRONOUS
    subject_type: ClassVar[str] = "live_session"
    model = LiveSession

    @property
    def billing_column(self) -> Any:
        return EncounterBilling.live_session_id

    @property
    def package_column(self) -> Any:
        return ClaimPackage.live_session_id

    not_found = "No such live session."

    def scoped(self, encounter_id: uuid.UUID, actor: Actor) -> Select[Any]:
        query = select(LiveSession).where(
            LiveSession.id == encounter_id,
            LiveSession.organization_id.in_(actor.organization_ids),
        )
        if actor.role == Role.DENTIST:
            query = query.where(LiveSession.dentist_id == actor.user_id)
        return query

    async def facts(
        self, db: AsyncSession, subject: LiveSession, lines: Sequence[ClaimLine] | None,
        blobs: BlobStore | None = None,
    ) -> LiveFacts:
        return await load_live_facts(db, subject, lines=lines)

    def context(self, facts: LiveFacts) -> ValidationContext:
        return context_for_live(facts.facts, facts.profile, facts.patient_age)

    def new_billing(self, subject: LiveSession, proposed: Sequence[ClaimLine]) -> EncounterBilling:
        return EncounterBilling(
            organization_id=subject.organization_id, live_session_id=subject.id,
            lines=[line.as_dict() for line in proposed], status=BillingStatus.PROPOSED,
        )

    def signed_at(self, facts: LiveFacts) -> dt.datetime:
        # signing the session record makes the unsigned package stale
        return facts.session.signed_at or facts.session.created_at


CASES = CaseKind()
LIVE_SESSIONS = LiveKind()
_KINDS: Mapping[str, EncounterKind] = {
    str(EncounterType.ASYNCHRONOUS): CASES, str(EncounterType.SYNCHRONOUS): LIVE_SESSIONS,
}


def kind_of(kind: EncounterType | str) -> EncounterKind:
    try:
        return _KINDS[str(kind)]
    except KeyError:
        raise NotFound("No such encounter.") from None


# --- views -------------------------------------------------------------------------------------


async def packages_of(
    db: AsyncSession, kind: EncounterKind, encounter_id: uuid.UUID
) -> list[ClaimPackage]:
    """The encounter's packages, newest version first."""
    return list(
        (
            await db.scalars(
                select(ClaimPackage)
                .where(kind.package_column == encounter_id)
                .order_by(ClaimPackage.version.desc())
            )
        ).all()
    )


async def load_view(
    db: AsyncSession, kind: EncounterKind, subject: Any, *, store: bool = False,
    blobs: BlobStore | None = None,
) -> EncounterView:
    """The encounter's billing view. ``store``: add a missing billing row to the session (write
    paths only); otherwise a missing row is shown, unsaved, with the proposal."""
    billing = await db.scalar(
        select(EncounterBilling).where(kind.billing_column == subject.id)
    )
    stored = [ClaimLine.from_dict(r) for r in billing.lines] if billing is not None else None
    facts = await kind.facts(db, subject, stored, blobs)
    profile = await payer_profile_record_for(db, subject.organization_id, facts.patient.payer_name)
    if billing is None:
        billing = kind.new_billing(subject, facts.proposed)
        stamp(billing, profile)
        if store:
            db.add(billing)
            await db.flush()
    fees = await fee_table(db, subject.organization_id, profile.id if profile else None)
    # A stored line keeps the fee it was stored with; a line not stored yet shows today's.
    lines = [line if line.fee_cents is not None else line.with_fee(fees.fee(line.code))
             for line in facts.record.lines]
    context = kind.context(facts)
    same_day = await same_day_problems(db, billing, facts.patient.id, lines)
    return EncounterView(
        encounter=Encounter(kind.encounter_type, str(subject.id)),
        billing=billing,
        lines=lines,
        violations=validate_lines(lines, context) + same_day + _coverage(facts.patient),
        context=context,
        case_facts=facts if isinstance(facts, CaseFacts) else None,
        live_facts=facts if isinstance(facts, LiveFacts) else None,
        packages=await packages_of(db, kind, subject.id),
        fees=fees,
    )


def _coverage(patient: Patient) -> list[RuleViolation]:
    """A warning (not a refusal: a self-paying patient is billed too) when the patient has no
    payer or no member id on file."""
    missing = [label for label, value in (("payer", patient.payer_name),
                                          ("member id", patient.member_id)) if not value]
    if not missing:
        return []
    return [RuleViolation(
        rule="coverage_missing", severity=Severity.WARNING,
        message=(f"The patient has no {' and no '.join(missing)} on file: add them on the "
                 "patient's record before billing a payer, or bill the patient"),
    )]


async def visible_view(
    db: AsyncSession, actor: Actor, kind: EncounterType | str, encounter_id: uuid.UUID, *,
    store: bool = False,
) -> EncounterView:
    adapter = kind_of(kind)
    subject = await adapter.visible(db, actor, encounter_id)
    return await load_view(db, adapter, subject, store=store)


async def propose_case_lines(db: AsyncSession, case: Case) -> EncounterBilling | None:
    """Store the proposed claim lines of a case whose evaluation was just signed (called in the
    signing transaction; database work only). Idempotent: an existing row is kept."""
    existing = await db.scalar(select(EncounterBilling).where(EncounterBilling.case_id == case.id))
    if existing is not None:
        return existing
    facts = await CASES.facts(db, case, None)
    billing = CASES.new_billing(case, facts.proposed)
    stamp(billing, await payer_profile_record_for(db, case.organization_id,
                                                  facts.patient.payer_name))
    db.add(billing)
    await db.flush()
    return billing


def lines_from_rows(rows: Sequence[Mapping[str, Any]]) -> list[ClaimLine]:
    return [ClaimLine.from_dict(r) for r in rows]
