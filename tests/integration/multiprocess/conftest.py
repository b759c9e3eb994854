"""Two portal processes on different ports sharing PostgreSQL, the S3-protocol server and
Redis, as when the portal is scaled out behind a proxy."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from tests.support.database import _empty_tables
from tests.support.jobs import REDIS_URL, redis_or_skip, running_worker
from tests.support.live import LiveServer, running_portal
from tests.support.portal import seed
from tests.support.s3server import S3Server


@dataclass(frozen=True)
class Pair:
    a: LiveServer
    b: LiveServer


@pytest.fixture(scope="module")
def two_portals(
    postgres_url: str, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    redis_or_skip("two-process tests")
    asyncio.run(seed(postgres_url))
    env = {
        "TOOTHLINE_DATABASE_URL": postgres_url,
        "TOOTHLINE_BLOB_URL": s3_server.url("twoportals"),
        "TOOTHLINE_REDIS_URL": REDIS_URL,
        "TOOTHLINE_SECRET_KEY": "two-process-secret-" + "k" * 40,
        "TOOTHLINE_AUDIT_KEY": os.environ["TOOTHLINE_AUDIT_KEY"],  # the test key
    }
    try:
        tmp_path = tmp_path_factory.mktemp("two-portals")
        # with Redis the job engine is SAQ: a worker process runs the jobs (derivatives too)
        with running_portal(tmp_path / "a", env=env) as a, running_portal(
            tmp_path / "b", env=env
        ) as b, running_worker(tmp_path / "worker", env):
            yield Pair(a, b)
    finally:
        asyncio.run(_empty_tables(postgres_url))
        redis.Redis.from_url(REDIS_URL).flushdb()
