"""The release step: deliver (a download link, or paper/media sent), refuse in writing, or
take the one 30-day extension."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import Conflict, Invalid, Unprocessable
from reviewer.notifications.messages import Kind as NotificationKind
from reviewer.notifications.services import Subject, notify
from reviewer.records import lifecycle
from reviewer.records.lifecycle import RecordsAction
from reviewer.records.policy import (
    RIGHT_OF_ACCESS,
    THIRD_PARTIES,
    DeliveryMethod,
    Format,
)
from reviewer.records.steps import RequestView, _hash, _require_desk, begin
from storage.audit import AuditContext
from storage.models import (
    DownloadLink,
)


@dataclass(frozen=True)
class Delivery:
    view: RequestView
    token: str | None
    """The download link's secret (shown once); None for paper and media."""
    expires_at: dt.datetime | None
    uses_left: int | None


async def deliver(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    *,
    delivery_method: str = "",
    method: str = "",
    now: dt.datetime | None = None,
) -> Delivery:
    """Release the copy: a download link (electronic) or a record of paper/media sent.

    ``delivery_method`` is required, one of the organization's policy's
    ``delivery_methods``: Unprocessable (422) ``delivery_method_required`` when missing,
    ``delivery_method_invalid`` when not on the list; ``method`` is a free note (how the paper
    or media was handed over). Conflict ``not_verified`` until identity and authority are
    recorded; Conflict ``invalid_transition`` before the package is ready (prepared, and
    checked where asked).
    """
    step = await begin(db, actor, ctx, request_id, now)
    req, moment = step.req, step.moment
    policy = step.policy
    if not (
        req.identity_method
        and (req.id_document_type or req.identity_document_type)
        and req.authority
    ):
        raise Conflict(
            "Identity and authority must be verified before anything is released.",
            code="not_verified",
        )
    if req.requester_type in THIRD_PARTIES and req.authorization_document_id is None:
        raise Conflict(
            "A third party needs the patient's signed authorization on file.", code="not_verified"
        )
    # The state first (409 invalid_transition), then the method (422), then the move.
    lifecycle.transition(req.status, RecordsAction.DELIVER, second_check=policy.second_check)
    chosen = _delivery_method(delivery_method, policy.delivery_methods)
    step.move(RecordsAction.DELIVER)
    req.delivery_method = chosen
    if req.package_key is None:  # cannot happen through the state machine
        raise Conflict("The package is not prepared.", code="invalid_transition")
    token: str | None = None
    expires_at: dt.datetime | None = None
    uses: int | None = None
    if req.format == Format.ELECTRONIC:
        token = secrets.token_urlsafe(32)
        expires_at = moment + dt.timedelta(days=policy.link_days)
        uses = policy.link_uses
        link = DownloadLink(
            request_id=req.id, token_hash=_hash(token), expires_at=expires_at, uses_left=uses
        )
        db.add(link)
        await db.flush()
        note = f"{chosen}: download link, {uses} use(s) until {expires_at.isoformat()}"
        details: dict[str, Any] = {"link_id": str(link.id), "uses": uses}
    else:
        note = f"{chosen}: " + (method.strip()[:300] or (
            "printed and handed over" if req.format == Format.PAPER else "media sent"
        ))
        details = {"format": req.format}
    details["delivery_method"] = chosen
    step.history("delivered", note)
    await step.audit("records_request.delivered", **details)
    if req.requester_type in RIGHT_OF_ACCESS:  # a third party's copy is not the patient's news
        await notify(db, organization_id=req.organization_id, patient_id=req.patient_id,
                     kind=NotificationKind.RECORDS_READY,
                     subject=Subject("records_request", req.id), now=moment)
    return Delivery(await step.view(), token, expires_at, uses)


def _delivery_method(value: str, allowed: tuple[DeliveryMethod, ...]) -> str:
    text = (value or "").strip().lower()
    names = ", ".join(allowed)
    if not text:
        raise Unprocessable(f"Choose how the copy is released ({names}).",
                      code="delivery_method_required")
    if text not in {str(m) for m in allowed}:
        raise Unprocessable(f"delivery_method is one of {names}.", code="delivery_method_invalid")
    return text


def _written(actor: Actor, reason: str, what: str) -> None:
    """Refusals and extensions need a desk role and a written reason (checked before loading)."""
    _require_desk(actor)
    if not reason.strip():
        raise Invalid(f"Give the reason for the {what}, in writing.", code="reason_required")


async def refuse(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    _written(actor, reason, "refusal")
    step = await begin(db, actor, ctx, request_id, now)
    req = step.req
    step.move(RecordsAction.REFUSE)
    req.refused_reason = reason.strip()[:4000]
    step.history("refused", req.refused_reason)
    await step.audit("records_request.refused")
    return await step.view()


async def extend(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    """The one 30-day extension, with a written reason, before the first due date passes."""
    _written(actor, reason, "extension")
    step = await begin(db, actor, ctx, request_id, now)
    req, org, moment = step.req, step.org, step.moment
    why_not = lifecycle.can_extend(
        req.status, req.due_on, req.extended_due_on, org.time_zone, moment
    )
    if why_not:
        raise Conflict(why_not, code="extension_not_allowed")
    req.extended_due_on = lifecycle.extended_due_on(req.due_on)
    req.extension_reason = reason.strip()[:4000]
    step.history(
        "extended",
        f"due {req.extended_due_on.isoformat()}: {req.extension_reason}",
    )
    await step.audit("records_request.extended", due_on=req.extended_due_on.isoformat())
    return await step.view()
