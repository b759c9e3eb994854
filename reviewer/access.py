"""Object-level access: which cases and patients an actor may reach.

Queries are scoped at the source: every service that loads a case or patient for an actor
adds these conditions to its WHERE clause. Anything outside answers NotFound (404), never
403, so ids cannot be probed. The matrix is in docs/access.md.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import NotFound
from storage.models import Case, Patient, Role

STAFF_ORG_ROLES = frozenset({Role.FRONT_DESK, Role.COORDINATOR})


def case_visibility(actor: Actor) -> ColumnElement[bool]:
    """Cases the actor may read."""
    if actor.role == Role.PATIENT:
        return Case.patient_id.in_(actor.patient_ids) if actor.patient_ids else false()
    if actor.role == Role.HYGIENIST:
        return (Case.submitted_by_id == actor.user_id) & Case.organization_id.in_(
            actor.organization_ids
        )
    if actor.role in STAFF_ORG_ROLES or actor.role == Role.DENTIST:
        if not actor.organization_ids:
            return false()
        return Case.organization_id.in_(actor.organization_ids)
    return false()  # admin reads no patient data


def patient_visibility(actor: Actor) -> ColumnElement[bool]:
    """Patients the actor may find or read."""
    if actor.role == Role.PATIENT:
        return Patient.id.in_(actor.patient_ids) if actor.patient_ids else false()
    if actor.role in {Role.HYGIENIST, Role.DENTIST, Role.FRONT_DESK, Role.COORDINATOR}:
        return (
            Patient.organization_id.in_(actor.organization_ids)
            if actor.organization_ids
            else false()
        )
    return false()


def may_submit_for(actor: Actor) -> ColumnElement[bool]:
    """Patients for whom the actor may create cases and upload (patients: their own)."""
    if actor.role == Role.PATIENT:
        return Patient.id.in_(actor.patient_ids) if actor.patient_ids else false()
    if actor.role in {Role.HYGIENIST, Role.FRONT_DESK}:
        return Patient.organization_id.in_(actor.organization_ids)
    return false()


async def get_case(db: AsyncSession, actor: Actor, case_id: uuid.UUID) -> Case:
    case = await db.scalar(select(Case).where(Case.id == case_id, case_visibility(actor)))
    if case is None:
        raise NotFound("No such case.")
    return case


async def get_patient(db: AsyncSession, actor: Actor, patient_id: uuid.UUID) -> Patient:
    patient = await db.scalar(
        select(Patient).where(Patient.id == patient_id, patient_visibility(actor))
    )
    if patient is None:
        raise NotFound("No such patient.")
    return patient


__all__ = ["case_visibility", "get_case", "get_patient", "may_submit_for", "patient_visibility"]
