"""The portal's in-process job runner: work queued by services after their commit.

Services call :func:`reviewer.jobs.after_commit`; at commit the job reaches
:meth:`JobRunner.submit` (the runner sits in every request session's ``info``, see
``portal/app.py``). One asyncio task per portal process runs the jobs one at a time, each in a
session of its own; their CPU work (fpdf2, Pillow) runs in worker threads inside the job. A
failed job is tried again a few times; at start and every few minutes a sweep
(:func:`reviewer.billing.jobs.sweep`) picks up what a crash or a lost job left undone.

Jobs survive nothing more than the process. This runner is a stop-gap: the SAQ engine of
issue 20 replaces it behind the same ``submit(job_name, payload)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from typing import Final

import anyio.to_thread
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reviewer.billing.jobs import JOBS, Job, sweep
from storage.blobs import BlobStore

log = logging.getLogger("toothline.jobs")

SWEEP_EVERY_S: Final = 300.0
ATTEMPTS: Final = 3
RETRY_AFTER_S: Final = 2.0


class JobRunner:
    """Create with the app; :meth:`start` inside its lifespan, :meth:`stop` at shutdown.
    Jobs submitted before :meth:`start` wait in the queue."""

    def __init__(
        self, jobs: Mapping[str, Job] = JOBS, *, sweep_every_s: float = SWEEP_EVERY_S,
    ) -> None:
        self._jobs = jobs
        self._sweep_every_s = sweep_every_s
        self._queue: asyncio.Queue[tuple[str, dict[str, str], int]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._blobs: BlobStore | None = None
        self._lock = threading.Lock()
        self._unfinished = 0  # submitted and not done
        self._all_done = threading.Event()  # threads, not asyncio: waited on from any loop
        self._all_done.set()

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
        self._loop.call_soon_threadsafe(self._put, (job_name, dict(payload), 1))

    def _put(self, item: tuple[str, dict[str, str], int]) -> None:
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

    async def _one(self, job_name: str, payload: dict[str, str], attempt: int) -> None:
        assert self._sessions is not None and self._blobs is not None
        try:
            async with self._sessions() as db:
                await self._jobs[job_name](db, self._blobs, payload)
        except asyncio.CancelledError:
            raise
        except Exception:
            if attempt < ATTEMPTS:
                log.warning("job %s failed; retrying", job_name, exc_info=True)
                asyncio.get_running_loop().call_later(
                    RETRY_AFTER_S * attempt, self._put, (job_name, payload, attempt + 1)
                )
                return
            log.exception("job %s failed %d times; the sweep tries again", job_name, attempt)
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


@contextlib.asynccontextmanager
async def jobs_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Starts ``app.state.jobs`` (made by ``create_app``); listed after the lifespan that
    opens ``app.state.blobs``."""
    runner: JobRunner = app.state.jobs
    await runner.start(app.state.db_sessionmaker, app.state.blobs)
    try:
        yield
    finally:
        await runner.stop()
