"""Transport abuse: oversized, mistyped, truncated, malformed, deeply nested and stalled
bodies, and nonsense in paths and enums, all answered with a clean 4xx (JSON under /api)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from pathlib import Path
from typing import Any

import pytest

from portal.app import create_app
from portal.settings import Settings
from tests.integration.hostile.conftest import Client, headers
from tests.integration.intake.conftest import draft, new_case, patient
from tests.support.fixtures import GOOD
from tests.support.portal import DEMO_PASSWORD, make_settings, sign_in

__all__ = ["draft", "patient"]  # the intake fixtures, used here

MAX_UPLOAD = 4096
JPEG = GOOD / "phone_postop_upright.jpg"


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Settings:
    """A small upload limit, so an oversized upload is cheap to send."""
    return make_settings(monkeypatch, database_url, tmp_path,
                         MAX_UPLOAD_BYTES=str(MAX_UPLOAD))


def assert_json_error(response: Any, status: int | tuple[int, ...], code: str | None = None
                      ) -> None:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) >= {"code", "message"}, body
    assert "Traceback" not in response.text
    if code is not None:
        assert body["code"] == code, body


def multipart(boundary: str, payload: bytes, *, close: bool = True) -> bytes:
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nphoto\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() + payload
    return body + (f"\r\n--{boundary}--\r\n".encode() if close else b"")


async def test_oversized_bodies_answer_413_too_large(patient: Client, draft: uuid.UUID) -> None:
    hdrs = await headers(patient)
    big_json = b'{"kind": "question", "questionnaire": {"notes": "' + b"x" * 1_100_000 + b'"}}'
    response = await patient.post("/api/v1/cases", content=big_json,
                                  headers={**hdrs, "content-type": "application/json"})
    assert_json_error(response, 413, "too_large")

    url = f"/api/v1/cases/{draft}/attachments"
    oversized = multipart("b0undary", b"\xff\xd8\xff" + b"\0" * (MAX_UPLOAD + 10))
    response = await patient.post(url, content=oversized, headers={
        **hdrs, "content-type": "multipart/form-data; boundary=b0undary"})
    assert_json_error(response, 413, "too_large")

    # Announced too large: refused before the body is read.
    response = await patient.post(url, content=b"", headers={
        **hdrs, "content-type": "multipart/form-data; boundary=b0undary",
        "content-length": str(10 * 1024 * 1024)})
    assert_json_error(response, 413, "too_large")


async def test_wrong_content_types(patient: Client, draft: uuid.UUID) -> None:
    hdrs = await headers(patient)
    as_text = await patient.post("/api/v1/cases", content=b'{"kind": "question"}',
                                 headers={**hdrs, "content-type": "text/plain"})
    assert as_text.status_code < 500
    if as_text.status_code >= 400:
        assert_json_error(as_text, (400, 415))
    as_form = await patient.post("/api/v1/cases", data={"kind": "question"}, headers=hdrs)
    assert_json_error(as_form, (400, 415))
    url = f"/api/v1/cases/{draft}/attachments"
    json_upload = await patient.post(url, json={"file": "x"}, headers=hdrs)
    assert_json_error(json_upload, (400, 415), "malformed_upload")
    no_boundary = await patient.post(url, content=b"--x\r\n", headers={
        **hdrs, "content-type": "multipart/form-data"})
    assert_json_error(no_boundary, 400, "malformed_upload")
    # A file whose real type is not accepted, whatever its name and declared type says.
    html = await patient.post(url, data={"kind": "photo"}, files={
        "file": ("x.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg")},
        headers=hdrs)
    assert_json_error(html, (400, 415, 422))


async def test_truncated_and_malformed_multipart(patient: Client, draft: uuid.UUID) -> None:
    hdrs = await headers(patient, **{"content-type": "multipart/form-data; boundary=b0undary"})
    url = f"/api/v1/cases/{draft}/attachments"
    truncated = multipart("b0undary", JPEG.read_bytes()[:1000], close=False)
    assert_json_error(await patient.post(url, content=truncated, headers=hdrs), 400)
    garbage = b"--b0undary\r\nthis is not a part header\r\n\r\n\x00\x01"
    assert_json_error(await patient.post(url, content=garbage, headers=hdrs), 400)
    only_fields = (b"--b0undary\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n"
                   b"photo\r\n--b0undary--\r\n")
    assert_json_error(await patient.post(url, content=only_fields, headers=hdrs), 400,
                      "file_required")
    # Roster import through litestar's own multipart parsing.
    await sign_in(patient, "hygienist@demo.test")
    event = await patient.post("/api/v1/screening-events",
                               json={"site": "Lincoln", "date": "2026-11-20"},
                               headers=await headers(patient))
    assert event.status_code == 201, event.text
    roster = f"/api/v1/screening-events/{event.json()['id']}/roster"
    hdrs = await headers(patient, **{"content-type": "multipart/form-data; boundary=b0undary"})
    response = await patient.post(roster, content=truncated, headers=hdrs)
    assert_json_error(response, (400, 422))


async def test_malformed_and_deeply_nested_json(patient: Client) -> None:
    hdrs = await headers(patient, **{"content-type": "application/json"})
    for body in (b'{"kind": "question"', b"\xff\xfe", b"", b"null", b"[]", b'"x"'):
        response = await patient.post("/api/v1/cases", content=body, headers=hdrs)
        assert_json_error(response, (400, 422))
    broken = await patient.post("/api/v1/cases", content=b'{"kind": ', headers=hdrs)
    assert_json_error(broken, 400, "malformed_json")
    for depth in (2_000, 200_000):
        nested = b"[" * depth + b"]" * depth
        response = await patient.post("/api/v1/cases", content=nested, headers=hdrs)
        assert_json_error(response, (400, 413, 422))
        inside = (b'{"kind": "question", "questionnaire": ' + b'{"a":' * depth + b"1"
                  + b"}" * depth + b"}")
        response = await patient.post("/api/v1/cases", content=inside, headers=hdrs)
        assert_json_error(response, (400, 413, 422))


async def test_invalid_ids_and_enums(patient: Client) -> None:
    hdrs = await headers(patient)
    for path in ("/api/v1/cases/not-a-uuid", "/api/v1/cases/1", f"/api/v1/cases/{'9' * 400}",
                 "/api/v1/cases/%00", "/api/v1/cases/..%2F..%2Fetc",
                 f"/api/v1/cases/{uuid.uuid4()}",
                 f"/api/v1/cases/{uuid.uuid4()}/attachments/not-a-uuid/display"):
        response = await patient.get(path)
        assert response.status_code in (400, 404), (path, response.status_code)
        assert_json_error(response, (400, 404))
    page = await patient.get("/patient/cases/not-a-uuid")
    assert page.status_code in (400, 404)
    assert "text/html" in page.headers["content-type"]
    bogus_kind = await new_case(patient, kind="<script>alert(1)</script>")
    assert_json_error(bogus_kind, (400, 422))
    assert "<script>" not in bogus_kind.json()["message"]
    bogus_answer = await new_case(patient, questionnaire={"pain": 11, "swelling": "maybe"})
    assert_json_error(bogus_answer, (400, 422))
    unknown_field = await new_case(patient, questionnaire={"<b>": 1})
    assert_json_error(unknown_field, (400, 422))
    variant = await patient.get(f"/api/v1/cases/{uuid.uuid4()}/attachments/{uuid.uuid4()}/x")
    assert_json_error(variant, (400, 404))
    await sign_in(patient, "dentist@demo.test")
    queue = await patient.get("/api/v1/queue", params={"urgency": "bogus", "kind": "<x>"})
    assert_json_error(queue, (400, 422))
    cursor = await patient.get("/api/v1/queue", params={"cursor": "A" * 5000})
    assert_json_error(cursor, (400, 422))
    await sign_in(patient, "billing@demo.test")
    billing = await patient.get(f"/billing/bogus/{uuid.uuid4()}")
    assert billing.status_code in (400, 404)
    assert hdrs  # the patient's token header was made before switching users


async def test_a_stalled_upload_gets_408_quickly(
    settings: Settings, patient: Client, draft: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that sends the start of a body and then nothing: the upload route bounds
    each chunk read (TOOTHLINE_UPLOAD_CHUNK_TIMEOUT_S, 1 s here). The raw ASGI call goes to
    an app of its own (the test client's app runs on another event loop)."""
    settings = dataclasses.replace(
        settings, uploads=dataclasses.replace(settings.uploads, chunk_timeout_s=1)
    )
    token = (await patient.post("/api/v1/tokens", json={
        "email": "patient@demo.test", "password": DEMO_PASSWORD, "name": "stall"})).json()["token"]
    path = f"/api/v1/cases/{draft}/attachments"
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode()),
                    (b"content-type", b"multipart/form-data; boundary=b0undary")],
        "state": {},
    }
    first = multipart("b0undary", b"\xff\xd8\xff\xe0", close=False)
    sent_first = False
    never = asyncio.Event()
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent_first
        if not sent_first:
            sent_first = True
            return {"type": "http.request", "body": first, "more_body": True}
        await never.wait()  # the client stalls
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    loop = asyncio.get_running_loop()
    started = loop.time()
    app = create_app(settings)
    async with app.lifespan():
        await asyncio.wait_for(app(scope, receive, send), timeout=10)  # type: ignore[arg-type]
    assert loop.time() - started < 5
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    assert start["status"] == 408, body
    assert b'"request_timeout"' in body


async def test_nul_characters_in_text_are_refused_not_500(patient: Client) -> None:
    """PostgreSQL refuses NUL in text (SQLite stores it): never a 500 on either."""
    signin = await patient.post("/api/v1/tokens", json={
        "email": "a\u0000@demo.test", "password": DEMO_PASSWORD, "name": "x"})
    assert_json_error(signin, (400, 401))
    hdrs = await headers(patient)
    case = await new_case(patient, questionnaire={"notes": "tooth\u0000ache"})
    assert case.status_code in (201, 400), case.text
    if case.status_code == 400:
        assert_json_error(case, 400, "invalid_text")
    await sign_in(patient, "billing@demo.test")
    search = await patient.get("/api/v1/patients", params={"q": "Pat\u0000"})
    assert search.status_code in (200, 400), search.text
    assert hdrs
