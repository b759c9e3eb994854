from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.portal import csrf_token, sign_in

Client = AsyncTestClient[Litestar]


async def test_healthz_and_readyz(client: Client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


async def test_readyz_names_a_failing_blob_store(client: Client, app: Litestar) -> None:
    class Down:
        async def ping(self) -> None:
            raise OSError("gone")

        async def aclose(self) -> None:
            return None

    app.state.blobs = Down()
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["blob_store"]


async def test_landing_page_answers_everyone(client: Client) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert 'id="login-form"' in response.text
    assert "/static/vendor/htmx.min.js" in response.text
    # the language comes from the browser or the cookie too (portal/i18n.py)
    assert response.headers["vary"] == "HX-Request, Accept-Language, Cookie"


async def test_security_headers_on_every_response(client: Client) -> None:
    for path in ("/", "/healthz", "/no-such-page", "/static/css/app.css"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "referrer-policy" in response.headers
        assert "strict-transport-security" not in response.headers  # plain http here


async def test_static_htmx_is_vendored(client: Client) -> None:
    response = await client.get("/static/vendor/htmx.min.js")
    assert response.status_code == 200
    assert "htmx" in response.text[:2000]


async def test_openapi_schema_at_default_path(client: Client) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Toothline API"
    paths = response.json()["paths"]
    for throttled in ("/api/v1/tokens", "/api/v1/cases/{case_id}/evaluation/sign",
                      "/api/v1/cases/{case_id}/evaluation/addenda"):
        assert "429" in paths[throttled]["post"]["responses"], throttled


async def test_not_found_is_an_error_page_without_internals(client: Client) -> None:
    response = await client.get("/does/not/exist")
    assert response.status_code == 404
    assert "Traceback" not in response.text
    api = await client.get("/api/v1/does-not-exist")
    assert api.status_code == 404
    assert api.json()["code"] == "not_found"


async def test_sign_in_and_out(client: Client) -> None:
    await sign_in(client, "patient@demo.test")
    home = await client.get("/")
    assert "patient@demo.test" in home.text
    assert 'action="/logout"' in home.text
    token = await csrf_token(client)
    out = await client.post("/logout", headers={"x-csrftoken": token}, follow_redirects=False)
    assert out.status_code == 303
    assert "patient@demo.test" not in (await client.get("/")).text


async def test_wrong_password_is_refused(client: Client) -> None:
    token = await csrf_token(client)
    response = await client.post(
        "/login",
        data={"email": "patient@demo.test", "password": "wrong-password-1"},
        headers={"x-csrftoken": token},
    )
    assert response.status_code == 401
    assert "not right" in response.text
    assert "patient@demo.test" not in (await client.get("/")).text.split("<main", 1)[0]


async def test_post_without_csrf_token_is_refused(client: Client) -> None:
    await client.get("/login")
    response = await client.post(
        "/login", data={"email": "patient@demo.test", "password": "demo-password-123"}
    )
    assert response.status_code == 403


async def test_session_id_changes_at_sign_in(client: Client) -> None:
    await client.get("/login")
    await sign_in(client, "dentist@demo.test")
    first = client.cookies.get("session")
    assert first
    await sign_in(client, "dentist@demo.test")
    assert client.cookies.get("session") != first
