"""The job engine's small interface, the choice between its two implementations, and the
app lifespan that starts it.

Services never see an engine: they call :func:`reviewer.jobs.after_commit`, and at commit the
job reaches :meth:`JobEngine.submit` (the engine sits in every request session's ``info``).
Two engines stand behind that one method:

* :class:`portal.jobs.inprocess.JobRunner` — the embedded default: a task of each portal
  process, jobs lost with the process and found again by the sweep;
* :class:`portal.jobs.saq_engine.SaqEngine` — with ``TOOTHLINE_REDIS_URL``: jobs in Redis,
  run by ``toothline worker`` processes, surviving portal and worker restarts.

``TOOTHLINE_JOBS`` (``inprocess`` | ``saq``) forces one (:class:`portal.settings.JobSettings`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.settings import Settings
from storage.blobs import BlobStore


@dataclass(frozen=True)
class JobRecord:
    """One job as an admin sees it: no payload (it may name a patient's case), no traceback
    (its messages may quote data), only the exception's class."""

    id: str
    name: str
    status: str
    attempts: int
    error: str | None = None


@dataclass(frozen=True)
class JobState:
    engine: str
    queued: int
    active: int
    failed: int
    workers: int | None
    """Live worker processes (SAQ); None for the in-process engine (the portal is the worker)."""
    recent: list[JobRecord] = field(default_factory=list)


class JobEngine(Protocol):
    """What the portal needs of an engine. ``submit`` is called from a synchronous
    SQLAlchemy event on the app's event loop (or from a test's thread): it never blocks."""

    def submit(self, job_name: str, payload: Mapping[str, str]) -> None:
        """Queue ``job_name`` (a key of :data:`reviewer.billing.jobs.JOBS`) with its
        payload (strings: ids, roles)."""

    async def start(self, sessions: async_sessionmaker[AsyncSession], blobs: BlobStore) -> None:
        """In the app's lifespan, once the blob store is open."""

    async def stop(self) -> None:
        """At shutdown: nothing queued is lost that the engine promised to keep."""

    async def drained(self, timeout_s: float = 60.0) -> None:
        """For tests: until every job this engine submitted is done (or failed for good).
        Awaitable from any event loop."""

    async def state(self, limit: int = 20) -> JobState:
        """Counts and the most recent jobs, for ``GET /api/v1/jobs``."""


def make_engine(settings: Settings) -> JobEngine:
    """The engine ``settings.jobs`` names (SAQ imported only when it is used)."""
    if settings.jobs.engine == "saq":
        from portal.jobs.saq_engine import SaqEngine

        assert settings.jobs.redis_url is not None  # JobSettings refuses saq without one
        return SaqEngine(settings.jobs.redis_url)
    from portal.jobs.inprocess import JobRunner

    return JobRunner()


@contextlib.asynccontextmanager
async def jobs_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Starts ``app.state.jobs`` (made by ``create_app``); listed after the lifespan that
    opens ``app.state.blobs``."""
    engine: JobEngine = app.state.jobs
    await engine.start(app.state.db_sessionmaker, app.state.blobs)
    try:
        yield
    finally:
        await engine.stop()
