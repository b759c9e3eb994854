"""The portal's derivation worker: display and thumbnail JPEGs made after the upload answered.

One asyncio task per portal process drains a queue of attachment ids (the upload route adds
one after its transaction committed) and, every minute and at start, also picks up rows left
``processing`` for over a minute (a process that died mid-derivation). The pixel work runs in
a one-process pool started with ``os.nice(19)``, so a busy portal serves requests first and
derives when the CPU is free. The pool is started on the first job, not with the app.

Niceness alone does not keep the derivations out of an upload burst's way: the two CPUs of a
small machine may be one core's two hyperthreads, where a low-priority process still slows its
sibling. So the worker also waits until this process has received no upload for
``QUIET_S`` before it starts a derivation, but never holds one back for longer than
``MAX_DEFER_S`` (a steady stream of uploads still gets its views).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Final

from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.settings import Settings
from reviewer.intake.derivation import (
    STALE_AFTER,
    derive_attachment,
    derive_in_thread,
    derive_pending,
)
from reviewer.intake.derive_job import DERIVE_JOB
from storage.blobs import BlobStore
from storage.media import MediaType, Views, derive_views

log = logging.getLogger("toothline.intake.worker")

SWEEP_EVERY_S: Final = 60.0
QUIET_S: Final = 0.5
MAX_DEFER_S: Final = 20.0
NICENESS: Final = 19
_PR_SET_PDEATHSIG: Final = 1


def _child_setup(parent_pid: int) -> None:
    """In the pool's process: low priority, and gone with the portal process (a killed
    portal must not leave an idle pool process behind)."""
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)


class DerivationWorker:
    """Start with :meth:`start` (inside the app's lifespan), stop with :meth:`stop`."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], blobs: BlobStore, workdir: Path, *,
        sweep_every_s: float = SWEEP_EVERY_S, quiet_s: float = QUIET_S,
        max_defer_s: float = MAX_DEFER_S,
    ) -> None:
        self._sessions = sessions
        self._blobs = blobs
        self._workdir = workdir
        self._sweep_every_s = sweep_every_s
        self._quiet_s = quiet_s
        self._max_defer_s = max_defer_s
        self._receiving = 0
        self._last_received = 0.0
        self._idle = asyncio.Event()
        self._idle.set()
        self.holding = asyncio.Event()
        """Set while a job taken from the queue waits for uploads being received to end
        (cleared when it goes on), so callers can observe the hold without sleeping."""
        self._queue: asyncio.Queue[tuple[uuid.UUID, float]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._pool: Executor | None = None

    def submit(self, attachment_id: uuid.UUID) -> None:
        """Queue an attachment whose row (status ``processing``) is committed."""
        self._queue.put_nowait((attachment_id, time.monotonic()))

    @contextlib.contextmanager
    def receiving(self) -> Iterator[None]:
        """Around the reading and checking of one upload: derivations wait meanwhile."""
        self._receiving += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._receiving -= 1
            self._last_received = time.monotonic()
            if not self._receiving:
                self._idle.set()

    async def _quiet(self, queued_at: float) -> None:
        """Until no upload is being received or was for ``quiet_s``, or the job has waited
        ``max_defer_s``."""
        deadline = queued_at + self._max_defer_s
        while (left := deadline - time.monotonic()) > 0:
            if self._receiving:
                self.holding.set()
                try:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._idle.wait(), left)
                finally:
                    self.holding.clear()
                continue
            calm_in = self._last_received + self._quiet_s - time.monotonic()
            if calm_in <= 0:
                return
            await asyncio.sleep(min(calm_in, left))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="toothline-derivation")

    async def stop(self) -> None:
        """Stop at once: a derivation cut short leaves its row for the next start's sweep."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def run(self, path: Path, media_type: MediaType) -> Views:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),  # no fork of a threaded loop
                initializer=_child_setup,
                initargs=(os.getpid(),),
            )
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, derive_views, path, media_type
            )
        except BrokenProcessPool:  # the child died (killed for memory?): start a new one
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            raise

    async def _sweep(self) -> None:
        counts = await derive_pending(
            self._sessions, self._blobs, self._workdir, older_than=STALE_AFTER, run=self.run
        )
        if any(counts.values()):
            log.info("picked up stale derivations: %s", counts)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while True:
            try:
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + self._sweep_every_s
                    await self._sweep()
                try:
                    attachment_id, queued_at = await asyncio.wait_for(
                        self._queue.get(), timeout=max(0.0, next_sweep - loop.time())
                    )
                except TimeoutError:
                    continue
                await self._quiet(queued_at)
                await derive_attachment(
                    self._sessions, self._blobs, attachment_id, self._workdir, self.run
                )
            except asyncio.CancelledError:
                raise
            except Exception:  # the row stays processing; the sweep tries again
                log.exception("derivation failed; it will be retried")


async def finish_case_views(app: Litestar, case_id: uuid.UUID) -> None:
    """Make, now, the views of the case's attachments still ``processing`` (called before a
    case is submitted, so a reviewer never gets a case whose pictures are still being made).
    Usually there is nothing left to do; a row the worker is deriving at the same moment is
    derived twice and one result is dropped."""
    worker: DerivationWorker | None = getattr(app.state, "derivation", None)
    settings: Settings = app.state.settings
    await derive_pending(
        app.state.db_sessionmaker, app.state.blobs, settings.var_dir / "tmp" / "derive",
        case_id=case_id, run=worker.run if worker is not None else derive_in_thread,
    )


def queue_derivation(app: Litestar, attachment_id: uuid.UUID) -> None:
    """Hand a stored, committed upload to whoever derives its views: the portal's own worker,
    or, with the SAQ engine, a worker process (job ``intake.derive``). Both upload routes
    (multipart and tus) call this after their commit."""
    worker: DerivationWorker | None = getattr(app.state, "derivation", None)
    if worker is not None:
        worker.submit(attachment_id)
    else:
        app.state.jobs.submit(DERIVE_JOB, {"attachment_id": str(attachment_id)})


@contextlib.asynccontextmanager
async def derivation_lifespan(app: Litestar) -> AsyncIterator[None]:
    """The app's worker (``app.state.derivation``; None with TOOTHLINE_DERIVE_INLINE, and
    None with the SAQ job engine, whose workers derive: ``reviewer/intake/derive_job.py``).
    Listed after the lifespan that opens ``app.state.blobs``."""
    from portal.jobs import JobRunner

    settings: Settings = app.state.settings
    worker: DerivationWorker | None = None
    if not settings.uploads.derive_inline and isinstance(app.state.jobs, JobRunner):
        worker = DerivationWorker(
            app.state.db_sessionmaker, app.state.blobs, settings.var_dir / "tmp" / "derive"
        )
        await worker.start()
    app.state.derivation = worker
    try:
        yield
    finally:
        if worker is not None:
            await worker.stop()
