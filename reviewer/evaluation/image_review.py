"""Review that really happened: before signing, the dentist opened every image of the case or
said, per image, why not.

"Opened" means an ``attachment.viewed`` view row of this dentist on this case for the image's
``display`` or ``original`` variant, i.e. the image in the viewer (or the full image, or the
side-by-side comparison, which shows the display picture). A ``thumbnail`` never counts: the
case page loads every thumbnail by itself. A view by another dentist never counts.

The images are every attachment of the case that the dentist can open (photos, radiographs
and documents), one still being processed too: its original can be opened already. What
signing settles (first opening per image or the reason, and the review span from the first
opening to the signature) is stored on the evaluation at signing
(``image_review``, ``review_started_at``, ``review_ended_at``) and covered by the signed
content's hash: the record prints what was stored, never the view log read again later.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.errors import Unprocessable
from storage.models import Attachment
from storage.models.view_event import ViewEvent

OPENING_VARIANTS = frozenset({"display", "original"})
"""The variants whose view counts as opening the image (never ``thumbnail``)."""
MAX_REASON = 500


@dataclass(frozen=True)
class ImageCheck:
    """One image of the case and the signer's first opening of it (None: not opened)."""

    attachment: Attachment
    opened_at: datetime | None

    @property
    def id(self) -> str:
        return str(self.attachment.id)


class ImagesNotReviewed(Unprocessable):
    """Signing refused: ``attachment_ids`` were neither opened by the signer nor given a
    reason."""

    code = "images_not_reviewed"

    def __init__(self, message: str, attachment_ids: Sequence[str]) -> None:
        super().__init__(message)
        self.attachment_ids = list(attachment_ids)

    @property
    def body_extra(self) -> dict[str, Any]:
        return {"attachment_ids": self.attachment_ids}


@dataclass(frozen=True)
class SettledReview:
    """What signing stores: the span and, per image, ``opened_at`` or ``reason``."""

    started_at: datetime
    ended_at: datetime
    items: list[dict[str, Any]]
    waived: list[str]


async def image_checklist(
    db: AsyncSession, case_id: uuid.UUID, dentist_id: uuid.UUID
) -> list[ImageCheck]:
    """Every image of the case (upload order) with ``dentist_id``'s first opening of it."""
    attachments = list(
        await db.scalars(
            select(Attachment)
            .where(Attachment.case_id == case_id)
            .order_by(Attachment.created_at, Attachment.id)
        )
    )
    first: dict[uuid.UUID, datetime] = {}
    views = await db.execute(
        select(ViewEvent.attachment_id, ViewEvent.occurred_at, ViewEvent.details)
        .where(ViewEvent.action == "attachment.viewed", ViewEvent.case_id == case_id,
               ViewEvent.actor_id == dentist_id)
        .order_by(ViewEvent.occurred_at)
    )
    for attachment_id, occurred_at, details in views:
        if attachment_id is None or attachment_id in first:
            continue
        if (details or {}).get("variant") in OPENING_VARIANTS:
            first[attachment_id] = occurred_at
    return [ImageCheck(a, first.get(a.id)) for a in attachments]


def clean_reasons(reasons: Mapping[str, str] | None) -> dict[str, str]:
    """``{attachment_id: reason}`` with blank reasons dropped, each cut to 500 characters."""
    out: dict[str, str] = {}
    for key, value in (reasons or {}).items():
        text = " ".join(str(value or "").split())[:MAX_REASON]
        if text:
            out[str(key).strip().lower()] = text
    return out


def settle_review(
    checks: Sequence[ImageCheck], reasons: Mapping[str, str] | None, now: datetime
) -> SettledReview:
    """The review as signing stores it; :class:`ImagesNotReviewed` while an image is neither
    opened nor given a reason (a reason for an opened image is not kept)."""
    given = clean_reasons(reasons)
    missing = [c.id for c in checks if c.opened_at is None and c.id not in given]
    if missing:
        raise ImagesNotReviewed(
            f"Open every image before signing, or say why not: {len(missing)} of "
            f"{len(checks)} image(s) not opened.",
            missing,
        )
    items: list[dict[str, Any]] = []
    waived: list[str] = []
    for check in checks:
        if check.opened_at is not None:
            items.append({"attachment_id": check.id, "opened_at": check.opened_at.isoformat(),
                          "reason": None})
        else:
            items.append({"attachment_id": check.id, "opened_at": None,
                          "reason": given[check.id]})
            waived.append(check.id)
    opened = [c.opened_at for c in checks if c.opened_at is not None]
    return SettledReview(started_at=min(opened) if opened else now, ended_at=now, items=items,
                         waived=waived)


def hashed_review(image_review: list[dict[str, Any]] | None, started: datetime | None,
                  ended: datetime | None) -> dict[str, Any]:
    """The review's part of the signed content (nothing for evaluations signed without one,
    so their hashes stay what they were)."""
    if image_review is None:
        return {}
    return {
        "image_review": image_review,
        "review_started_at": started.isoformat() if started else None,
        "review_ended_at": ended.isoformat() if ended else None,
    }
