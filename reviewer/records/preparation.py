"""The package step: assemble the copy from the stored records, then the second check."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import Conflict
from reviewer.records.lifecycle import RecordsAction
from reviewer.records.steps import RequestView, begin, describe_scope
from storage.audit import AuditContext
from storage.blobs import BlobStore, new_blob_key
from storage.models import (
    Patient,
)


async def prepare(
    db: AsyncSession,
    blobs: BlobStore,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    *,
    base_url: str,
    now: dt.datetime | None = None,
) -> RequestView:
    """Assemble the package from the stored records: exactly what was asked, every file
    with its sha256, a cover sheet and an index; an electronic copy also holds the FHIR
    ``$everything`` Bundle (``base_url``: the public URL its identifiers are named under)."""
    from reviewer.records.assemble import assemble

    step = await begin(db, actor, ctx, request_id, now)
    req, org, moment = step.req, step.org, step.moment
    step.move(RecordsAction.PREPARE)
    patient = await db.get_one(Patient, req.patient_id)
    built = await assemble(db, blobs, req, org, patient, moment, describe_scope(req.scope),
                           ctx=ctx, base_url=base_url)
    key = new_blob_key("records/packages")
    await blobs.put(key, built.zip_bytes, content_type="application/zip")
    # A package prepared before stays in the store until this change has committed: the
    # sweep (storage.blobs.sweep) removes it then. Deleting it here would leave the row
    # pointing at nothing if this transaction rolled back.
    req.package_key, req.package_sha256 = key, built.sha256
    req.package_size = len(built.zip_bytes)
    req.prepared_by_id = actor.user_id
    files = len(built.index["files"])
    step.history("prepared", f"{files} file(s), sha256 {built.sha256}")
    await step.audit("records_request.prepared", files=files, sha256=built.sha256)
    return await step.view()


async def check(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    request_id: uuid.UUID,
    note: str = "",
    *,
    now: dt.datetime | None = None,
) -> RequestView:
    """The second check, by another staff member than the one who prepared the package."""
    step = await begin(db, actor, ctx, request_id, now)
    req = step.req
    if req.prepared_by_id == actor.user_id:
        raise Conflict(
            "The second check is done by another staff member.", code="same_staff_member"
        )
    step.move(RecordsAction.CHECK)
    req.checked_by_id = actor.user_id
    step.history("checked", note.strip()[:500])
    await step.audit("records_request.checked")
    return await step.view()
