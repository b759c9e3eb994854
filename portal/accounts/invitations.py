"""The invited side of patient invitations: the owner of a login sees what waits for them
and accepts or declines it (page ``/account/links``, API ``/api/v1/me/links``); the holder of
a new login's first-password link sets the password, which accepts the invitation.

The rules are in ``reviewer.accounts.invitations``; this module is only HTTP and the password.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.response import Response, Template
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.guards import require_roles
from portal.accounts.passwords import WeakPassword, check_password_policy, hash_password_async
from portal.i18n import gettext
from portal.rendering import page, redirect
from portal.requests import ActorDep, AnyRequest, DbDep
from reviewer.accounts.invitations import (
    ACCEPTED,
    PENDING,
    PendingInvitation,
    accept,
    accept_with_first_password,
    decline,
    find_open_invitation,
    may_set_password,
    pending_for,
)
from reviewer.errors import NotFound, Unprocessable
from storage.audit import AuditContext, record_event
from storage.models import PatientInvitation, Role, User

LINK_INVALID = "This link is not valid any more. Ask for a new one."
patients_only = require_roles(Role.PATIENT)


async def set_password_from_invitation(
    db: AsyncSession, token: str, password: str, context: AuditContext
) -> User:
    """Redeem a new login's first-password link: set the password and accept the invitation.
    Any other invitation's link answers NotFound ``link_invalid``."""
    invitation = await find_open_invitation(db, token)
    if invitation is None or not await may_set_password(db, invitation):
        raise NotFound(LINK_INVALID, code="link_invalid")
    try:
        check_password_policy(password)
    except WeakPassword as exc:
        raise Unprocessable(str(exc), code="weak_password") from None
    # Of two requests racing with one link only one wins.
    won = await db.execute(
        update(PatientInvitation)
        .where(PatientInvitation.id == invitation.id, PatientInvitation.status == PENDING)
        .values(decided_at=datetime.now(UTC), status=ACCEPTED)
        .execution_options(synchronize_session=False)
    )
    user = await db.get(User, invitation.user_id)
    if getattr(won, "rowcount", 0) != 1 or user is None or user.password_hash is not None:
        raise NotFound(LINK_INVALID, code="link_invalid")
    now = datetime.now(UTC)
    user.password_hash = await hash_password_async(password)
    user.password_changed_at = now
    user.session_epoch += 1
    acting = replace(context, actor_id=user.id, actor_role=user.role)
    await accept_with_first_password(db, invitation, user, acting)
    await record_event(db, "password.set", acting, organization_id=invitation.organization_id,
                       subject_type="user", subject_id=user.id,
                       details={"purpose": "invitation"})
    return user


def pending_json(item: PendingInvitation) -> dict[str, Any]:
    return {
        "id": str(item.invitation.id),
        "organization": item.organization_name,
        "patient": f"{item.patient_first_name} {item.patient_last_initial}.",
        "guardian": item.invitation.guardian,
        "expires_at": item.invitation.expires_at.isoformat(),
    }


class MyLinksApiController(Controller):
    """Invitations waiting for the signed-in patient login."""

    path = "/me/links"
    tags = ["accounts"]
    guards = [patients_only]

    @get("/")
    async def list_pending(self, db_session: DbDep, who: ActorDep) -> dict[str, Any]:
        """Pending invitations to link this login to a patient record of an organization."""
        items = await pending_for(db_session, who)
        return {"invitations": [pending_json(i) for i in items]}

    @post("/{invitation_id:uuid}/accept", status_code=200)
    async def accept_link(
        self, db_session: DbDep, who: ActorDep, invitation_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """Accept: the patient record is linked to this login and the organization added
        (API tokens of the login stop working: its organizations changed)."""
        invitation = await accept(db_session, who, invitation_id)
        return {"id": str(invitation.id), "status": invitation.status,
                "patient_id": str(invitation.patient_id),
                "organization_id": str(invitation.organization_id)}

    @post("/{invitation_id:uuid}/decline", status_code=200)
    async def decline_link(
        self, db_session: DbDep, who: ActorDep, invitation_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """Decline: nothing is linked and the invitation's link stops working."""
        invitation = await decline(db_session, who, invitation_id)
        return {"id": str(invitation.id), "status": invitation.status}


class MyLinksPageController(Controller):
    path = "/account/links"
    include_in_schema = False
    guards = [patients_only]

    @get("/")
    async def show(self, request: AnyRequest, db_session: DbDep, who: ActorDep) -> Template:
        items = await pending_for(db_session, who)
        return page(request, "accounts/links.html", {"invitations": items})

    @post("/{invitation_id:uuid}/accept", status_code=303)
    async def accept_page(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        invitation_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await accept(db_session, who, invitation_id)
        return redirect(request, "/account/links",
                        success=gettext("The record is now linked to your login."))

    @post("/{invitation_id:uuid}/decline", status_code=303)
    async def decline_page(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        invitation_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await decline(db_session, who, invitation_id)
        return redirect(request, "/account/links",
                        success=gettext("The invitation is declined; nothing was linked."))


async def invitation_page(
    request: AnyRequest, db: AsyncSession, token: str
) -> Template | None:
    """What ``/access/{token}`` shows for an invitation's link, else ``None``: the password
    form for a new login's first-password link, otherwise "sign in to accept"."""
    invitation = await find_open_invitation(db, token)
    if invitation is None:
        return None
    if await may_set_password(db, invitation):
        return page(request, "accounts/set_password.html", {"token": token})
    return page(request, "accounts/accept_invitation.html")
