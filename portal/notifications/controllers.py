"""Staff see each notification's attempts and outcome (``/notifications``, and JSON at
``/api/v1/notifications``); a signed-in person chooses how they are notified
(``POST /account/notifications``, the fieldset on the account page)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromQuery
from litestar.response import Response, Template

from portal.accounts.guards import require_roles, signed_in
from portal.i18n import gettext
from portal.rendering import page, redirect
from portal.requests import ActorDep, AnyRequest, AuditDep, DbDep, Form
from reviewer.notifications.services import (
    STAFF_ROLES,
    list_notifications,
    notification_json,
    set_choice,
)

staff_only = require_roles(*STAFF_ROLES)


class NotificationsPageController(Controller):
    path = "/notifications"
    include_in_schema = False
    guards = [staff_only]

    @get("/")
    async def index(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        case_id: FromQuery[uuid.UUID | None] = None,
    ) -> Template:
        """The newest notifications of the caller's organizations (one case's with
        ``?case_id=``): kind, channel, state, attempts, the last error's kind."""
        rows = await list_notifications(db_session, who, case_id=case_id)
        return page(request, "notifications/index.html",
                    {"rows": rows, "case_id": case_id})


class NotificationChoiceController(Controller):
    path = "/account/notifications"
    include_in_schema = False
    guards = [signed_in]

    @post("/", status_code=303, opt={"back": "/account"})
    async def choose(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        data: Form,
    ) -> Response[Any]:
        await set_choice(db_session, who, audit, notify_by=data.get("notify_by", ""),
                         mobile_phone=data.get("mobile_phone", ""))
        return redirect(request, "/account", success=gettext("Your notification choice is saved."))


class NotificationsApiController(Controller):
    path = "/notifications"
    tags = ["notifications"]
    guards = [staff_only]

    @get("/")
    async def list(
        self, db_session: DbDep, who: ActorDep,
        case_id: FromQuery[uuid.UUID | None] = None,
    ) -> dict[str, Any]:
        """Notifications of the caller's organizations, newest first (one case's with
        ``case_id``; another organization's case lists nothing). No addresses, no text."""
        rows = await list_notifications(db_session, who, case_id=case_id)
        return {"notifications": [notification_json(r) for r in rows]}


PAGE_CONTROLLERS: list[type] = [NotificationsPageController, NotificationChoiceController]
API_CONTROLLERS: list[type] = [NotificationsApiController]
