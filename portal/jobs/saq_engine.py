"""Background jobs in Redis with SAQ: the portal enqueues, ``toothline worker`` processes run.

Why a thin wrapper of plain ``saq`` and not litestar-saq's plugin: the plugin binds its queues
to the Litestar app (its workers start from the app, its CLI is ``litestar workers``, its
job functions are looked up by import path), while Toothline needs the same queue from three
places that are not the app — the ``toothline worker`` command, the sessions of jobs that
queue further jobs, and tests that start and kill workers — and an in-process engine behind
the same ``submit``. Its web UI would be a second, unauthenticated admin surface beside ours
(``GET /api/v1/jobs`` shows job state with the portal's guards). What we need of SAQ is a
``Queue`` and a ``Worker``: twenty lines of wiring, no plugin.

One SAQ function (:data:`DISPATCH`, see ``portal/jobs/worker.py``) runs every job: it looks
the job's name up in :data:`reviewer.billing.jobs.JOBS` and calls it with a session and the
blob store of the worker. Each job is enqueued with retries and exponential back-off, a
timeout, and a heartbeat the worker keeps beating while the job runs: a job whose worker died
(SIGKILL, lost machine) stops beating, and the next sweep of any live worker retries it.

Submitting never blocks the request: :meth:`SaqEngine.submit` is called from SQLAlchemy's
synchronous ``after_commit`` event, so it only schedules the enqueue on the portal's event loop
and keeps a reference to the task; a failed enqueue is logged, and the periodic sweep
(:func:`reviewer.billing.jobs.sweep`, a cron job of the workers) redoes what it left undone.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from saq import Job as SaqJob
from saq import Queue, Status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.jobs.engine import JobRecord, JobState
from reviewer.billing.jobs import JOBS, Job
from storage.blobs import BlobStore

log = logging.getLogger("toothline.jobs")

QUEUE_NAME: Final = "toothline"
DISPATCH: Final = "toothline.run_job"
"""The one SAQ function name; the job's own name travels in its kwargs."""
RECENT_KEEP: Final = 200
_TERMINAL: Final = frozenset({Status.COMPLETE, Status.FAILED, Status.ABORTED})
T = TypeVar("T")


@dataclass(frozen=True)
class SaqOptions:
    """How jobs are enqueued and how workers watch them. Portal and workers must agree on
    ``queue_name``; tests use a name of their own and short timers."""

    queue_name: str = QUEUE_NAME
    retries: int = 5
    """Attempts in all (SAQ counts the first one)."""
    retry_delay_s: float = 2.0
    retry_backoff_max_s: float = 120.0
    """Exponential back-off from ``retry_delay_s``, with jitter, capped here."""
    timeout_s: int = 600
    heartbeat_s: int = 60
    """A running job not touched for this long is stuck: its worker is presumed dead."""
    sweep_every_s: int = 30
    """How often a worker looks for stuck jobs (SAQ's sweep; one worker per interval)."""
    ttl_s: int = 7 * 86400
    """How long a finished job's state (status, attempts, error) stays visible."""


def recent_key(queue: Queue) -> str:
    """A capped Redis list of the newest job keys: SAQ itself keeps only unfinished jobs in
    its indexes, and admins want to see the failed ones too."""
    return f"saq:{queue.name}:toothline:recent"


def error_class(error: str | None) -> str | None:
    """The exception class from SAQ's stored traceback (its last line, ``Class: message``);
    the message is dropped, it may quote data."""
    lines = (error or "").strip().splitlines()
    if not lines:
        return None
    name = lines[-1].split(":", 1)[0].strip().rsplit(".", 1)[-1]
    return name[:80] if name.isidentifier() else "error"


def record(job: SaqJob) -> JobRecord:
    kwargs = job.kwargs or {}
    return JobRecord(
        id=job.key, name=str(kwargs.get("job_name", job.function)), status=Status(job.status).value,
        attempts=job.attempts, error=error_class(job.error),
    )


async def enqueue(queue: Queue, options: SaqOptions, job_name: str,
                  payload: Mapping[str, str]) -> SaqJob | None:
    """Put one job in Redis (also used by jobs that queue further jobs inside a worker)."""
    job = await queue.enqueue(
        DISPATCH, job_name=job_name, payload=dict(payload),
        retries=options.retries, retry_delay=options.retry_delay_s,
        retry_backoff=options.retry_backoff_max_s, timeout=options.timeout_s,
        heartbeat=options.heartbeat_s, ttl=options.ttl_s,
    )
    if job is not None and hasattr(queue, "redis"):  # the Redis queue: remember it for state
        redis: Any = queue.redis
        await redis.lpush(recent_key(queue), job.key)
        await redis.ltrim(recent_key(queue), 0, RECENT_KEEP - 1)
    return job


