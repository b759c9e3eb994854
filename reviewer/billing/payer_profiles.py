"""Payer profiles edited by an admin: listed, created and edited per organization, validated
by :class:`reviewer.coding.payer.PayerProfile` and versioned.

A profile starts at version 1; every edit that changes something is version + 1, and every
version's name and rules are kept (:class:`PayerProfileVersion`). The encounter's billing row
records the profile name and version its claim lines were coded under (:func:`stamp`). One
profile per organization is the default (the one a patient without a matching payer takes);
making a profile the default unmakes the others. Every change is audited (the rules are not
PHI).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.coding.payer import PayerProfile, ProfileError
from reviewer.errors import Conflict, Forbidden, NotFound
from storage.audit import AuditContext, record_event
from storage.models import EncounterBilling, PayerProfileRecord, Role
from storage.models.billing import PayerProfileVersion

PROFILE_ADMINS = frozenset({Role.ADMIN})


class PayerProfileNameTaken(Conflict):
    code = "payer_profile_name_taken"


@dataclass(frozen=True)
class ProfileInput:
    """What an admin sends: the payer's name (matched against the patient's payer), whether it
    is the organization's default, and the rules (``PayerProfile.as_dict()`` without
    ``name``; missing keys take the defaults)."""

    name: str
    is_default: bool
    rules: Mapping[str, Any]


def validated(data: ProfileInput) -> PayerProfile:
    """The profile ``data`` describes; raises :class:`ProfileError` (422
    ``invalid_payer_profile``, its ``problems`` listing each thing wrong)."""
    if "name" in data.rules:
        raise ProfileError("the name is given beside the rules, not inside them")
    return PayerProfile.from_dict({**data.rules, "name": data.name.strip()})


def rules_of(profile: PayerProfile) -> dict[str, Any]:
    rules = profile.as_dict()
    del rules["name"]
    return rules


def full_rules(record: PayerProfileRecord | PayerProfileVersion) -> dict[str, Any]:
    """A stored profile's (or version's) rules in full: the stored keys over the defaults."""
    return rules_of(PayerProfile.from_dict({**(record.rules or {}), "name": record.name}))


def _require_admin(actor: Actor, organization_id: uuid.UUID) -> None:
    if actor.role not in PROFILE_ADMINS:
        raise Forbidden("Only an administrator edits payer profiles.")
    if organization_id not in actor.organization_ids:
        raise NotFound("No such organization.")


async def list_profiles(
    db: AsyncSession, actor: Actor, organization_id: uuid.UUID
) -> list[PayerProfileRecord]:
    _require_admin(actor, organization_id)
    return list((await db.scalars(
        select(PayerProfileRecord)
        .where(PayerProfileRecord.organization_id == organization_id)
        .order_by(PayerProfileRecord.name)
    )).all())


async def get_profile(
    db: AsyncSession, actor: Actor, profile_id: uuid.UUID
) -> PayerProfileRecord:
    """The profile, for an admin of its organization (404 otherwise: ids are not probed)."""
    if actor.role not in PROFILE_ADMINS:
        raise Forbidden("Only an administrator edits payer profiles.")
    record = await db.get(PayerProfileRecord, profile_id)
    if record is None or record.organization_id not in actor.organization_ids:
        raise NotFound("No such payer profile.")
    return record


async def versions_of(db: AsyncSession, record: PayerProfileRecord) -> list[PayerProfileVersion]:
    """Every saved version, newest first."""
    return list((await db.scalars(
        select(PayerProfileVersion)
        .where(PayerProfileVersion.payer_profile_id == record.id)
        .order_by(PayerProfileVersion.version.desc())
    )).all())


async def _check_name(
    db: AsyncSession, organization_id: uuid.UUID, name: str, own_id: uuid.UUID | None
) -> None:
    taken = await db.scalar(select(PayerProfileRecord.id).where(
        PayerProfileRecord.organization_id == organization_id,
        PayerProfileRecord.name == name,
        PayerProfileRecord.id != own_id if own_id else PayerProfileRecord.id.is_not(None),
    ))
    if taken is not None:
        raise PayerProfileNameTaken(f"The organization has a payer profile named {name!r}.")


async def _only_default(db: AsyncSession, record: PayerProfileRecord) -> None:
    if not record.is_default:
        return
    others = (await db.scalars(select(PayerProfileRecord).where(
        PayerProfileRecord.organization_id == record.organization_id,
        PayerProfileRecord.id != record.id,
        PayerProfileRecord.is_default.is_(True),
    ))).all()
    for other in others:
        other.is_default = False


def _keep_version(db: AsyncSession, record: PayerProfileRecord, actor: Actor) -> None:
    db.add(PayerProfileVersion(
        payer_profile_id=record.id, version=record.version, name=record.name,
        is_default=record.is_default, rules=dict(record.rules), saved_by_id=actor.user_id,
    ))


async def _audit(db: AsyncSession, ctx: AuditContext, record: PayerProfileRecord,
                 action: str, details: dict[str, Any]) -> None:
    await record_event(db, action, ctx, organization_id=record.organization_id,
                       subject_type="payer_profile", subject_id=record.id,
                       details={"name": record.name, "version": record.version, **details})


async def create_profile(
    db: AsyncSession, actor: Actor, ctx: AuditContext, organization_id: uuid.UUID,
    data: ProfileInput,
) -> PayerProfileRecord:
    _require_admin(actor, organization_id)
    profile = validated(data)
    await _check_name(db, organization_id, profile.name, None)
    record = PayerProfileRecord(
        id=uuid.uuid4(), organization_id=organization_id, name=profile.name,
        is_default=data.is_default, rules=rules_of(profile), version=1,
    )
    db.add(record)
    await db.flush()
    await _only_default(db, record)
    _keep_version(db, record, actor)
    await db.flush()
    await _audit(db, ctx, record, "payer_profile.created",
                 {"is_default": record.is_default, "rules": record.rules})
    return record


async def update_profile(
    db: AsyncSession, actor: Actor, ctx: AuditContext, profile_id: uuid.UUID,
    data: ProfileInput,
) -> PayerProfileRecord:
    """Save an edit as the next version (an edit that changes nothing keeps the version)."""
    record = await get_profile(db, actor, profile_id)
    profile = validated(data)
    await _check_name(db, record.organization_id, profile.name, record.id)
    rules = rules_of(profile)
    old_rules = full_rules(record)
    before = {"name": record.name, "is_default": record.is_default, "rules": old_rules}
    after = {"name": profile.name, "is_default": data.is_default, "rules": rules}
    if before == after:
        return record
    changed = sorted(k for k in ("name", "is_default") if after[k] != before[k])
    changed += sorted(k for k in set(rules) | set(old_rules) if rules.get(k) != old_rules.get(k))
    record.name, record.is_default, record.rules = profile.name, data.is_default, rules
    record.version += 1
    await _only_default(db, record)
    _keep_version(db, record, actor)
    await db.flush()
    await _audit(db, ctx, record, "payer_profile.updated",
                 {"changed": changed, "before": before, "after": after})
    return record


def stamp(billing: EncounterBilling, record: PayerProfileRecord | None) -> None:
    """Record on the billing row the profile version its lines are coded under."""
    billing.payer_profile_name = record.name if record is not None else None
    billing.payer_profile_version = record.version if record is not None else None
