"""The job engines on real Redis and real processes: a claim package built through either engine,
a failing job retried with back-off, jobs that outlive the portal that queued them, and a job
whose worker was SIGKILLed mid-run, retried by another worker."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from saq import Queue, Status
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.app import create_app
from portal.jobs import JobRunner
from portal.jobs.saq_engine import SaqEngine, SaqOptions, enqueue
from portal.settings import Settings
from reviewer.billing.jobs import JOBS, build_package_job
from reviewer.billing.packages import BUILD_JOB
from reviewer.intake.derive_job import DERIVE_JOB
from storage.blobs import BlobStore
from storage.models import ClaimPackage
from tests.integration.billing.conftest import seed_post_op
from tests.integration.intake.conftest import accept_consent, new_case, upload, wait_ready
from tests.support.fixtures import GOOD
from tests.support.jobs import (
    REDIS_URL,
    SLOW_JOB,
    fast_options,
    start_worker_process,
    stop_process,
    worker_in_loop,
)
from tests.support.portal import csrf_token, make_settings, sign_in


async def _packages(db: AsyncSession, case_id: uuid.UUID) -> int:
    await db.rollback()  # a fresh snapshot (SQLite keeps the read transaction's)
    return int(await db.scalar(
        select(func.count()).select_from(ClaimPackage).where(ClaimPackage.case_id == case_id)
    ) or 0)


async def _until(check: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.fixture(params=["inprocess", "saq"])
async def jobs_client(
    request: pytest.FixtureRequest, settings: Settings, app: Litestar,
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The portal with either engine: the in-process runner of the embedded default, or SAQ
    on Redis with a worker running (here, in the test's event loop)."""
    if request.param == "inprocess":
        assert isinstance(app.state.jobs, JobRunner)
        async with AsyncTestClient(app=app) as client:
            yield client
        return
    options = fast_options(request.getfixturevalue("queue_name"))
    saq_app = create_app(settings, jobs=SaqEngine(REDIS_URL, options))
    async with worker_in_loop(settings, options), AsyncTestClient(app=saq_app) as client:
        yield client


async def test_a_claim_package_is_built_by_either_engine(
    jobs_client: AsyncTestClient[Litestar], app_db: AsyncSession,
):
    seeded = await seed_post_op(app_db, jobs_client.app.state.blobs, files=(), package=False)
    await sign_in(jobs_client, "billing@demo.test")
    url = f"/api/v1/cases/{seeded.case_id}/claim-attachment.zip"
    assert (await jobs_client.get(url)).status_code == 202
    jobs = jobs_client.app.state.jobs
    jobs.submit(BUILD_JOB, {"kind": "asynchronous", "encounter_id": str(seeded.case_id)})
    await jobs.drained()
    ready = await jobs_client.get(url)
    assert ready.status_code == 200 and ready.headers["content-type"] == "application/zip"
    assert await _packages(app_db, seeded.case_id) == 1
    state = await jobs.state()
    assert [(job.name, job.status, job.attempts) for job in state.recent] == [
        (BUILD_JOB, "complete", 1)
    ]


async def test_a_failing_job_is_retried_then_succeeds(
    settings: Settings, app: Litestar, app_db: AsyncSession, queue_name: str,
):
    tries: list[int] = []

    async def flaky(db: AsyncSession, blobs: BlobStore, payload: Mapping[str, str]) -> None:
        tries.append(1)
        if len(tries) == 1:
            raise RuntimeError("the first attempt fails")
        await build_package_job(db, blobs, payload)

    jobs = {**JOBS, "test.flaky": flaky}
    options = fast_options(queue_name)
    engine = SaqEngine(REDIS_URL, options, jobs=jobs)
    async with worker_in_loop(settings, options, jobs), AsyncTestClient(
        app=create_app(settings, jobs=engine)
    ) as client:
        seeded = await seed_post_op(app_db, client.app.state.blobs, files=(), package=False)
        engine.submit("test.flaky", {"kind": "asynchronous", "encounter_id": str(seeded.case_id)})
        await engine.drained()
        state = await engine.state()
    assert len(tries) == 2
    assert await _packages(app_db, seeded.case_id) == 1
    [job] = state.recent
    assert (job.name, job.status, job.attempts) == ("test.flaky", "complete", 2)
    assert job.error is None  # SAQ clears the error of a job that succeeded at last
    with pytest.raises(KeyError):
        engine.submit("no.such.job", {})


