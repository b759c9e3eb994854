"""The dentist asks for one image to be taken again.

A retake is an information request about one image: the image is marked
(``retake_requested_at``, ``retake_reason``; it is kept, not deleted), and the case goes back
to its submitter through :func:`reviewer.evaluation.services.request_information`, which
releases the claim, keeps the draft and notifies the patient. The submitter's page shows
which slot to retake with the reason; a new upload fills it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.cases.state import CaseAction
from reviewer.errors import Invalid, NotFound
from reviewer.evaluation.services import _writable, request_information
from reviewer.labels import label
from storage.audit import AuditContext, record_event
from storage.models import Attachment, InfoRequest

MAX_REASON = 500


async def request_retake(
    db: AsyncSession,
    actor: Actor,
    context: AuditContext,
    case_id: uuid.UUID,
    attachment_id: uuid.UUID,
    *,
    reason: str,
    now: datetime,
) -> tuple[Attachment, InfoRequest]:
    """Mark one image of a case the dentist holds for a retake and send the case back.

    The case checks are the information request's (dentist, holding the case, licensed where
    the patient is, a status that allows it); an image of another case answers 404.
    """
    case = await _writable(db, actor, case_id, CaseAction.REQUEST_INFO, now)
    body = reason.strip()
    if not body:
        raise Invalid("Say why the image should be taken again.", code="reason_required")
    if len(body) > MAX_REASON:
        raise Invalid("The reason is too long.", code="reason_too_long")
    attachment = await db.scalar(
        select(Attachment).where(
            Attachment.id == attachment_id,
            Attachment.case_id == case.id,
            Attachment.organization_id == case.organization_id,
        )
    )
    if attachment is None:
        raise NotFound("No such image in this case.")
    attachment.retake_requested_at = now
    attachment.retake_reason = body
    await db.flush()
    await record_event(
        db, "attachment.retake_requested", context, organization_id=case.organization_id,
        subject_type="attachment", subject_id=attachment.id,
        details={"case_id": str(case.id), "view": attachment.view},
    )
    slot = label(attachment.view, "view")
    request = await request_information(
        db, actor, context, case.id,
        message=f"Please take the {slot} image again: {body}", now=now,
    )
    return attachment, request
