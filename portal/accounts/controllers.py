"""Sign-in and sign-out, invitation/reset links, the user's own page with API tokens, and the
JSON API's ``/tokens`` and ``/me``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody
from litestar.response import Response, Template
from litestar.stores.base import Store
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.current_user import CurrentUser
from portal.accounts.forgot_password import ForgotPasswordController
from portal.accounts.guards import signed_in
from portal.accounts.invitations import (
    LINK_INVALID,
    MyLinksApiController,
    MyLinksPageController,
    invitation_page,
    set_password_from_invitation,
)
from portal.accounts.language import LanguageController
from portal.accounts.services import (
    LOCKED,
    WRONG_CREDENTIALS,
    SignInResult,
    ThrottleLimits,
    link_is_valid,
    set_password_from_link,
    sign_in,
)
from portal.accounts.sessions import end_session, start_session
from portal.accounts.tokens import (
    ListedToken,
    issue_token,
    list_tokens,
    normalize_scopes,
    revoke_token,
)
from portal.errors import error_response, form_error
from portal.i18n import gettext
from portal.rendering import page, redirect
from portal.requests import ActorDep, AnyRequest, AuditDep, DbDep, Form, current_user
from reviewer.actor import Actor
from reviewer.errors import DomainError
from storage.audit import AuditContext, record_event
from storage.models import User


def _session_store(request: AnyRequest) -> Store:
    return request.app.stores.get("sessions")


def _limits(request: AnyRequest) -> ThrottleLimits:
    return ThrottleLimits.from_settings(request.app.state.settings.session)


async def _sign_in(
    request: AnyRequest, db: AsyncSession, audit: AuditContext, email: str,
    password: str,
) -> SignInResult:
    return await sign_in(db, email, password, limits=_limits(request), context=audit)


class SignInController(Controller):
    include_in_schema = False
    opt = {"public": True}

    @get("/")
    async def home(self, request: AnyRequest) -> Template:
        """Landing page with the sign-in form; a signed-in user sees their start page."""
        if isinstance(request.scope.get("user"), CurrentUser):
            return page(request, "home_signed_in.html")
        return page(request, "home.html")

    @get("/login")
    async def login_page(self, request: AnyRequest) -> Template:
        return page(request, "accounts/login.html")

    @post("/login", status_code=303)
    async def login(
        self, request: AnyRequest, db_session: DbDep, audit: AuditDep, data: Form,
    ) -> Response[Any]:
        email = data.get("email", "")[:254]
        result = await _sign_in(request, db_session, audit, email, data.get("password", ""))
        if result.user is None:
            response = page(
                request,
                "accounts/login.html",
                {"login_error": LOCKED if result.locked else WRONG_CREDENTIALS, "email": email},
                fragments={"login-form": "accounts/_login-form.html"},
                status_code=429 if result.locked else 401,
            )
            if result.retry_after is not None:
                response.headers["Retry-After"] = str(result.retry_after)
            return response
        await start_session(
            request, _session_store(request), str(result.user.id), result.user.session_epoch
        )
        return redirect(request, "/")

    @post("/logout", status_code=303)
    async def logout(
        self, request: AnyRequest, db_session: DbDep, audit: AuditDep,
    ) -> Response[Any]:
        user = request.scope.get("user")
        if isinstance(user, CurrentUser):
            await record_event(
                db_session, "session.signed_out", audit,
                organization_id=user.current_org.id if user.current_org else None,
                subject_type="user", subject_id=user.id,
            )
        await end_session(request, _session_store(request))
        return redirect(request, "/")


class AccessLinkController(Controller):
    """Invitation and reset links: the holder sets a password. The token is the only
    credential, so these pages are public; a used, expired or unknown link answers 404. A
    patient invitation's link sets a password only for the login it created; for any other
    login it says "sign in to accept" (portal/accounts/invitations.py)."""

    path = "/access"
    include_in_schema = False
    opt = {"public": True}

    @get("/{token:str}")
    async def show(
        self, request: AnyRequest, db_session: DbDep, token: FromPath[str],
    ) -> Response[Any]:
        if await link_is_valid(db_session, token):
            return page(request, "accounts/set_password.html", {"token": token})
        return await invitation_page(request, db_session, token) or _link_invalid(request)

    @post("/{token:str}", status_code=303)
    async def set_password(
        self, request: AnyRequest, db_session: DbDep, audit: AuditDep, token: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        password = data.get("password", "")
        if password != data.get("password_confirm", ""):
            return page(request, "accounts/set_password.html",
                        {"token": token, "error": gettext("The two passwords are not the same.")},
                        status_code=422)
        try:
            if await link_is_valid(db_session, token):
                await set_password_from_link(db_session, token, password, audit)
            else:
                await set_password_from_invitation(db_session, token, password, audit)
        except DomainError as exc:
            error = await form_error(db_session, exc, own_page=())
            if exc.code == "link_invalid":
                return _link_invalid(request)
            return page(request, "accounts/set_password.html",
                        {"token": token, "error": error}, status_code=422)
        return redirect(request, "/login",
                        success=gettext("Your password is set. Sign in with it now."))


def _link_invalid(request: AnyRequest) -> Response[Any]:
    return error_response(request, 404, "link_invalid", LINK_INVALID)


def _token_row(listed: ListedToken) -> dict[str, Any]:
    token = listed.token
    return {
        "id": str(token.id),
        "name": token.name,
        "prefix": token.prefix,
        "scopes": list(listed.scopes),
        "status": listed.status,
        "created_at": token.created_at.isoformat(),
        "expires_at": token.expires_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def _token_lifetime(request: AnyRequest) -> timedelta:
    return timedelta(days=request.app.state.settings.session.api_token_days)


async def _owner(db: AsyncSession, who: Actor) -> User:
    user = await db.get(User, who.user_id)
    assert user is not None  # the auth middleware found it a moment ago
    return user


async def _account_page(
    request: AnyRequest, db: AsyncSession, who: Actor, *, status_code: int = 200,
    **extra: Any,
) -> Template:
    owner = await _owner(db, who)
    tokens = await list_tokens(db, owner)
    return page(request, "accounts/account.html",
                {"tokens": tokens, "account_user": owner, **extra},
                fragments={"api-tokens": "accounts/_api-tokens.html"}, status_code=status_code)


class AccountPageController(Controller):
    """The signed-in user's own page: who they are, their API tokens."""

    path = "/account"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def show(self, request: AnyRequest, db_session: DbDep, who: ActorDep) -> Template:
        return await _account_page(request, db_session, who)

    @post("/tokens", status_code=200)
    async def create_token(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep, data: Form,
    ) -> Template:
        user = await _owner(db_session, who)
        try:
            _, secret = await issue_token(
                db_session, user, data.get("name", ""), audit,
                lifetime=_token_lifetime(request),
                scopes=data.get("scopes", "read write").replace(",", " ").split(),
            )
        except DomainError as exc:
            key = "scope_error" if exc.code == "invalid_scope" else "token_error"
            error = await form_error(db_session, exc, own_page=())
            return await _account_page(request, db_session, who, status_code=422,
                                       **{key: error})
        return await _account_page(request, db_session, who, new_token=secret)

    @post("/tokens/{token_id:uuid}/revoke", status_code=303)
    async def revoke(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        token_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await revoke_token(db_session, who.user_id, token_id, audit)
        return redirect(request, "/account", success="The token no longer works.")


# ------------------------------------------------------------------ JSON API


@dataclass
class TokenRequest:
    email: str
    password: str
    name: str
    scopes: list[str] | None = None
    """``read`` and/or ``write`` (``write`` includes ``read``); omitted: both."""


class TokenApiController(Controller):
    path = "/tokens"
    tags = ["accounts"]

    @post("/", opt={"public": True, "exclude_from_csrf": True}, status_code=201)
    async def create(
        self, request: AnyRequest, db_session: DbDep, audit: AuditDep, data: JSONBody[TokenRequest],
    ) -> Response[Any]:
        """Exchange email and password for a bearer token, shown this once. Throttled like
        the sign-in page: 401 for wrong credentials, 429 with Retry-After when locked.
        ``scopes``: ``["read"]`` or ``["read", "write"]`` (the default); an unknown scope or
        an empty list answers 422 ``invalid_scope``. The token works until ``expires_at``
        (``TOOTHLINE_API_TOKEN_DAYS``) and ends early when the account's role,
        organizations or password change or it is deactivated."""
        normalize_scopes(data.scopes)  # a malformed request is refused before any sign-in
        result = await _sign_in(request, db_session, audit, data.email[:254], data.password)
        if result.user is None:
            if result.retry_after is not None:
                return error_response(request, 429, "locked", LOCKED,
                                      headers={"Retry-After": str(result.retry_after)})
            return error_response(request, 401, "invalid_credentials", WRONG_CREDENTIALS)
        context = replace(audit, actor_id=result.user.id, actor_role=result.user.role)
        token, secret = await issue_token(db_session, result.user, data.name, context,
                                          lifetime=_token_lifetime(request),
                                          scopes=data.scopes)
        listed = ListedToken(token, "active")
        return Response({"token": secret, **_token_row(listed)}, status_code=201)

    @get("/", guards=[signed_in])
    async def list(self, db_session: DbDep, who: ActorDep) -> dict[str, Any]:
        """The caller's tokens (never their secrets), each with its scopes, ``expires_at``
        and ``status``: ``active``, ``expired``, ``revoked`` or ``invalidated`` (the
        account's role, organizations or password changed since it was issued)."""
        tokens = await list_tokens(db_session, await _owner(db_session, who))
        return {"tokens": [_token_row(t) for t in tokens]}

    @delete("/{token_id:uuid}", guards=[signed_in], status_code=204)
    async def revoke(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, token_id: FromPath[uuid.UUID],
    ) -> None:
        """Revoke one of the caller's tokens."""
        await revoke_token(db_session, who.user_id, token_id, audit)


class MeApiController(Controller):
    path = "/me"
    tags = ["accounts"]

    @get("/", guards=[signed_in])
    async def me(self, request: AnyRequest) -> dict[str, Any]:
        """Who the token (or session) belongs to."""
        user = current_user(request)
        body: dict[str, Any] = {
            "id": str(user.id),
            "email": user.email,
            "role": user.role,
            "organizations": [{"id": str(o.id), "name": o.name} for o in user.organizations],
        }
        if user.role == "patient":
            ids = sorted(str(i) for i in user.patient_ids)
            body["patient_id"] = ids[0] if ids else None
            body["patient_ids"] = ids
        return body


PAGE_CONTROLLERS: list[type] = [SignInController, AccessLinkController, AccountPageController,
                                MyLinksPageController, ForgotPasswordController,
                                LanguageController]
API_CONTROLLERS: list[type] = [TokenApiController, MeApiController, MyLinksApiController]