@pytest.mark.slow
async def test_jobs_survive_a_portal_restart(
    settings: Settings, app: Litestar, app_db: AsyncSession, queue_name: str, tmp_path: Path,
):
    """Queued while no worker runs, the portal stopped: the job waits in Redis, and a
    ``toothline worker`` started afterwards builds the package."""
    engine = SaqEngine(REDIS_URL, SaqOptions(queue_name=queue_name))
    async with AsyncTestClient(app=create_app(settings, jobs=engine)) as client:
        seeded = await seed_post_op(app_db, client.app.state.blobs, files=(), package=False)
        engine.submit(BUILD_JOB, {"kind": "asynchronous", "encounter_id": str(seeded.case_id)})
    # the portal is gone; the job is in Redis and nothing has run it
    queue = Queue.from_url(REDIS_URL, name=queue_name)
    await queue.connect()
    try:
        assert await queue.count("queued") == 1
        assert await _packages(app_db, seeded.case_id) == 0
        worker = start_worker_process(
            ["-m", "portal.cli", "worker", "--queue", queue_name, "--concurrency", "1"],
            tmp_path / "worker.log", REDIS_URL,
        )
        try:
            async def built() -> bool:
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()
                return await _packages(app_db, seeded.case_id) == 1

            await _until(built, 90, "the package built by the worker")
        finally:
            returncode = stop_process(worker)
        assert returncode == 0, (tmp_path / "worker.log").read_text()  # SIGTERM: a clean stop
        assert await queue.count("queued") == 0
    finally:
        await queue.disconnect()
    # the portal started again sees the job done (admins only; no payload shown)
    engine = SaqEngine(REDIS_URL, SaqOptions(queue_name=queue_name))
    async with AsyncTestClient(app=create_app(settings, jobs=engine)) as client:
        await sign_in(client, "admin@demo.test")
        response = await client.get("/api/v1/jobs")
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["engine"], body["queued"], body["active"]) == ("saq", 0, 0)
        [job] = body["jobs"]
        assert set(job) == {"id", "name", "status", "attempts", "error"}
        assert (job["name"], job["status"], job["attempts"]) == (BUILD_JOB, "complete", 1)
        assert str(seeded.case_id) not in response.text
        html = (await client.get("/admin/jobs")).text
        assert BUILD_JOB in html and job["id"] in html


@pytest.mark.slow
async def test_a_job_whose_worker_was_killed_is_retried_by_another(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, queue_name: str, tmp_path: Path,
):
    """Process-level, on SQLite only: the job touches no table, the database plays no part."""
    make_settings(monkeypatch, sqlite_url, tmp_path)  # the workers' environment
    folder = tmp_path / "slow"
    folder.mkdir()
    log = tmp_path / "workers.log"
    command = ["-m", "tests.support.jobs", "--queue", queue_name]
    queue = Queue.from_url(REDIS_URL, name=queue_name)
    await queue.connect()
    first = start_worker_process(command, log, REDIS_URL)
    second = None
    try:
        job = await enqueue(queue, fast_options(queue_name), SLOW_JOB, {"folder": str(folder)})
        assert job is not None

        async def started() -> bool:
            assert first.poll() is None, log.read_text()
            return (folder / "started").exists()

        await _until(started, 90, "the first worker to start the slow job")
        assert (folder / "started").read_text() == str(first.pid)
        os.kill(first.pid, signal.SIGKILL)  # mid-job: no cleanup, no retry of its own
        first.wait(timeout=10)
        second = start_worker_process(command, log, REDIS_URL)

        async def completed() -> bool:
            found = await queue.job(job.key)
            return found is not None and found.status == Status.COMPLETE

        await _until(completed, 90, "the job retried by the second worker")
        assert (folder / "done").read_text() == str(second.pid)
        found = await queue.job(job.key)
        assert found is not None and found.attempts == 2
    finally:
        stop_process(first)
        if second is not None:
            stop_process(second)
        await queue.disconnect()


async def test_job_state_is_for_admins_only(
    client: AsyncTestClient[Litestar], app_db: AsyncSession,
):
    """In-process engine: the state lists the build job after a package is made; a dentist is
    refused both the API and the page."""
    seeded = await seed_post_op(app_db, client.app.state.blobs, files=(), package=False)
    client.app.state.jobs.submit(
        BUILD_JOB, {"kind": "asynchronous", "encounter_id": str(seeded.case_id)}
    )
    await client.app.state.jobs.drained()
    await sign_in(client, "dentist@demo.test")
    assert (await client.get("/api/v1/jobs")).status_code == 403
    assert (await client.get("/admin/jobs")).status_code == 403
    await client.post("/logout", headers={"x-csrftoken": await csrf_token(client)})
    await sign_in(client, "admin@demo.test")
    body = (await client.get("/api/v1/jobs", params={"limit": 5})).json()
    assert body["engine"] == "inprocess" and body["workers"] is None
    assert [(j["name"], j["status"]) for j in body["jobs"]] == [(BUILD_JOB, "complete")]
    assert (await client.get("/api/v1/jobs", params={"limit": 0})).status_code == 400
    page = await client.get("/admin/jobs")
    assert page.status_code == 200 and "in the portal process" in page.text


async def test_an_uploads_views_are_made_by_either_engine(
    jobs_client: AsyncTestClient[Litestar],
):
    """In-process: the portal's derivation worker; SAQ: the job ``intake.derive`` in a
    worker (the portal then has no derivation worker of its own)."""
    saq = isinstance(jobs_client.app.state.jobs, SaqEngine)
    assert (jobs_client.app.state.derivation is None) == saq
    await sign_in(jobs_client, "patient@demo.test")
    assert (await accept_consent(jobs_client)).status_code == 201
    case = await new_case(jobs_client)
    assert case.status_code == 201, case.text
    case_id = case.json()["id"]
    sent = await upload(jobs_client, f"/api/v1/cases/{case_id}/attachments",
                        (GOOD / "phone_postop_upright.jpg").read_bytes(), "upright.jpg")
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "processing"
    await wait_ready(jobs_client, case_id, [sent.json()["id"]], timeout=60)
    if saq:
        state = await jobs_client.app.state.jobs.state()
        assert [(j.name, j.status) for j in state.recent] == [(DERIVE_JOB, "complete")]
