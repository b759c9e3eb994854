"""The embedded default's job engine: work queued by services after their commit, run by a
task of the portal process itself.

Services call :func:`reviewer.jobs.after_commit`; at commit the job reaches
:meth:`JobRunner.submit` (the engine sits in every request session's ``info``, see
``portal/app.py``). One asyncio task per portal process runs the jobs one at a time, each in a
session of its own; their CPU work (fpdf2, Pillow) runs in worker threads inside the job. A
failed job is tried again a few times; at start and every few minutes a sweep
(:func:`reviewer.billing.jobs.sweep`) picks up what a crash or a lost job left undone.

Jobs survive nothing more than the process: the sweep is what makes that safe. With
``TOOTHLINE_REDIS_URL`` the SAQ engine (``portal/jobs/saq_engine.py``) takes its place behind
the same :class:`portal.jobs.engine.JobEngine` interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import Final

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.jobs.engine import JobRecord, JobState
from reviewer.billing.jobs import JOBS, Job, sweep
from storage.blobs import BlobStore

log = logging.getLogger("toothline.jobs")

SWEEP_EVERY_S: Final = 300.0
ATTEMPTS: Final = 3
RETRY_AFTER_S: Final = 2.0
KEEP_RECENT: Final = 100

_Item = tuple[str, dict[str, str], int, str]  # name, payload, attempt, id


class JobRunner:
    """Create with the app; :meth:`start` inside its lifespan, :meth:`stop` at shutdown.
    Jobs submitted before :meth:`start` wait in the queue."""

    def __init__(
        self, jobs: Mapping[str, Job] = JOBS, *, sweep_every_s: float = SWEEP_EVERY_S,
    ) -> None:
        self._jobs = jobs
        self._sweep_every_s = sweep_every_s
        self._queue: asyncio.Queue[_Item] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._blobs: BlobStore | None = None
        self._lock = threading.Lock()
        self._unfinished = 0  # submitted and not done
        self._all_done = threading.Event()  # threads, not asyncio: waited on from any loop
        self._all_done.set()
        self._records: OrderedDict[str, JobRecord] = OrderedDict()  # newest last

    def _record(self, job_id: str, name: str, status: str, attempts: int,
                error: str | None = None) -> None:
        with self._lock:
            self._records[job_id] = JobRecord(job_id, name, status, attempts, error)
            self._records.move_to_end(job_id)
            while len(self._records) > KEEP_RECENT:
                self._records.popitem(last=False)

    async def state(self, limit: int = 20) -> JobState:
        with self._lock:
            records = list(self._records.values())
        count = {s: sum(r.status == s for r in records) for s in ("queued", "active", "failed")}
        return JobState(
            engine="inprocess", queued=count["queued"], active=count["active"],
            failed=count["failed"], workers=None, recent=records[::-1][:limit],
        )

    def submit(self, job_name: str, payload: Mapping[str, str]) -> None:
        """Queue a job (thread-safe; never blocks). Unknown names are refused at once."""
        if job_name not in self._jobs:
            raise KeyError(f"no job named {job_name!r}")
        if self._queue is None or self._loop is None:
            log.warning("job %s submitted while the runner is stopped; the sweep redoes it",
                        job_name)
            return
        with self._lock:
            self._unfinished += 1
            self._all_done.clear()
        job_id = uuid.uuid4().hex
        self._record(job_id, job_name, "queued", 0)
        self._loop.call_soon_threadsafe(self._put, (job_name, dict(payload), 1, job_id))

    def _put(self, item: _Item) -> None:
        if self._queue is None:  # stopped meanwhile
            self._done()
            return
        self._queue.put_nowait(item)

    def _done(self) -> None:
        with self._lock:
            self._unfinished -= 1
            if self._unfinished <= 0:
                self._all_done.set()

    async def start(
        self, sessions: async_sessionmaker[AsyncSession], blobs: BlobStore,
    ) -> None:
        self._sessions, self._blobs = sessions, blobs
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="toothline-jobs")

    async def stop(self) -> None:
        """Stop at once: a job cut short is redone by the next start's sweep."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = self._queue = self._loop = None

    async def drained(self, timeout_s: float = 60.0) -> None:
        """Until every submitted job (retries included) is done. Awaitable from any event
        loop (a test client runs the app in a loop of its own)."""
        if not await anyio.to_thread.run_sync(self._all_done.wait, timeout_s):
            raise TimeoutError(f"jobs still running after {timeout_s} s")

    async def _one(self, job_name: str, payload: dict[str, str], attempt: int,
                   job_id: str) -> None:
        assert self._sessions is not None and self._blobs is not None
        self._record(job_id, job_name, "active", attempt)
        try:
            async with self._sessions() as db:
                await self._jobs[job_name](db, self._blobs, payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if attempt < ATTEMPTS:
                log.warning("job %s failed; retrying", job_name, exc_info=True)
                self._record(job_id, job_name, "queued", attempt, type(exc).__name__)
                asyncio.get_running_loop().call_later(
                    RETRY_AFTER_S * attempt, self._put, (job_name, payload, attempt + 1, job_id)
                )
                return
            log.exception("job %s failed %d times; the sweep tries again", job_name, attempt)
            self._record(job_id, job_name, "failed", attempt, type(exc).__name__)
        else:
            self._record(job_id, job_name, "complete", attempt)
        self._done()

    async def _sweep(self) -> None:
        assert self._sessions is not None and self._blobs is not None
        try:
            async with self._sessions() as db:
                counts = await sweep(db, self._blobs)
            if any(counts.values()):
                log.info("job sweep: %s", counts)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job sweep failed; it runs again later")

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while True:
            if loop.time() >= next_sweep:
                await self._sweep()
                next_sweep = loop.time() + self._sweep_every_s
            try:
                item = await asyncio.wait_for(
                    self._queue.get(), timeout=max(0.0, next_sweep - loop.time())
                )
            except TimeoutError:
                continue
            await self._one(*item)
