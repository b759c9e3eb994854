"""What billing's pages (``portal.billing.pages``) and API (``portal.billing.api``) share.

An encounter is a case review (``/cases/{case_id}``) or a live session
(``/live-sessions/{session_id}``). Each kind is one controller subclass that names its path and
provides the ``encounter`` dependency (an :class:`EncounterKey` read from that path), so every
route both kinds have is written once, for an ``EncounterKey``::

    class CasePages(EncounterPages):
        path = "/billing/cases/{case_id:uuid}"
        dependencies = ENCOUNTER_OF_CASE

The status changes (ready, billed, nothing to bill) are one table, :data:`STATUS_CHANGES`: the
pages make one route per row, the API's ``billing-status`` body names a row.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from litestar.di import Provide
from litestar.params import FromPath
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.guards import require_roles
from portal.billing.schemas import StatusName
from reviewer.actor import Actor
from reviewer.billing import services
from reviewer.billing.services import Download, EncounterView
from reviewer.coding.rules import EncounterType
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.models import Role

READERS = require_roles(Role.DENTIST, Role.FRONT_DESK)
FRONT_DESK = require_roles(Role.FRONT_DESK)
SEGMENT = {EncounterType.ASYNCHRONOUS: "cases", EncounterType.SYNCHRONOUS: "live-sessions"}
"""The URL segment of each encounter kind (``/billing/cases/…``, ``/api/v1/live-sessions/…``)."""


@dataclass(frozen=True)
class EncounterKey:
    """The encounter a route's path names."""

    type: EncounterType
    id: uuid.UUID

    @property
    def page(self) -> str:
        return f"/billing/{SEGMENT[self.type]}/{self.id}"


def _case(case_id: FromPath[uuid.UUID]) -> EncounterKey:
    return EncounterKey(EncounterType.ASYNCHRONOUS, case_id)


def _live_session(session_id: FromPath[uuid.UUID]) -> EncounterKey:
    return EncounterKey(EncounterType.SYNCHRONOUS, session_id)


ENCOUNTER_OF_CASE = {"encounter": Provide(_case, sync_to_thread=False)}
"""A controller's ``dependencies`` when its path has ``{case_id:uuid}``."""
ENCOUNTER_OF_LIVE_SESSION = {"encounter": Provide(_live_session, sync_to_thread=False)}
"""A controller's ``dependencies`` when its path has ``{session_id:uuid}``."""

_READ = {EncounterType.ASYNCHRONOUS: services.case_encounter,
         EncounterType.SYNCHRONOUS: services.live_encounter}


async def encounter_view(
    db: AsyncSession, who: Actor, audit: AuditContext, encounter: EncounterKey
) -> EncounterView:
    """The encounter's lines, status and packages (the read is audited)."""
    return await _READ[encounter.type](db, who, audit, encounter.id)


Mark = Callable[[AsyncSession, Actor, AuditContext, EncounterType, uuid.UUID],
                Awaitable[EncounterView]]


@dataclass(frozen=True)
class StatusChange:
    status: StatusName
    """The API's ``{"status": …}``; the page's URL ends with it, ``_`` written ``-``."""
    mark: Mark
    done: str
    """What the page flashes after it."""
    closes: bool
    """The encounter is done with: the page goes back to the worklist."""

    @property
    def slug(self) -> str:
        return self.status.replace("_", "-")

    async def apply(
        self, db: AsyncSession, who: Actor, audit: AuditContext, encounter: EncounterKey,
    ) -> EncounterView:
        return await self.mark(db, who, audit, encounter.type, encounter.id)


STATUS_CHANGES: dict[str, StatusChange] = {
    change.status: change for change in (
        StatusChange("ready", services.mark_ready, "Marked ready to bill.", closes=False),
        StatusChange("billed", services.mark_billed, "Marked billed; the case is closed.",
                     closes=True),
        StatusChange("nothing_to_bill", services.mark_nothing_to_bill,
                     "Closed with nothing to bill.", closes=True),
    )
}


async def stream_download(blobs: BlobStore, download: Download) -> Stream:
    """A stored file as an attachment, never cached, never sniffed."""
    reader = await blobs.open(download.key)
    headers = {
        "Content-Disposition": f'attachment; filename="{download.filename}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if download.size is not None:
        headers["Content-Length"] = str(download.size)
    return Stream(reader, media_type=download.media_type, headers=headers)

