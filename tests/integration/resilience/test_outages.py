"""The database or the blob store going away: /readyz says which, and the portal recovers
when it returns. Outages are simulated with a loopback proxy, never by stopping a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from portal.app import create_app
from storage.blobs.sweep import sweep_orphan_blobs
from storage.database import create_engine, create_session_maker
from storage.models import Attachment
from tests.integration.resilience.api import PHOTO
from tests.support.portal import DEMO_PASSWORD, csrf_token, make_settings, seed, sign_in
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


# --------------------------------------------------------------------------- mid-request


def _assert_clean_503(response: Any, code: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code and body["message"]
    assert "Traceback" not in response.text
    assert int(response.headers["retry-after"]) > 0


async def _attachment_rows(database_url: str) -> list[Attachment]:
    engine = create_engine(database_url)
    try:
        async with create_session_maker(engine)() as db:
            return list(await db.scalars(select(Attachment)))
    finally:
        await engine.dispose()


@pytest.mark.s3
@pytest.mark.parametrize("when", ["before_blob_writes", "between_blob_writes"])
async def test_blob_store_gone_mid_upload_leaves_no_row_and_recovers(
    when: str, s3_server: S3Server, clean_sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The store goes away before the upload's first blob write, or after the original is
    written: 503 ``storage_unavailable``, no Attachment row; the same upload (same
    Idempotency-Key) succeeds once the store is back, and the sweep removes what the failed
    attempt could not delete."""
    sqlite_url = clean_sqlite_url
    await seed(sqlite_url)
    host, port = s3_server.endpoint.split(":")
    with tcp_proxy(host, int(port)) as proxy:
        bucket = S3Server.new_bucket_name("midupload")
        blob_url = s3_server.url(bucket).replace(s3_server.endpoint, f"127.0.0.1:{proxy.port}")
        blob_url += "&connect_timeout=1&read_timeout=5&retries=0"
        # Views made in the request: the three blob writes this test cuts between.
        settings = make_settings(monkeypatch, sqlite_url, tmp_path, BLOB_URL=blob_url,
                                 DERIVE_INLINE="true")
        app = create_app(settings)
        async with AsyncTestClient(app=app) as client:
            await sign_in(client, "patient@demo.test")
            headers = {"x-csrftoken": await csrf_token(client), "accept": "application/json"}
            form = (await client.get("/api/v1/consent-forms/teledentistry")).json()
            consent = await client.post("/api/v1/consents", headers=headers,
                                        json={"form": "teledentistry", "version": form["version"]})
            assert consent.status_code in (201, 409), consent.text
            case = await client.post("/api/v1/cases", json={"kind": "post_op"}, headers=headers)
            case_id = case.json()["id"]
            store = app.state.blobs
            assert [s async for s in store.list("attachments/")] == []  # creates the bucket

            real_put = store.put
            puts: list[str] = []

            async def put_then_cut(key: str, *args: Any, **kwargs: Any) -> Any:
                result = await real_put(key, *args, **kwargs)
                puts.append(key)
                if len(puts) == 1:
                    proxy.cut()  # the store goes away between the blob writes
                return result

            if when == "before_blob_writes":
                proxy.cut()
            else:
                monkeypatch.setattr(store, "put", put_then_cut)

            async def send() -> Any:
                return await client.post(
                    f"/api/v1/cases/{case_id}/attachments",
                    data={"kind": "photo", "view": "other"},
                    files={"file": ("photo.jpg", PHOTO, "application/octet-stream")},
                    headers={**headers, "Idempotency-Key": "photo-1"},
                )

            with anyio.fail_after(60):
                failed = await send()
            _assert_clean_503(failed, "storage_unavailable")
            assert await _attachment_rows(sqlite_url) == []
            assert len(puts) == (1 if when == "between_blob_writes" else 0)

            proxy.restore()
            monkeypatch.setattr(store, "put", real_put)
            with anyio.fail_after(60):
                retried = await send()
            assert retried.status_code == 201, retried.text
            rows = await _attachment_rows(sqlite_url)
            assert [str(r.id) for r in rows] == [retried.json()["id"]]
            for variant in ("original", "display", "thumbnail"):
                shown = await client.get(
                    f"/api/v1/cases/{case_id}/attachments/{rows[0].id}/{variant}")
                assert shown.status_code == 200 and shown.content

            # What the failed attempt wrote and could not delete is an orphan for the sweep.
            keys = {s.key async for s in store.list("attachments/")}
            kept = {rows[0].original_key, rows[0].display_key, rows[0].thumbnail_key}
            assert keys - kept == set(puts)
            async with app.state.db_sessionmaker() as db:
                swept = await sweep_orphan_blobs(
                    db, store, min_age=timedelta(0), now=datetime.now(UTC) + timedelta(1))
            assert swept.removed == len(puts)
            assert {s.key async for s in store.list("attachments/")} == kept
            for key in kept:
                await store.delete(key)


@pytest.mark.postgres
async def test_api_calls_during_a_database_outage_get_a_clean_503(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Bearer API calls and signed-in pages while PostgreSQL is unreachable: 503
    ``database_unavailable`` (JSON under /api, the error page elsewhere), never a 500; the
    next request after the database returns works."""
    await seed(postgres_url)
    parts = urlsplit(postgres_url)
    with tcp_proxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        proxied = postgres_url.replace(f":{parts.port}/", f":{proxy.port}/")
        app = create_app(make_settings(monkeypatch, proxied, tmp_path))
        async with AsyncTestClient(app=app) as client:
            created = await client.post("/api/v1/tokens", json={
                "email": "dentist@demo.test", "password": DEMO_PASSWORD, "name": "outage"})
            assert created.status_code == 201, created.text
            bearer = {"authorization": f"Bearer {created.json()['token']}"}
            await sign_in(client, "dentist@demo.test")
            assert (await client.get("/api/v1/queue", headers=bearer)).status_code == 200

            proxy.cut()
            with anyio.fail_after(30):
                api = await client.get("/api/v1/queue", headers=bearer)
                claim = await client.post("/api/v1/queue/claim", headers=bearer)
                page = await client.get("/review")
            _assert_clean_503(api, "database_unavailable")
            _assert_clean_503(claim, "database_unavailable")
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")
            assert "Traceback" not in page.text

            proxy.restore()
            with anyio.fail_after(30):
                assert (await client.get("/api/v1/queue", headers=bearer)).status_code == 200
                assert (await client.get("/review")).status_code == 200
                assert (await client.post("/api/v1/queue/claim",
                                          headers=bearer)).status_code == 204
