from __future__ import annotations

import httpx
import pytest

from tests.integration.multiprocess.conftest import Pair

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.slow]


def _sign_in(client: httpx.Client, base: str, email: str, password: str) -> None:
    client.get(f"{base}/login")
    response = client.post(
        f"{base}/login",
        data={"email": email, "password": password},
        headers={"x-csrftoken": client.cookies["csrftoken"]},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def test_a_session_made_on_one_portal_is_valid_on_the_other(two_portals: Pair) -> None:
    with httpx.Client() as client:
        _sign_in(client, two_portals.a.url, "dentist@demo.test", two_portals.a.password)
        # The same cookies, sent to the other process: the session lives in Redis.
        page = client.get(f"{two_portals.b.url}/")
        assert "dentist@demo.test" in page.text
        token = client.cookies["csrftoken"]
        out = client.post(f"{two_portals.b.url}/logout", headers={"x-csrftoken": token},
                          follow_redirects=False)
        assert out.status_code == 303
        assert "dentist@demo.test" not in client.get(f"{two_portals.a.url}/").text


def test_both_portals_are_ready_on_the_shared_services(two_portals: Pair) -> None:
    for server in (two_portals.a, two_portals.b):
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 200, ready.text
