"""The DICOMweb archive (docs/interop.md "DICOMweb"): the admin's settings page
``/admin/archive`` and API ``GET/PUT /api/v1/organizations/{organization_id}/archive``; a
case's send, ``POST /api/v1/cases/{case_id}/archive`` (queue, 202) and ``GET`` (its status),
and the same as the htmx fragment ``/archive/cases/{case_id}`` the review page loads.

Settings: admins of the organization; sends: dentists and admins of the case's organization
(``reviewer/interop/archive.py`` checks both; another organization's object is 404). The
password is write-only: answers say only whether one is set.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.guards import require_roles
from portal.admin.fee_schedules import AdminPages, chosen_organization, form_organization
from portal.errors import Refused, attempt
from portal.rendering import page, redirect
from portal.requests import ActorDep, AnyRequest, AuditDep, DbDep, Form
from reviewer.actor import Actor
from reviewer.interop import archive
from reviewer.interop.archive import ArchiveInput
from storage.models import Role
from storage.models.archive import ArchiveSend, ArchiveSettings

admin_only = require_roles(Role.ADMIN)
senders = require_roles(*archive.SENDERS)


class ArchiveSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    base_url: str
    """The DICOMweb root, ``https://pacs.example/dicom-web`` (STOW-RS goes to ``…/studies``)."""
    restore_identity: bool = False
    """The archive is the practice's own: send the patient's name and birth date, and give
    radiographs back the tags intake removed."""
    enabled: bool = False
    """Send every case when it is signed (and allow "Send to archive")."""
    username: str | None = None
    """HTTP basic-auth user (``null`` or empty: none)."""
    password: str | None = None
    """HTTP basic-auth password; ``null`` keeps the stored one, ``""`` removes it. Never
    answered back."""


def settings_json(organization_id: uuid.UUID, row: ArchiveSettings | None) -> dict[str, Any]:
    if row is None:
        return {"organization_id": str(organization_id), "configured": False,
                "base_url": None, "username": None, "has_password": False,
                "restore_identity": False, "enabled": False}
    return {"organization_id": str(organization_id), "configured": True,
            "base_url": row.base_url, "username": row.username,
            "has_password": bool(row.password), "restore_identity": row.restore_identity,
            "enabled": row.enabled, "updated_at": row.updated_at.isoformat()}


def send_json(case_id: uuid.UUID, row: ArchiveSend | None) -> dict[str, Any]:
    if row is None:
        return {"case_id": str(case_id), "state": None, "attempts": 0, "last_error": None,
                "sent_at": None, "study_instance_uid": None, "instances": 0}
    return {"case_id": str(case_id), "state": row.state, "attempts": row.attempts,
            "last_error": row.last_error,
            "sent_at": row.sent_at.isoformat() if row.sent_at else None,
            "study_instance_uid": row.study_instance_uid, "instances": row.instances}


