"""The database or the blob store going away: /readyz says which, and the portal recovers
when it returns. Outages are simulated with a loopback proxy, never by stopping a server."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from litestar.testing import AsyncTestClient

from portal.app import create_app
from tests.support.portal import make_settings, seed
from tests.support.s3server import S3Server
from tests.support.tcp_proxy import tcp_proxy


@pytest.mark.postgres
async def test_database_outage_is_reported_and_recovers(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    await seed(postgres_url)
    parts = urlsplit(postgres_url)
    with tcp_proxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        proxied = postgres_url.replace(f":{parts.port}/", f":{proxy.port}/")
        app = create_app(make_settings(monkeypatch, proxied, tmp_path))
        async with AsyncTestClient(app=app) as client:
            assert (await client.get("/readyz")).status_code == 200
            proxy.cut()
            down = await client.get("/readyz")
            assert down.status_code == 503
            assert down.json()["failing"] == ["database"]
            assert (await client.get("/healthz")).status_code == 200  # alive, not ready
            proxy.restore()
            assert (await client.get("/readyz")).status_code == 200
            assert (await client.get("/")).status_code == 200


@pytest.mark.s3
async def test_blob_store_outage_is_reported_and_recovers(
    s3_server: S3Server, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    host, port = s3_server.endpoint.split(":")
    with tcp_proxy(host, int(port)) as proxy:
        blob_url = s3_server.url("outage").replace(s3_server.endpoint, f"127.0.0.1:{proxy.port}")
        blob_url += "&connect_timeout=1&read_timeout=2&retries=0"
        settings = make_settings(monkeypatch, sqlite_url, tmp_path, BLOB_URL=blob_url)
        async with AsyncTestClient(app=create_app(settings)) as client:
            assert (await client.get("/readyz")).status_code == 200
            proxy.cut()
            down = await client.get("/readyz")
            assert down.status_code == 503
            assert down.json()["failing"] == ["blob_store"]
            proxy.restore()
            assert (await client.get("/readyz")).status_code == 200