async def queue_state(queue: Queue, engine: str, limit: int) -> JobState:
    info = await queue.info()
    redis: Any = getattr(queue, "redis", None)
    keys = [k.decode() for k in await redis.lrange(recent_key(queue), 0, limit - 1)] if redis \
        else []
    jobs = [job for job in await queue.jobs(keys) if job is not None] if keys else []
    failed = 0
    for worker in info["workers"].values():
        stats: Mapping[str, Any] = worker.get("stats") or {}
        failed += int(stats.get("failed", 0))
    return JobState(
        engine=engine, queued=info["queued"], active=info["active"],
        failed=max(failed, sum(job.status == Status.FAILED for job in jobs)),
        workers=len(info["workers"]), recent=[record(job) for job in jobs],
    )


class SaqEngine:
    """The portal's side: enqueue after commit, report state. Runs no job itself."""

    def __init__(
        self, redis_url: str, options: SaqOptions | None = None, *,
        jobs: Mapping[str, Job] = JOBS,
    ) -> None:
        self.options = options or SaqOptions()
        self._jobs = jobs
        self._redis_url = redis_url
        self.queue: Queue | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._keys: list[str] = []  # what this engine enqueued (for drained())
        self._lock = threading.Lock()
        self._pending = 0
        self._no_pending = threading.Event()
        self._no_pending.set()

    def submit(self, job_name: str, payload: Mapping[str, str]) -> None:
        """Schedule the enqueue on the portal's loop and return at once (thread-safe)."""
        if job_name not in self._jobs:
            raise KeyError(f"no job named {job_name!r}")
        if self._loop is None or self.queue is None:
            log.warning("job %s submitted while the engine is stopped; the sweep redoes it",
                        job_name)
            return
        with self._lock:
            self._pending += 1
            self._no_pending.clear()
        self._loop.call_soon_threadsafe(self._spawn, job_name, dict(payload))

    def _spawn(self, job_name: str, payload: dict[str, str]) -> None:
        task = asyncio.create_task(self._enqueue(job_name, payload), name="toothline-enqueue")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _enqueue(self, job_name: str, payload: dict[str, str]) -> None:
        try:
            assert self.queue is not None
            job = await enqueue(self.queue, self.options, job_name, payload)
            if job is not None:
                with self._lock:
                    self._keys.append(job.key)
        except Exception:  # the commit happened; the workers' sweep picks the work up
            log.exception("could not queue job %s", job_name)
        finally:
            with self._lock:
                self._pending -= 1
                if self._pending <= 0:
                    self._no_pending.set()

    async def start(self, sessions: async_sessionmaker[AsyncSession], blobs: BlobStore) -> None:
        """Connects to Redis; the sessions and blobs belong to the workers, not used here."""
        self._loop = asyncio.get_running_loop()
        self.queue = Queue.from_url(self._redis_url, name=self.options.queue_name)
        await self.queue.connect()

    async def stop(self) -> None:
        """Waits briefly for enqueues in flight (a job accepted before shutdown reaches
        Redis), then disconnects."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5.0)
        if self.queue is not None:
            await self.queue.disconnect()
        self.queue = self._loop = None

    async def _on_loop(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the portal's loop (the queue's connection lives there) from
        whatever loop awaits: a test client runs the app in a loop of its own."""
        assert self._loop is not None
        if asyncio.get_running_loop() is self._loop:
            return await work
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def drained(self, timeout_s: float = 60.0) -> None:
        if self._loop is not None:
            await self._on_loop(self._drain(timeout_s))

    async def _drain(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                keys = list(self._keys)
                pending = self._pending
            assert self.queue is not None
            jobs = await self.queue.jobs(keys) if keys else []
            if not pending and all(job is None or job.status in _TERMINAL for job in jobs):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs still running after {timeout_s} s")
            await asyncio.sleep(0.05)

    async def state(self, limit: int = 20) -> JobState:
        if self._loop is None or self.queue is None:
            raise RuntimeError("the job engine is not started")
        return await self._on_loop(queue_state(self.queue, "saq", limit))