class ArchiveSettingsApi(Controller):
    path = "/organizations/{organization_id:uuid}/archive"
    tags = ["administration"]
    guards = [admin_only]

    @get("/")
    async def read(
        self, db_session: DbDep, who: ActorDep, organization_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """The organization's archive settings (``configured: false`` when none)."""
        return settings_json(organization_id,
                             await archive.get_settings(db_session, who, organization_id))

    @put("/")
    async def replace(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep,
        organization_id: FromPath[uuid.UUID], data: JSONBody[ArchiveSettingsIn],
    ) -> dict[str, Any]:
        """Create or replace the settings (audited without the password); 400
        ``invalid_archive_settings`` for a URL that is not an http(s) DICOMweb root."""
        row = await archive.save_settings(
            db_session, who, audit, organization_id,
            ArchiveInput(base_url=data.base_url, restore_identity=data.restore_identity,
                         enabled=data.enabled, username=data.username, password=data.password))
        return settings_json(organization_id, row)


class CaseArchiveApi(Controller):
    path = "/cases/{case_id:uuid}/archive"
    tags = ["interop"]
    guards = [senders]

    @get("/")
    async def status(
        self, db_session: DbDep, who: ActorDep, case_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """The case's send: ``state`` queued | sent | failed (``null``: never sent)."""
        return send_json(case_id, await archive.send_status(db_session, who, case_id))

    @post("/", status_code=202)
    async def send(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, case_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """Queue the (re)send of a signed case; 409 ``no_archive`` or ``case_not_signed``."""
        return send_json(case_id, await archive.queue_send(db_session, who, audit, case_id))


def _status_fragment(request: AnyRequest, case_id: uuid.UUID, row: ArchiveSend | None,
                     enabled: bool) -> Template:
    return page(request, "interop/_archive-status.html",
                {"case_id": case_id, "send": row, "archive_on": enabled})


class CaseArchivePages(Controller):
    """The case page's archive line (an htmx fragment) and its "Send to archive" button."""

    path = "/archive/cases/{case_id:uuid}"
    include_in_schema = False
    guards = [senders]

    @get("/")
    async def fragment(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        case_id: FromPath[uuid.UUID],
    ) -> Template:
        row, enabled = await archive.send_view(db_session, who, case_id)
        return _status_fragment(request, case_id, row, enabled)

    @post("/", status_code=200, opt={"back": "/review/cases/{case_id}"})
    async def send(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID],
    ) -> Template:
        """Queue the send; answers the fragment (a refusal: flashed on the case page)."""
        row = await archive.queue_send(db_session, who, audit, case_id)
        return _status_fragment(request, case_id, row, True)


async def _settings_page(
    request: AnyRequest, db: AsyncSession, who: Actor, organization: Any, *,
    status_code: int = 200, **extra: Any,
) -> Template:
    organizations, org = await chosen_organization(db, who, organization)
    row = await archive.get_settings(db, who, org.id) if org is not None else None
    values = {"base_url": row.base_url if row else "", "username": (row.username or "")
              if row else "", "restore_identity": bool(row and row.restore_identity),
              "enabled": bool(row and row.enabled)}
    return page(request, "admin/archive.html",
                {"organizations": organizations, "org": org, "settings": row,
                 "values": {**values, **extra.pop("values", {})}, **extra},
                status_code=status_code)


class AdminArchiveController(AdminPages):
    path = "/admin/archive"

    @get("/", opt={"back": "/admin/archive"})
    async def index(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        organization_id: FromQuery[str] = "",
    ) -> Template:
        return await _settings_page(request, db_session, who, organization_id)

    @post("/", status_code=303, opt={"back": "/admin/archive"})
    async def save(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        data: Form,
    ) -> Response[Any]:
        """Save; 422 with the message and the typed values (never the password) kept."""
        org_value = data.get("organization_id", "")
        password = data.get("password", "")

        async def save() -> ArchiveSettings:
            org = await form_organization(db_session, who, org_value)
            return await archive.save_settings(db_session, who, audit, org.id, ArchiveInput(
                base_url=data.get("base_url", ""),
                restore_identity=data.get("restore_identity") == "yes",
                enabled=data.get("enabled") == "yes",
                username=data.get("username", ""),
                # an empty field keeps the stored password; the checkbox removes it
                password="" if data.get("clear_password") == "yes" else (password or None),
            ))

        row = await attempt(db_session, save)
        if isinstance(row, Refused):
            return await _settings_page(
                request, db_session, who, org_value, status_code=422, error=row.message,
                values={"base_url": data.get("base_url", ""),
                        "username": data.get("username", ""),
                        "restore_identity": data.get("restore_identity") == "yes",
                        "enabled": data.get("enabled") == "yes"})
        return redirect(request, f"/admin/archive?organization_id={row.organization_id}",
                        success="The archive settings are saved.")


PAGE_CONTROLLERS: list[type] = [AdminArchiveController, CaseArchivePages]
API_CONTROLLERS: list[type] = [ArchiveSettingsApi, CaseArchiveApi]
