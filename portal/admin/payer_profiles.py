"""Payer profiles, admin only (docs/billing.md "Payer profiles"): the pages
``/admin/payer-profiles`` (list, create) and ``/admin/payer-profiles/{profile_id}`` (edit, the
versions kept), and the API ``GET/POST /api/v1/organizations/{organization_id}/payer-profiles``
and ``GET/PUT /api/v1/payer-profiles/{profile_id}``. A profile that does not validate answers
422 ``invalid_payer_profile`` with ``problems`` (one sentence each). Every path checks the
profile's organization is the admin's (404 otherwise)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from litestar import Controller, MediaType, get, post, put
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath, JSONBody
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.guards import require_roles
from portal.admin.fee_schedules import AdminPages, chosen_organization, form_organization
from portal.admin.schemas import PayerProfileIn
from portal.errors import Refused, attempt
from portal.rendering import page, redirect
from portal.requests import ActorDep, AnyRequest, AuditDep, DbDep
from reviewer.actor import Actor
from reviewer.billing import payer_profiles as profiles
from reviewer.billing.payer_profiles import ProfileInput
from reviewer.coding.payer import DEFAULT_PROFILE, ProfileError
from reviewer.errors import DomainError
from storage.models import PayerProfileRecord, Role
from storage.models.billing import PayerProfileVersion

admin_only = require_roles(Role.ADMIN)


def profile_json(record: PayerProfileRecord) -> dict[str, Any]:
    return {"id": str(record.id), "organization_id": str(record.organization_id),
            "name": record.name, "is_default": record.is_default, "version": record.version,
            "rules": profiles.full_rules(record)}


def version_json(version: PayerProfileVersion) -> dict[str, Any]:
    return {"version": version.version, "name": version.name,
            "is_default": version.is_default, "rules": profiles.full_rules(version),
            "saved_at": version.created_at.isoformat()}


def _refused(request: AnyRequest, exc: ProfileError) -> Response[Any]:
    return Response({"code": exc.code, "message": exc.message, "problems": exc.problems},
                    status_code=422, media_type=MediaType.JSON)


def _input(data: PayerProfileIn) -> ProfileInput:
    return ProfileInput(name=data.name, is_default=data.is_default, rules=data.rules)


class PayerProfilesApi(Controller):
    path = "/"
    tags = ["administration"]
    guards = [admin_only]
    exception_handlers = {ProfileError: _refused}

    @get("/organizations/{organization_id:uuid}/payer-profiles")
    async def list_profiles(
        self, db_session: DbDep, who: ActorDep, organization_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        rows = await profiles.list_profiles(db_session, who, organization_id)
        return {"payer_profiles": [profile_json(r) for r in rows]}

    @post("/organizations/{organization_id:uuid}/payer-profiles", status_code=201)
    async def create(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep,
        organization_id: FromPath[uuid.UUID], data: JSONBody[PayerProfileIn],
    ) -> dict[str, Any]:
        """A new profile, version 1 (audited)."""
        record = await profiles.create_profile(db_session, who, audit, organization_id,
                                               _input(data))
        return profile_json(record)

    @get("/payer-profiles/{profile_id:uuid}")
    async def read(
        self, db_session: DbDep, who: ActorDep, profile_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """The profile and every version kept, newest first."""
        record = await profiles.get_profile(db_session, who, profile_id)
        return {**profile_json(record),
                "versions": [version_json(v) for v in await profiles.versions_of(db_session,
                                                                                record)]}

    @put("/payer-profiles/{profile_id:uuid}")
    async def update(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, profile_id: FromPath[uuid.UUID],
        data: JSONBody[PayerProfileIn],
    ) -> dict[str, Any]:
        """Save the edit as the next version (audited, the old one kept)."""
        record = await profiles.update_profile(db_session, who, audit, profile_id,
                                               _input(data))
        return profile_json(record)


def _form_input(form: FormMultiDict) -> ProfileInput:
    text = str(form.get("rules", "") or "").strip() or "{}"
    try:
        rules = json.loads(text)
    except ValueError as exc:
        raise ProfileError(f"the rules are not JSON: {exc}") from None
    if not isinstance(rules, dict):
        raise ProfileError("the rules are a JSON object: {\"key\": value, ...}")
    return ProfileInput(name=str(form.get("name", "")), is_default=form.get("is_default") == "yes",
                        rules=rules)


def _problems(exc: DomainError) -> list[str]:
    return list(exc.problems) if isinstance(exc, ProfileError) else []


async def _list_page(
    request: AnyRequest, db: AsyncSession, who: Actor, organization: Any, *,
    status_code: int = 200, **extra: Any,
) -> Template:
    organizations, org = await chosen_organization(db, who, organization)
    rows = await profiles.list_profiles(db, who, org.id) if org is not None else []
    defaults = json.dumps(profiles.rules_of(DEFAULT_PROFILE), indent=2)
    return page(request, "admin/payer-profiles.html",
                {"organizations": organizations, "org": org, "profiles": rows,
                 "values": {"rules": defaults}, **extra}, status_code=status_code)


async def _edit_page(
    request: AnyRequest, db: AsyncSession, who: Actor, profile_id: uuid.UUID, *,
    status_code: int = 200, **extra: Any,
) -> Template:
    record = await profiles.get_profile(db, who, profile_id)
    values = {"name": record.name, "is_default": record.is_default,
              "rules": json.dumps(profiles.full_rules(record), indent=2)}
    return page(request, "admin/payer-profile.html",
                {"profile": record, "versions": await profiles.versions_of(db, record),
                 "values": {**values, **extra.pop("values", {})}, **extra},
                status_code=status_code)


class AdminPayerProfilesController(AdminPages):
    path = "/admin/payer-profiles"

    @get("/", opt={"back": "/admin/payer-profiles"})
    async def index(self, request: AnyRequest, db_session: DbDep, who: ActorDep) -> Template:
        return await _list_page(request, db_session, who,
                                request.query_params.get("organization_id"))

    @post("/", status_code=303, opt={"back": "/admin/payer-profiles"})
    async def create(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
    ) -> Response[Any]:
        """A new profile (version 1); 422 with each problem, the form kept."""
        form = await request.form()
        org_value = form.get("organization_id", "")

        async def create() -> PayerProfileRecord:
            org = await form_organization(db_session, who, org_value)
            return await profiles.create_profile(db_session, who, audit, org.id,
                                                 _form_input(form))

        record = await attempt(db_session, create)
        if isinstance(record, Refused):
            return await _list_page(request, db_session, who, org_value, status_code=422,
                                    error=record.message, problems=_problems(record.error),
                                    values=dict(form))
        return redirect(request, f"/admin/payer-profiles/{record.id}",
                        success=f"{record.name} is created (version 1).")

    @get("/{profile_id:uuid}", opt={"back": "/admin/payer-profiles"})
    async def detail(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        profile_id: FromPath[uuid.UUID],
    ) -> Template:
        return await _edit_page(request, db_session, who, profile_id)

    @post("/{profile_id:uuid}", status_code=303,
          opt={"back": "/admin/payer-profiles/{profile_id}"})
    async def update(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        profile_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await request.form()
        record = await attempt(db_session, lambda: profiles.update_profile(
            db_session, who, audit, profile_id, _form_input(form)))
        if isinstance(record, Refused):
            return await _edit_page(request, db_session, who, profile_id, status_code=422,
                                    error=record.message, problems=_problems(record.error),
                                    values={"name": str(form.get("name", "")),
                                            "is_default": form.get("is_default") == "yes",
                                            "rules": str(form.get("rules", ""))})
        return redirect(request, f"/admin/payer-profiles/{profile_id}",
                        success=f"Saved as version {record.version}.")
