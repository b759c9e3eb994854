from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Response, Template
from litestar.stores.base import Store
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.current_user import CurrentUser
from portal.accounts.services import authenticate
from portal.accounts.sessions import end_session, start_session
from portal.rendering import page, redirect


def _session_store(request: Request[Any, Any, Any]) -> Store:
    return request.app.stores.get("sessions")


class SignInController(Controller):
    include_in_schema = False
    opt = {"public": True}

    @get("/")
    async def home(self, request: Request[Any, Any, Any]) -> Template:
        """Landing page with the sign-in form; a signed-in user sees their start page."""
        if isinstance(request.scope.get("user"), CurrentUser):
            return page(request, "home_signed_in.html")
        return page(request, "home.html")

    @get("/login")
    async def login_page(self, request: Request[Any, Any, Any]) -> Template:
        return page(request, "accounts/login.html")

    @post("/login", status_code=303)
    async def login(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        email = data.get("email", "")
        result = await authenticate(db_session, email, data.get("password", ""))
        if result.user is None:
            return page(
                request,
                "accounts/login.html",
                {"login_error": "The email or password is not right.", "email": email},
                fragments={"login-form": "accounts/_login-form.html"},
                status_code=401,
            )
        await start_session(
            request, _session_store(request), str(result.user.id), result.user.session_epoch
        )
        return redirect(request, "/")

    @post("/logout", status_code=303)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        await end_session(request, _session_store(request))
        return redirect(request, "/")


PAGE_CONTROLLERS: list[type] = [SignInController]
API_CONTROLLERS: list[type] = []
