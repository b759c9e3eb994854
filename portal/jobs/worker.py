"""The SAQ worker behind ``toothline worker``: a process of its own that runs the jobs the
portal enqueued in Redis (``portal/jobs/saq_engine.py`` says why plain SAQ).

At startup a worker opens what the jobs need — a database engine, the blob store, and a
:class:`SaqEngine` put in its sessions' ``info`` so that a job that queues further work (a
notification after a package) enqueues it in Redis too — and closes them at shutdown. One SAQ
function, :func:`run_job`, dispatches by the job's name to :data:`reviewer.billing.jobs.JOBS`
with a session of its own; while the job runs it touches the job every third of its
heartbeat, so only a dead worker's job goes stale and is retried by another worker's sweep.
The catch-up sweep (:func:`reviewer.billing.jobs.sweep`) is a cron job every five minutes,
and the derivation sweep (uploads left ``processing``) one every minute, each unique per queue
(one worker runs it, whichever takes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from saq import CronJob, Queue, Worker
from saq.types import PartialTimersDict
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.jobs.saq_engine import DISPATCH, SaqEngine, SaqOptions
from portal.settings import Settings
from reviewer.billing.jobs import JOBS, Job, sweep
from reviewer.intake.derivation import STALE_AFTER, derive_pending
from reviewer.intake.derive_job import work_dir
from reviewer.jobs import SINK
from storage.audit import configure_audit_key
from storage.blobs import BlobStore, open_blob_store
from storage.database import create_engine

log = logging.getLogger("toothline.jobs.worker")

SWEEP_CRON: Final = "*/5 * * * *"
DERIVE_SWEEP_CRON: Final = "* * * * *"
_RESOURCES: Final = "toothline"


@dataclass
class _Resources:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    blobs: BlobStore
    sink: SaqEngine
    jobs: Mapping[str, Job]
    heartbeat_s: int


async def _beat(job: Any, every_s: float) -> None:
    """Touch the running job so the sweep knows its worker lives."""
    while True:
        await asyncio.sleep(every_s)
        with contextlib.suppress(Exception):  # a missed beat is not fatal; many are
            await job.update()


async def run_job(ctx: Any, *, job_name: str, payload: dict[str, str]) -> None:
    """The one SAQ function: run JOBS[job_name] with a session and the blob store."""
    res: _Resources = ctx[_RESOURCES]
    beat = asyncio.create_task(_beat(ctx["job"], max(res.heartbeat_s / 3, 0.2)))
    try:
        async with res.sessions() as db:
            await res.jobs[job_name](db, res.blobs, payload)
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat


async def toothline_sweep(ctx: Any) -> dict[str, int]:
    """The catch-up of :func:`reviewer.billing.jobs.sweep`, as a cron job."""
    res: _Resources = ctx[_RESOURCES]
    async with res.sessions() as db:
        counts = await sweep(db, res.blobs)
    if any(counts.values()):
        log.info("job sweep: %s", counts)
    return counts


async def toothline_derive_sweep(ctx: Any) -> dict[str, int]:
    """Uploads left ``processing`` over a minute (their job lost): derive them, as the
    portal's own derivation worker does with the in-process engine."""
    res: _Resources = ctx[_RESOURCES]
    counts = await derive_pending(res.sessions, res.blobs, work_dir(), older_than=STALE_AFTER)
    if any(counts.values()):
        log.info("picked up stale derivations: %s", counts)
    return counts


def build_worker(
    settings: Settings, *, concurrency: int = 2, options: SaqOptions | None = None,
    jobs: Mapping[str, Job] = JOBS, redis_url: str | None = None,
) -> Worker:
    """A worker for ``settings`` on ``redis_url`` (default ``TOOTHLINE_REDIS_URL``); run it
    with :func:`run_worker` (it stops on SIGTERM/SIGINT)."""
    redis_url = redis_url or settings.session.redis_url
    if not redis_url:
        raise ValueError("a SAQ worker needs TOOTHLINE_REDIS_URL")
    options = options or SaqOptions()

    async def startup(ctx: Any) -> None:
        configure_audit_key(settings.audit.key)
        engine = create_engine(settings.database.url, pool_size=settings.database.pool_size)
        sink = SaqEngine(redis_url, options, jobs=jobs)
        sessions = async_sessionmaker(engine, expire_on_commit=False, info={SINK: sink})
        blobs = open_blob_store(settings.blobs.url)
        await sink.start(sessions, blobs)
        ctx[_RESOURCES] = _Resources(engine, sessions, blobs, sink, jobs, options.heartbeat_s)

    async def shutdown(ctx: Any) -> None:
        res: _Resources | None = ctx.get(_RESOURCES)
        if res is None:
            return
        await res.sink.stop()
        await res.blobs.aclose()
        await res.engine.dispose()

    return Worker(
        Queue.from_url(redis_url, name=options.queue_name),
        functions=[(DISPATCH, run_job)],
        cron_jobs=[
            CronJob(toothline_sweep, cron=SWEEP_CRON, unique=True, timeout=options.timeout_s),
            CronJob(toothline_derive_sweep, cron=DERIVE_SWEEP_CRON, unique=True,
                    timeout=options.timeout_s),
        ],
        concurrency=concurrency,
        startup=startup,
        shutdown=shutdown,
        # all four keys: saq types the partial dict as total (its defaults: 1, 10, 60, 1)
        timers=PartialTimersDict(schedule=1, worker_info=10, sweep=options.sweep_every_s,
                                 abort=1),
        # at stop, running jobs are cancelled and put back in the queue (every job is
        # idempotent): another worker, or this one restarted, runs them again
        shutdown_grace_period_s=None,
    )


async def run_worker(worker: Worker) -> None:
    """Connect, run until SIGTERM/SIGINT (or :meth:`Worker.stop`), disconnect."""
    await worker.queue.connect()
    try:
        await worker.start()
    finally:
        await worker.queue.disconnect()
