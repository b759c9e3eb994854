"""Attachments for service tests, stored through the real intake service.

Billing, records and coordination tests need signed cases with pictures. The case and its
evaluation are rows those tests insert (intake's pages and the review desk are other areas),
but every picture goes through :func:`reviewer.intake.attachments.add_attachment`, so a view or
kind intake would refuse cannot be seeded (the vocabulary is ``reviewer/vocabulary.py``).
Only the times are set afterwards, since a fixture needs fixed capture and upload dates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.intake.attachments import (
    ReceivedFile,
    add_attachment,
    attachment_meta,
    prepare_upload,
)
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.media import MediaLimits
from storage.models import Attachment, Case, User, patient_login

CTX = AuditContext(actor_id=None, actor_role="test", client_address="127.0.0.1")


@dataclass(frozen=True)
class Picture:
    """One file to attach: a fixture file, its kind, view and teeth (as the upload form)."""

    path: Path
    kind: str
    view: str
    teeth: str = ""


async def uploader(db: AsyncSession, email: str) -> Actor:
    """The actor of the account ``email``, as the portal builds it at sign-in."""
    user = await db.scalar(select(User).where(User.email == email))
    assert user is not None, email
    patient_ids: frozenset = frozenset()
    if user.role == "patient":
        rows = await db.execute(
            select(patient_login.c.patient_id).where(patient_login.c.user_id == user.id)
        )
        patient_ids = frozenset(r[0] for r in rows)
    return Actor(user_id=user.id, role=user.role, organization_ids=frozenset(user.organization_ids),
                 email=user.email, display_name=user.display_name, patient_ids=patient_ids)


async def attach(
    db: AsyncSession, blobs: BlobStore, actor: Actor, case: Case, pictures: Sequence[Picture],
    *, captured: Sequence[dt.datetime | None] | None = None,
    created: Sequence[dt.datetime] | None = None,
) -> list[Attachment]:
    """Upload ``pictures`` to ``case`` (a draft, or sent back for information) as ``actor``.

    ``captured`` replaces a file's capture time where the file has none (``None`` keeps the
    file's own); ``created`` sets the upload times. Flushes, does not commit."""
    rows: list[Attachment] = []
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        for index, picture in enumerate(pictures):
            received = folder / f"received-{index}"
            shutil.copyfile(picture.path, received)
            data = received.read_bytes()
            target = await prepare_upload(db, actor, case.id, None, max_files=len(pictures))
            row = await add_attachment(
                db, blobs, actor, CTX, target,
                ReceivedFile(received, len(data), hashlib.sha256(data).hexdigest()),
                attachment_meta(picture.kind, picture.view, picture.teeth),
                limits=MediaLimits(), max_files=len(pictures), workdir=folder,
            )
            if captured is not None and row.captured_at is None:
                row.captured_at = captured[index]
            if created is not None:
                row.created_at = created[index]
            rows.append(row)
    await db.flush()
    return rows
