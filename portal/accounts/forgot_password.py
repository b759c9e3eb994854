""""Forgot your password?": the owner of an account asks for a reset link, which goes by
email to the account's own address only. This is the one way to reset a login that staff may
not reset (one shared with another organization, docs/accounts.md).

The page answers the same for every address, known or not, so it tells nobody which
addresses have accounts. At most one link is mailed per account every
``RESEND_INTERVAL``; asking does not end any session (only setting the new password does),
so nobody can sign another person out by asking for their reset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar import Controller, get, post
from litestar.background_tasks import BackgroundTask
from litestar.response import Template
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.mail import compose, send
from portal.rendering import page
from portal.requests import AnyRequest, AuditDep, DbDep, Form
from reviewer.accounts.links import LIFETIMES, RESET, IssuedLink, issue_link
from reviewer.accounts.validation import normalize_email
from storage.audit import AuditContext, record_event
from storage.models import AccessLink, User

RESEND_INTERVAL = timedelta(minutes=5)
SUBJECT = "Reset your Toothline password"
BODY = """Someone asked to reset the password of the Toothline account for this email address.

To choose a new password, open this link within {hours} hours:

{url}

If you did not ask for this, ignore this email: your password stays as it is.
"""


async def request_reset(db: AsyncSession, email: str, context: AuditContext
                        ) -> tuple[User, IssuedLink] | None:
    """A reset link for the active account of ``email``, unless there is none or one was
    issued less than ``RESEND_INTERVAL`` ago. Audited when a link is issued."""
    address = normalize_email(email)
    if not address or len(address) > 254:
        return None
    user = await db.scalar(select(User).where(User.email == address))
    if user is None or not user.is_active:
        return None
    recent = await db.scalar(select(exists().where(
        AccessLink.user_id == user.id, AccessLink.purpose == RESET,
        AccessLink.used_at.is_(None),
        AccessLink.created_at > datetime.now(UTC) - RESEND_INTERVAL,
    )))
    if recent:
        return None
    link = await issue_link(db, user.id, RESET, created_by_id=None)
    await record_event(
        db, "password_reset.requested", context,
        organization_id=user.organizations[0].id if user.organizations else None,
        subject_type="user", subject_id=user.id,
    )
    return user, link


class ForgotPasswordController(Controller):
    path = "/forgot-password"
    include_in_schema = False
    opt = {"public": True}

    @get("/")
    async def show(self, request: AnyRequest) -> Template:
        return page(request, "accounts/forgot_password.html", {"sent": False})

    @post("/", status_code=200)
    async def ask(
        self, request: AnyRequest, db_session: DbDep, audit: AuditDep, data: Form,
    ) -> Template:
        settings = request.app.state.settings
        issued = await request_reset(db_session, data.get("email", "")[:254], audit)
        background = None
        if issued is not None:
            user, link = issued
            hours = int(LIFETIMES[RESET].total_seconds() // 3600)
            message = compose(settings.mail, user.email, SUBJECT, BODY.format(
                hours=hours, url=f"{settings.server.public_url}/access/{link.token}"))
            message["X-Toothline-Purpose"] = "password_reset"
            background = BackgroundTask(send, settings.mail, settings.var_dir, message)
        response = page(request, "accounts/forgot_password.html", {"sent": True})
        response.background = background
        return response
