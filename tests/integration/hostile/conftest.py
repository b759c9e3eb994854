"""Hostile-input helpers: script and markup payloads, and the check that a page shows them
escaped (never as markup, never evaluated as a template)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from markupsafe import escape

from tests.support.portal import csrf_token, sign_in

Client = AsyncTestClient[Litestar]

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
TEXTAREA = "</textarea><svg onload=alert(1)>"
TEMPLATE = "{{7*7}}zq"
"""Jinja or any other template engine evaluating it would print 49zq."""
JS_URL = "javascript:alert(1)"
RTL = "\u202egnp.exe"
RAW_MARKERS = ("<script>alert", "<img src=x", "<svg onload", "</textarea><svg")
RAW_TEMPLATE = "49zq"


def payload(tag: str) -> str:
    """Every attack in one short string (under 150 characters), tagged to find it again."""
    return f"{tag} {SCRIPT} {IMG} {TEXTAREA} {TEMPLATE} {JS_URL} {RTL}"


def medium(tag: str) -> str:
    """For fields of at most 100 characters (names): about 75 characters."""
    return f"{tag} {SCRIPT} {IMG} {TEMPLATE} {RTL}"


def short(tag: str) -> str:
    """For fields with tight limits (names: 60-100 characters)."""
    return f"{tag}<script>x</script>\"'>{{{{7*7}}}}zq"


def long_payload(tag: str, size: int = 1900) -> str:
    """A long field made of repeated payloads."""
    unit = f"{SCRIPT}{IMG}"
    return (tag + " " + unit * (size // len(unit)))[:size]


def assert_escaped(html: str, *texts: str, where: str = "") -> None:
    """Each text shows escaped; no raw markup of any payload and no evaluated template."""
    for text in texts:
        assert str(escape(text)) in html, f"{where}: {text[:40]!r} not shown escaped"
    assert_no_raw(html, where=where)


def assert_no_raw(html: str, *, where: str = "") -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, f"{where}: raw markup {marker!r} in the page"
    assert RAW_TEMPLATE not in html, f"{where}: a template expression was evaluated"
    assert 'href="javascript:' not in html.lower(), f"{where}: javascript: URL in a link"
    assert "src=\"javascript:" not in html.lower(), f"{where}: javascript: URL in a source"


async def headers(client: Client, **extra: str) -> dict[str, str]:
    return {"x-csrftoken": await csrf_token(client), "accept": "application/json", **extra}


async def page(client: Client, path: str, **params: Any) -> str:
    response = await client.get(path, params=params or None)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith("text/html")
    return response.text


async def as_user(client: Client, email: str) -> dict[str, str]:
    await sign_in(client, email)
    return await headers(client)
