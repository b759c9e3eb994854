"""Intake fixtures: an app on the file or S3 blob store, signed-in clients, helpers to
accept the consent, open a draft case and upload a file the way the browser widget does."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anyio
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.settings import Settings
from storage.blobs import BlobStore
from storage.models import Attachment, AuditEvent
from tests.support.fixtures import BAD, GOOD  # noqa: F401 (the intake tests import them here)
from tests.support.portal import csrf_token, make_settings, sign_in
from tests.support.s3server import S3Server

PATIENT = "patient@demo.test"
HYGIENIST = "hygienist@demo.test"

Client = AsyncTestClient[Litestar]


@pytest.fixture
def blob_backend() -> str:
    """file by default; the fixture matrix parametrizes it with "s3"."""
    return "file"


@pytest.fixture
def derive_inline() -> bool:
    """False: views come from the background worker (poll with ``wait_ready``). A module
    that checks views right after an upload may override this fixture with True."""
    return False


@pytest.fixture
def settings(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    tmp_path: Path,
    blob_backend: str,
    derive_inline: bool,
    request: pytest.FixtureRequest,
) -> Settings:
    env: dict[str, str] = {}
    if blob_backend == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        env["BLOB_URL"] = server.url(S3Server.new_bucket_name("intake"))
    if derive_inline:
        env["DERIVE_INLINE"] = "true"
    return make_settings(monkeypatch, database_url, tmp_path, **env)


async def wait_ready(
    client: Client, case_id: uuid.UUID | str, attachment_ids: Iterable[str], timeout: float = 20,
    *, done: tuple[str, ...] = ("ready",),
) -> dict[str, Any]:
    """Poll the case (as the submitter) until the attachments' views are made (the background
    derivation worker; ``done``: the statuses that count, e.g. also ``identity_mismatch``);
    return the case. Bounded: fails after ``timeout`` seconds."""
    wanted = set(attachment_ids)
    with anyio.fail_after(timeout):
        while True:
            response = await client.get(f"/api/v1/cases/{case_id}")
            assert response.status_code == 200, response.text
            case = response.json()
            ready = {a["id"] for a in case["attachments"] if a["status"] in done}
            if wanted <= ready:
                return dict(case)
            await anyio.sleep(0.05)


async def headers(client: Client, **extra: str) -> dict[str, str]:
    return {"x-csrftoken": await csrf_token(client), "accept": "application/json", **extra}


async def accept_consent(client: Client, **body: Any) -> Any:
    form = (await client.get("/api/v1/consent-forms/teledentistry")).json()
    return await client.post(
        "/api/v1/consents",
        json={"form": "teledentistry", "version": form["version"], **body},
        headers=await headers(client),
    )


async def new_case(client: Client, key: str | None = None, **body: Any) -> Any:
    extra = {"Idempotency-Key": key} if key else {}
    return await client.post(
        "/api/v1/cases",
        json={"kind": "post_op", **body},
        headers=await headers(client, **extra),
    )


async def upload(
    client: Client,
    url: str,
    data: bytes,
    name: str,
    *,
    kind: str = "photo",
    view: str = "other",
    teeth: str = "",
    key: str | None = None,
) -> Any:
    extra = {"Idempotency-Key": key} if key else {}
    return await client.post(
        url,
        data={"kind": kind, "view": view, "teeth": teeth},
        files={"file": (name, data, "application/octet-stream")},
        headers=await headers(client, **extra),
    )


@pytest.fixture
async def patient(client: Client) -> Client:
    """The demo patient, signed in, with the teledentistry consent accepted."""
    await sign_in(client, PATIENT)
    response = await accept_consent(client)
    assert response.status_code == 201, response.text
    return client


@pytest.fixture
async def draft(patient: Client) -> uuid.UUID:
    """A draft case of the demo patient."""
    response = await new_case(patient)
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


def blob_store(app: Litestar) -> BlobStore:
    store: BlobStore = app.state.blobs
    return store


async def stored_keys(app: Litestar) -> list[str]:
    return [stat.key async for stat in blob_store(app).list("attachments/")]


async def attachments(db: AsyncSession, case_id: uuid.UUID) -> list[Attachment]:
    db.expire_all()
    return list(await db.scalars(select(Attachment).where(Attachment.case_id == case_id)))


async def audit_actions(db: AsyncSession) -> list[str]:
    db.expire_all()
    return list(await db.scalars(select(AuditEvent.action).order_by(AuditEvent.occurred_at)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the fixture matrix affordable: the page route is not repeated on PostgreSQL (the
    API route is, on both blob stores; the page route runs the same code)."""
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (
            "test_fixture_matrix" in item.nodeid
            and params.get("route") == "page"
            and params.get("database_url") == "postgres"
        ):
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
