"""Billing's background jobs, run by the portal's job engine (``portal/jobs/``) with a
session and the blob store of their own.

* ``billing.build_package`` — build an encounter's current package (:func:`build_package_job`),
  queued after the commit of whatever made the previous version stale.
* the sweep (:func:`sweep`, at the runner's start and then every few minutes) — the work a lost
  job left undone: signed cases without billing rows get their proposal, encounters without a
  current package get one. Jobs survive nothing more than the process; the sweep is what
  makes that safe.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.billing.encounters import propose_case_lines
from reviewer.billing.packages import BUILD_JOB, build_current_package, rebuild_after_commit
from reviewer.coding.rules import EncounterType
from reviewer.errors import DomainError
from reviewer.intake.derive_job import DERIVE_JOB, derive_job
from reviewer.interop.archive import ARCHIVE_JOB
from reviewer.interop.dicomweb import archive_sweep, send_to_archive_job
from reviewer.notifications.reminders import queue_referral_reminders
from reviewer.notifications.sending import JOBS as NOTIFICATION_JOBS
from reviewer.notifications.sending import send_due
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.models import (
    Addendum,
    Case,
    ClaimPackage,
    EncounterBilling,
    Evaluation,
)

log = logging.getLogger("toothline.billing.jobs")

SWEEP_BATCH: Final = 50

Job = Callable[[AsyncSession, BlobStore, Mapping[str, str]], Awaitable[None]]


async def build_package_job(
    db: AsyncSession, blobs: BlobStore, payload: Mapping[str, str]
) -> None:
    """Build, then commit; a lost race (another process built this version) is no error."""
    actor_id = payload.get("actor_id")
    ctx = AuditContext(
        actor_id=uuid.UUID(actor_id) if actor_id else None,
        actor_role=payload.get("actor_role") or "system",
    )
    try:
        await build_current_package(
            db, blobs, payload["kind"], uuid.UUID(payload["encounter_id"]), ctx=ctx
        )
        await db.commit()
    except IntegrityError:
        await db.rollback()
        log.info("package of %s was built elsewhere", payload.get("encounter_id"))


JOBS: Mapping[str, Job] = {
    BUILD_JOB: build_package_job,
    ARCHIVE_JOB: send_to_archive_job,
    DERIVE_JOB: derive_job,  # an upload's views, when the engine is SAQ (docs/jobs.md)
    **NOTIFICATION_JOBS,
}


async def billing_on_signed(db: AsyncSession, case: Case, actor: Actor) -> None:
    """Called in the signing transaction: store the proposed claim lines (database work, no
    CPU) and queue package version 1 for after the commit. A proposal that fails is logged
    and left to the sweep: it never stops a signature."""
    try:
        await propose_case_lines(db, case)
    except (DomainError, ValueError, LookupError):
        log.exception("no claim-line proposal for case %s; the sweep retries", case.id)
        return
    rebuild_after_commit(db, EncounterType.ASYNCHRONOUS, case.id, actor)


async def _propose_missing(db: AsyncSession) -> int:
    """Signed cases without a billing row (signed before billing existed, or a failed
    proposal) get their proposed lines."""
    cases = (
        await db.scalars(
            select(Case)
            .join(Evaluation, Evaluation.case_id == Case.id)
            .outerjoin(EncounterBilling, EncounterBilling.case_id == Case.id)
            .where(Evaluation.status == "signed", EncounterBilling.id.is_(None))
            .order_by(Evaluation.signed_at)
            .limit(SWEEP_BATCH)
        )
    ).all()
    done = 0
    for case in cases:
        try:
            await propose_case_lines(db, case)
            done += 1
        except DomainError as exc:
            log.warning("no proposal for case %s: %s", case.id, exc.message)
    await db.commit()
    return done


async def stale_encounters(db: AsyncSession) -> list[tuple[EncounterType, uuid.UUID]]:
    """Encounters with no package, an edit or an addendum after their newest package:
    candidates (the build checks currency itself and builds nothing when current)."""
    newest = (
        select(
            func.max(ClaimPackage.created_at).label("built"),
            func.coalesce(ClaimPackage.case_id, ClaimPackage.live_session_id).label("encounter"),
        )
        .group_by(ClaimPackage.case_id, ClaimPackage.live_session_id)
        .subquery()
    )
    addendum = (
        select(Evaluation.case_id, func.max(Addendum.signed_at).label("signed"))
        .join(Addendum, Addendum.evaluation_id == Evaluation.id)
        .group_by(Evaluation.case_id)
        .subquery()
    )
    encounter = func.coalesce(EncounterBilling.case_id, EncounterBilling.live_session_id)
    rows = (
        await db.execute(
            select(EncounterBilling.case_id, EncounterBilling.live_session_id)
            .outerjoin(newest, newest.c.encounter == encounter)
            .outerjoin(addendum, addendum.c.case_id == EncounterBilling.case_id)
            .where(
                or_(
                    newest.c.built.is_(None),
                    # an edit (it puts the lines back to proposed) after the newest package
                    and_(EncounterBilling.updated_at > newest.c.built,
                         EncounterBilling.status == "proposed"),
                    addendum.c.signed > newest.c.built,
                )
            )
            .order_by(EncounterBilling.updated_at)
            .limit(SWEEP_BATCH)
        )
    ).all()
    return [
        (EncounterType.ASYNCHRONOUS, case_id) if case_id else
        (EncounterType.SYNCHRONOUS, session_id)
        for case_id, session_id in rows
    ]


async def sweep(db: AsyncSession, blobs: BlobStore) -> dict[str, int]:
    """One pass of the catch-up; each encounter in its own transaction."""
    proposed = await _propose_missing(db)
    checked = 0
    for kind, encounter_id in await stale_encounters(db):
        checked += 1
        try:
            await build_current_package(db, blobs, kind, encounter_id)
            await db.commit()
        except (DomainError, IntegrityError) as exc:
            await db.rollback()
            log.warning("no package for %s %s: %s", kind, encounter_id, exc)
    reminders = notified = 0
    try:  # notifications (docs/notifications.md): due reminders, then due (re)tries
        reminders = await queue_referral_reminders(db)
    except Exception:  # never keeps the retries below from running
        await db.rollback()
        log.exception("referral reminders not queued; the next sweep tries again")
    notified = await send_due(db)
    archived = await archive_sweep(db, blobs)  # DICOMweb sends to try again
    return {"proposed": proposed, "checked": checked, "reminders": reminders,
            "notified": notified, "archived": archived}
