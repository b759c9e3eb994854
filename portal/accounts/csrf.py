"""CSRF tokens bound to the session, and the Origin check for cookie-carrying requests.

A signed-in browser's token is ``HMAC(secret key, session id)``: it is worth nothing with
another session's cookie, and it changes when the session id does (at sign-in and on every
change of privilege, see :mod:`portal.accounts.sessions`). Nothing is stored for it. Before
sign-in there is no session to bind to (anonymous sessions are not stored), so the sign-in
and link pages keep litestar's signed double-submit cookie.

The ``csrftoken`` cookie always carries the token that is current for the answer (the
session-bound one once signed in): scripts and tests may read it, but for a signed-in
request it proves nothing on its own; only the HMAC of the session id is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.middleware.csrf import generate_csrf_hash, generate_csrf_token
from litestar.types import Scope

from portal.accounts.sessions import ROTATE_SCOPE_KEY, USER_KEY

SESSION_COOKIE = "session"
CSRF_COOKIE = "csrftoken"
_ANON_SCOPE_KEY = "_toothline_anonymous_csrf"
_SECRET_HEX = 64  # litestar's random part: 32 bytes as hex


def _cookies(scope: Scope) -> dict[str, str]:
    return dict(ASGIConnection(scope).cookies)


def _secret(scope: Scope) -> str:
    secret: str = scope["litestar_app"].state.settings.session.secret_key
    return secret


def signed_in_session_id(scope: Scope) -> str | None:
    """The id of the session that will carry this answer, when it belongs to a signed-in
    user; ``None`` for an anonymous (or emptied) session."""
    session = scope.get("session")
    if not isinstance(session, dict) or not session.get(USER_KEY):
        return None
    rotated = scope.get(ROTATE_SCOPE_KEY)
    if isinstance(rotated, str):
        return rotated
    return _cookies(scope).get(SESSION_COOKIE) or None


def session_token(secret: str, session_id: str) -> str:
    return hmac.new(
        secret.encode(), b"toothline-csrf\x00" + session_id.encode(), hashlib.sha256
    ).hexdigest()


def valid_anonymous_token(secret: str, token: str) -> bool:
    """A token litestar's ``generate_csrf_token`` made with ``secret`` (random + its HMAC)."""
    if len(token) <= _SECRET_HEX:
        return False
    random_part, mac = token[:_SECRET_HEX], token[_SECRET_HEX:]
    return hmac.compare_digest(mac, generate_csrf_hash(token=random_part, secret=secret))


def current_token(scope: Scope) -> str:
    """The token a page rendered now must carry (computed from the session as it is now, so
    a session that timed out during this request already gets an anonymous token)."""
    secret = _secret(scope)
    session_id = signed_in_session_id(scope)
    if session_id is not None:
        return session_token(secret, session_id)
    minted = scope.get(_ANON_SCOPE_KEY)
    if isinstance(minted, str):
        return minted
    cookie = _cookies(scope).get(CSRF_COOKIE, "")
    token = cookie if valid_anonymous_token(secret, cookie) else generate_csrf_token(secret)
    scope[_ANON_SCOPE_KEY] = token  # type: ignore[literal-required]
    return token


def token_is_valid(scope: Scope, submitted: str | None) -> bool:
    """Checked before the request is handled: with a signed-in session only that session's
    HMAC passes; without one, the signed double-submit cookie."""
    if not submitted:
        return False
    secret = _secret(scope)
    session_id = signed_in_session_id(scope)
    if session_id is not None:
        return hmac.compare_digest(submitted, session_token(secret, session_id))
    cookie = _cookies(scope).get(CSRF_COOKIE, "")
    return (
        valid_anonymous_token(secret, submitted)
        and hmac.compare_digest(submitted, cookie)
    )


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` in lower case, default ports dropped; ``None`` if ``url`` is
    not an http(s) origin (``null`` included)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in {"http", "https"} or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or (scheme, port) in {("http", 80), ("https", 443)}:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def request_origin(scope: Scope) -> str | None:
    """The origin this request was sent to: its scheme (from a trusted proxy where there is
    one) and its ``Host``. A browser always sends the Host of the server it talks to, so a
    cross-site page cannot make its Origin equal this."""
    host = header(scope, b"host")
    if not host:
        return None
    return origin_of(f"{scope.get('scheme', 'http')}://{host}")


def is_cross_site(scope: Scope, origin: str) -> bool:
    """True unless ``origin`` is the origin of ``TOOTHLINE_PUBLIC_URL`` or the origin the
    request itself was sent to (as Django does: the portal opened at ``localhost`` instead
    of ``127.0.0.1`` keeps working, and a foreign page's Origin matches neither)."""
    public: str = scope["litestar_app"].state.settings.server.public_url
    theirs = origin_of(origin)
    if theirs is None:
        return True
    return theirs not in {origin_of(public), request_origin(scope)}


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def carries_session_cookie(scope: Scope) -> bool:
    return bool(_cookies(scope).get(SESSION_COOKIE))


def token_for_template(context: Any) -> str:
    """The ``csrf_token()`` template callable: the token current at render time."""
    request = context.get("request") if hasattr(context, "get") else None
    if request is None:
        return ""
    return current_token(request.scope)


def cookie_value(scope: Scope) -> str | None:
    """The ``csrftoken`` cookie the request came with."""
    return _cookies(scope).get(CSRF_COOKIE)
