"""Download links of a delivered request: the public link by token and the patient's own page;
every use, allowed or refused, is audited."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import Conflict, DomainError, Forbidden, NotFound
from reviewer.records.lifecycle import RecordsStatus
from reviewer.records.policy import (
    Requester,
)
from reviewer.records.steps import _hash, _load, _now, _utc
from storage.audit import AuditContext, record_event
from storage.models import (
    DownloadLink,
    RecordsRequest,
    Role,
)


class LinkRefused(DomainError):
    code = "link_refused"
    kind = "not_found"


@dataclass(frozen=True)
class LinkOutcome:
    """A download allowed (``key`` set) or refused (``refusal`` set, already audited: the
    caller commits before answering so the refusal stays in the audit trail)."""

    key: str | None = None
    size: int | None = None
    filename: str = ""
    uses_left: int | None = None
    refusal: DomainError | None = None


async def _consume(
    db: AsyncSession,
    ctx: AuditContext,
    link: DownloadLink | None,
    req: RecordsRequest | None,
    now: dt.datetime,
    via: str,
) -> LinkOutcome:
    reason = None
    if link is None or req is None:
        reason = "unknown"
    elif link.revoked_at is not None:
        reason = "revoked"
    elif _utc(link.expires_at) <= now:
        reason = "expired"
    elif link.uses_left <= 0:
        reason = "used_up"
    elif req.status != RecordsStatus.DELIVERED or req.package_key is None:
        reason = "not_delivered"
    if reason is None:
        assert link is not None and req is not None
        # One guarded statement: two simultaneous uses of the last one cannot both win.
        result = await db.execute(
            update(DownloadLink)
            .where(
                DownloadLink.id == link.id,
                DownloadLink.uses_left > 0,
                DownloadLink.expires_at > now,
                DownloadLink.revoked_at.is_(None),
            )
            .values(uses_left=DownloadLink.uses_left - 1)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            reason = "used_up"
    if reason is not None:
        await record_event(
            db,
            "records_link.refused",
            ctx,
            organization_id=req.organization_id if req else None,
            subject_type="records_request" if req else None,
            subject_id=req.id if req else None,
            details={"reason": reason, "via": via, "link_id": str(link.id) if link else None},
        )
        message = {
            "unknown": "This download link is not valid.",
            "revoked": "This download link was withdrawn.",
            "expired": "This download link has expired. Ask the practice for a new one.",
            "used_up": "This download link was used as many times as allowed. Ask the "
            "practice for a new one.",
            "not_delivered": "These records are not released.",
        }[reason]
        error: DomainError = (
            NotFound(message, code="link_not_found")
            if reason == "unknown"
            else Conflict(message, code=f"link_{reason}")
        )
        return LinkOutcome(refusal=error)
    assert link is not None and req is not None
    await db.refresh(link)
    await record_event(
        db,
        "records_package.downloaded",
        ctx,
        organization_id=req.organization_id,
        subject_type="records_request",
        subject_id=req.id,
        details={
            "link_id": str(link.id),
            "uses_left": link.uses_left,
            "via": via,
            "sha256": req.package_sha256,
        },
    )
    assert req.package_key is not None
    return LinkOutcome(
        key=req.package_key,
        size=req.package_size,
        filename=f"records-{str(req.id)[:8]}.zip",
        uses_left=link.uses_left,
    )


async def use_link(
    db: AsyncSession, ctx: AuditContext, token: str, *, now: dt.datetime | None = None
) -> LinkOutcome:
    """The public download by token: every use, allowed or refused, is audited."""
    moment = _now(now)
    link = await db.scalar(select(DownloadLink).where(DownloadLink.token_hash == _hash(token)))
    req = await db.get(RecordsRequest, link.request_id) if link else None
    return await _consume(db, ctx, link, req, moment, "link")


async def patient_download(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    *,
    now: dt.datetime | None = None,
) -> LinkOutcome:
    """The patient downloads their copy from their own page: it uses the request's link."""
    if actor.role != Role.PATIENT:
        raise Forbidden("This download is for the patient.")
    moment = _now(now)
    req = await _load(db, actor, request_id)
    if req.requester_type not in {Requester.PATIENT, Requester.REPRESENTATIVE}:
        raise NotFound("No such records request.")
    link = await db.scalar(
        select(DownloadLink)
        .where(DownloadLink.request_id == req.id)
        .order_by(DownloadLink.created_at.desc())
        .limit(1)
    )
    return await _consume(db, ctx, link, req, moment, "patient_page")
