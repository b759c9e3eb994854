"""``POST /language``: the language switcher of every patient page and the account page.

Signed out, the choice lives in the ``toothline_lang`` cookie; signed in, it also becomes the
account's ``preferred_language`` (so mail and the next device follow it). A plain form POST
with the CSRF token like every other form; it answers with a redirect back to the page it
came from (a local path only: never an open redirect).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, post
from litestar.datastructures import Cookie
from litestar.response import Response
from sqlalchemy import select

from portal.accounts.current_user import CurrentUser
from portal.i18n import COOKIE, supported
from portal.rendering import redirect
from portal.requests import AnyRequest, AuditDep, DbDep, Form
from reviewer.errors import Invalid
from storage.audit import record_event
from storage.models import User

COOKIE_MAX_AGE = 365 * 24 * 3600


def local_path(value: str | None) -> str:
    """``value`` when it is a path on this site, else ``/``."""
    value = (value or "").strip()
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(char) < 0x20 for char in value):
        return "/"
    return value[:500]


class LanguageController(Controller):
    include_in_schema = False
    opt = {"public": True}

    @post("/language", status_code=303)
    async def choose(
        self, request: AnyRequest, db_session: DbDep, audit: AuditDep, data: Form,
    ) -> Response[Any]:
        language = supported(data.get("language"))
        if language is None:
            raise Invalid("Choose English or Spanish.", code="unsupported_language")
        user = request.scope.get("user")
        if isinstance(user, CurrentUser):
            account = await db_session.scalar(select(User).where(User.id == user.id))
            if account is not None and account.preferred_language != language:
                account.preferred_language = language
                await record_event(
                    db_session, "account.language_changed", audit,
                    organization_id=user.current_org.id if user.current_org else None,
                    subject_type="user", subject_id=user.id, details={"language": language},
                )
        response = redirect(request, local_path(data.get("next")))
        response.cookies.append(Cookie(
            key=COOKIE, value=language, max_age=COOKIE_MAX_AGE, path="/", samesite="lax",
            secure=request.app.state.settings.server.is_https, httponly=True,
        ))
        return response
