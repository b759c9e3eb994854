"""SAQ test helpers: a Redis queue of the test's own (keys removed afterwards), short timers,
workers in the test's event loop or as real processes (``python -m tests.support.jobs``, with a
slow test job so a test can kill a worker mid-job)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path

import pytest
import redis
from saq import Worker
from sqlalchemy.ext.asyncio import AsyncSession

from portal.jobs.saq_engine import SaqOptions
from portal.jobs.worker import build_worker, run_worker
from reviewer.billing.jobs import JOBS, Job
from storage.blobs import BlobStore
from tests.support.database import REQUIRE_POSTGRES

REDIS_URL = os.environ.get("TOOTHLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REPO_ROOT = Path(__file__).resolve().parents[2]
SLOW_JOB = "test.slow"


def fast_options(queue_name: str) -> SaqOptions:
    """Short heartbeat, sweep and retry delays: a dead worker's job is retried in seconds."""
    return SaqOptions(queue_name=queue_name, heartbeat_s=2, sweep_every_s=1,
                      retry_delay_s=0.2, retry_backoff_max_s=1.0, timeout_s=120)


def redis_or_skip(what: str = "SAQ tests") -> str:
    """The test Redis's URL; skips ``what`` without it (fails under CI)."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        message = f"Redis not reachable at {REDIS_URL}: {exc}"
        if REQUIRE_POSTGRES:  # CI: the services must be there
            pytest.fail(message)
        pytest.skip(f"SKIPPED {what}: " + message)
    return REDIS_URL


@pytest.fixture
def queue_name() -> Iterator[str]:
    """A queue of the test's own; its keys are gone afterwards."""
    redis_or_skip()
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"saq:*{name}:*"):
        client.delete(key)
    client.close()


@contextlib.asynccontextmanager
async def worker_in_loop(
    settings: object, options: SaqOptions, jobs: Mapping[str, Job] = JOBS,
) -> AsyncIterator[Worker]:
    """A SAQ worker as a task of the test's event loop, started (its startup done) before the
    body runs, stopped after."""
    from portal.settings import Settings

    assert isinstance(settings, Settings)
    worker = build_worker(settings, options=options, jobs=jobs, concurrency=2,
                          redis_url=REDIS_URL)
    task = asyncio.create_task(run_worker(worker))
    deadline = time.monotonic() + 20
    while "toothline" not in worker.context:
        if task.done() or time.monotonic() > deadline:
            task.result() if task.done() else task.cancel()
            raise RuntimeError("the worker did not start")
        await asyncio.sleep(0.02)
    try:
        yield worker
    finally:
        await worker.stop()
        await asyncio.wait_for(task, 20)


def worker_env(redis_url: str) -> dict[str, str]:
    """The test's TOOTHLINE_* settings (make_settings put them in os.environ) plus Redis."""
    env = dict(os.environ)
    env.update(TOOTHLINE_REDIS_URL=redis_url, PYTHONUNBUFFERED="1",
               PYTHONPATH=str(REPO_ROOT))
    return env


@contextlib.contextmanager
def running_worker(var_dir: Path, env: Mapping[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``toothline worker`` beside portals started by ``tests.support.live.running_portal``
    with the same ``env`` (only those TOOTHLINE_* settings, none of the outer ones)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("TOOTHLINE_")}
    child_env.update(TOOTHLINE_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1", **env)
    with (var_dir / "worker.log").open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "portal.cli", "worker", "--concurrency", "2"],
            cwd=REPO_ROOT, env=child_env, stdout=out, stderr=out,
        )
    try:
        yield process
    finally:
        stop_process(process)


def start_worker_process(args: list[str], log: Path, redis_url: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, *args], cwd=REPO_ROOT,
                                env=worker_env(redis_url), stdout=out, stderr=out)


def stop_process(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.returncode


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


async def slow_job(db: AsyncSession, blobs: BlobStore, payload: Mapping[str, str]) -> None:
    """First run: note the pid in ``started`` and hang (the test kills this worker). Any later
    run: note the pid in ``done``."""
    folder = Path(payload["folder"])
    if not (folder / "started").exists():
        (folder / "started").write_text(str(os.getpid()))
        await asyncio.sleep(300)
    (folder / "done").write_text(str(os.getpid()))


def _main() -> None:
    """A worker process with the real jobs plus :func:`slow_job` and the fast timers."""
    from portal.settings import get_settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--queue", required=True)
    name = parser.parse_args().queue
    worker = build_worker(get_settings(), options=fast_options(name),
                          jobs={**JOBS, SLOW_JOB: slow_job}, concurrency=1)
    asyncio.run(run_worker(worker))


if __name__ == "__main__":
    _main()
