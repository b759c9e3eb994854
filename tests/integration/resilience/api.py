"""Talk to a live portal's JSON API the way an integration does (bearer tokens, no browser),
and find a live portal's process to kill it. Shared by the resilience and two-process
tests."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support.fixtures import FIXTURES

PHOTO = (FIXTURES / "good" / "phone_postop_upright.jpg").read_bytes()
TIMEOUT = httpx.Timeout(30.0, connect=5.0)

DRAFT = {
    "findings": "Socket healing, mild redness distal of 19.",
    "teeth_findings": [{"tooth": "19", "condition": "healing_normal"}],
    "diagnosis": "Normal post-extraction healing.",
    "advice": "Keep rinsing gently with warm salt water after meals for three more days.",
    "urgency": "routine",
    "procedures": [],
    "referral": None,
    "follow_up_days": 14,
    "internal_notes": "Restart test.",
}


def direct_client(base_url: str, token: str | None = None) -> httpx.Client:
    """A client that never goes through an environment proxy (loopback only)."""
    headers = {"accept": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=base_url, headers=headers, timeout=TIMEOUT, trust_env=False)


def api_token(base_url: str, email: str, password: str) -> str:
    with direct_client(base_url) as client:
        response = client.post(
            "/api/v1/tokens", json={"email": email, "password": password, "name": "resilience"}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["token"])


def open_draft_case(client: httpx.Client) -> uuid.UUID:
    """Accept the teledentistry consent (once) and open a draft post-op case."""
    form = client.get("/api/v1/consent-forms/teledentistry").json()
    consent = client.post("/api/v1/consents",
                          json={"form": "teledentistry", "version": form["version"]})
    assert consent.status_code in (201, 409), consent.text
    case = client.post("/api/v1/cases", json={"kind": "post_op"})
    assert case.status_code == 201, case.text
    return uuid.UUID(case.json()["id"])


def upload_photo(client: httpx.Client, case_id: uuid.UUID, data: bytes = PHOTO,
                 name: str = "photo.jpg", key: str | None = None) -> httpx.Response:
    return client.post(
        f"/api/v1/cases/{case_id}/attachments",
        data={"kind": "photo", "view": "other"},
        files={"file": (name, data, "application/octet-stream")},
        headers={"Idempotency-Key": key} if key else {},
    )


def child_pid(port: int) -> int:
    """The pid of this test process's child serving ``port`` (``running_portal`` does not
    expose its process): read from /proc, so we only ever signal our own child."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == me and b"portal.cli" in argv and str(port).encode() in argv:
            return int(entry.name)
    raise LookupError(f"no child process of {me} serves port {port}")


def json_error(response: httpx.Response) -> dict[str, Any]:
    """An error answer: JSON with a stable code and a message, no stack trace."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= {"code", "message"}
    assert "Traceback" not in response.text and "File \"" not in response.text
    return body
