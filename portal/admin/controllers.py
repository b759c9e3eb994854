"""Administration pages: staff accounts, organizations, dentists' organizations and
licenses, and the audit trail (browse, filter, CSV export). Admin only; no patient data."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.guards import require_roles
from portal.admin.fee_schedules import AdminFeesController, FeeScheduleApi
from portal.admin.jobs import AdminJobsController, JobsApi
from portal.admin.payer_profiles import AdminPayerProfilesController, PayerProfilesApi
from portal.errors import Refused, attempt
from portal.patients.controllers import link_url
from portal.rendering import page, redirect
from portal.requests import ActorDep, AnyRequest, DbDep
from reviewer.accounts import admin as accounts
from reviewer.accounts.audit_log import AuditFilter, browse, export_csv
from reviewer.actor import Actor
from reviewer.errors import Unprocessable
from storage.models import OrganizationKind, Role

ROLE_CHOICES = [(str(r), str(r).replace("_", " ").capitalize()) for r in accounts.STAFF_ROLES]
KIND_CHOICES = [(str(OrganizationKind.PRACTICE), "Dental practice"),
                (str(OrganizationKind.SCHOOL_PROGRAM), "School dental program")]


def _uuids(values: list[str]) -> tuple[uuid.UUID, ...]:
    try:
        return tuple(uuid.UUID(v) for v in values if v)
    except ValueError:
        raise Unprocessable("Choose organizations from the list.", code="invalid_organization")\
            from None


def _staff_input(form: FormMultiDict) -> accounts.StaffInput:
    return accounts.StaffInput(
        email=str(form.get("email", "")),
        display_name=str(form.get("display_name", "")),
        role=str(form.get("role", "")),
        npi=str(form.get("npi", "")) or None,
        organization_ids=_uuids([str(v) for v in form.getall("organization_ids", [])]),
        is_active=form.get("is_active") == "yes",
        practice_address=_given(form, "practice_address"),
        practice_state=_given(form, "practice_state"),
    )


def _given(form: FormMultiDict, name: str) -> str | None:
    """A field's text, or None when the form does not carry the field at all."""
    return str(form.get(name)) if name in form else None


def _organization_input(form: FormMultiDict) -> accounts.OrganizationInput:
    return accounts.OrganizationInput(
        **{name: str(form.get(name, "")) for name in
           ("name", "kind", "address_line", "city", "state", "postal_code", "phone",
            "time_zone")},
        npi=str(form.get("npi", "")) or None,
    )


def _parse_day(value: str | None, label: str) -> date | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise Unprocessable(f"{label}: use a date like 2030-12-31.", code="invalid_date") \
            from None


admin_only = require_roles(Role.ADMIN)


class AdminPages(Controller):
    """The admin's pages: signed-in admins only, not in the API schema."""

    include_in_schema = False
    guards = [admin_only]


async def _users_page(
    request: AnyRequest, db: AsyncSession, who: Actor, *, status_code: int = 200,
    **extra: Any,
) -> Template:
    return page(request, "admin/users.html",
                {"users": await accounts.list_staff(db, who),
                 "organizations": await accounts.list_organizations(db, who),
                 "roles": ROLE_CHOICES, "values": {}, **extra},
                status_code=status_code)


async def _user_page(
    request: AnyRequest, db: AsyncSession, who: Actor, user_id: uuid.UUID, *,
    status_code: int = 200, **extra: Any,
) -> Template:
    user = await accounts.get_staff(db, who, user_id)
    return page(request, "admin/user.html",
                {"user": user, "licenses": await accounts.licenses_of(db, user.id),
                 "organizations": await accounts.list_organizations(db, who),
                 "roles": ROLE_CHOICES, "today": date.today(), **extra},
                status_code=status_code)


class AdminUsersController(AdminPages):
    path = "/admin/users"

    @get("/")
    async def index(self, request: AnyRequest, db_session: DbDep, who: ActorDep) -> Template:
        return await _users_page(request, db_session, who)

    @post("/", status_code=200)
    async def create(self, request: AnyRequest, db_session: DbDep, who: ActorDep) -> Template:
        form = await request.form()
        done = await attempt(db_session,
                             lambda: accounts.create_staff(db_session, who, _staff_input(form)))
        if isinstance(done, Refused):
            return await _users_page(request, db_session, who, status_code=422,
                                     error=done.message, values=dict(form))
        user, link = done
        return await _users_page(request, db_session, who, created=user,
                                 new_link=link_url(request, link))

    @get("/{user_id:uuid}")
    async def detail(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, user_id: FromPath[uuid.UUID],
    ) -> Template:
        return await _user_page(request, db_session, who, user_id)

    @post("/{user_id:uuid}", status_code=303)
    async def update(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, user_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await request.form()
        done = await attempt(
            db_session, lambda: accounts.update_staff(db_session, who, user_id, _staff_input(form)))
        if isinstance(done, Refused):
            return await _user_page(request, db_session, who, user_id, status_code=422,
                                    error=done.message)
        return redirect(request, f"/admin/users/{user_id}", success="Saved.")

    @post("/{user_id:uuid}/licenses", status_code=303)
    async def add_license(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, user_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await request.form()

        async def record() -> None:
            expires = _parse_day(str(form.get("expires_on", "")), "Expiry")
            if expires is None:
                raise Unprocessable("Enter the expiry date.", code="invalid_date")
            await accounts.record_license(
                db_session, who, user_id, state=str(form.get("state", "")),
                number=str(form.get("number", "")), expires_on=expires,
            )

        done = await attempt(db_session, record)
        if isinstance(done, Refused):
            return await _user_page(request, db_session, who, user_id, status_code=422,
                                    license_error=done.message)
        return redirect(request, f"/admin/users/{user_id}", success="License recorded.")

    @post("/{user_id:uuid}/licenses/{license_id:uuid}/delete", status_code=303)
    async def remove_license(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, user_id: FromPath[uuid.UUID],
        license_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await accounts.remove_license(db_session, who, user_id, license_id)
        return redirect(request, f"/admin/users/{user_id}", success="License removed.")

    @post("/{user_id:uuid}/reset", status_code=200)
    async def reset(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, user_id: FromPath[uuid.UUID],
    ) -> Template:
        link = await accounts.issue_staff_reset(db_session, who, user_id)
        return await _user_page(request, db_session, who, user_id,
                                new_link=link_url(request, link))


async def _organizations_page(
    request: AnyRequest, db: AsyncSession, who: Actor, *, status_code: int = 200,
    **extra: Any,
) -> Template:
    settings = request.app.state.settings
    return page(request, "admin/organizations.html",
                {"organizations": await accounts.list_organizations(db, who),
                 "kinds": KIND_CHOICES,
                 "values": {"time_zone": settings.server.time_zone}, **extra},
                status_code=status_code)


async def _organization_page(
    request: AnyRequest, db: AsyncSession, who: Actor, organization_id: uuid.UUID,
    *, status_code: int = 200, **extra: Any,
) -> Template:
    org = await accounts.get_organization(db, who, organization_id)
    return page(request, "admin/organization.html", {"org": org, "kinds": KIND_CHOICES, **extra},
                status_code=status_code)


class AdminOrganizationsController(AdminPages):
    path = "/admin/organizations"

    @get("/")
    async def index(self, request: AnyRequest, db_session: DbDep, who: ActorDep) -> Template:
        return await _organizations_page(request, db_session, who)

    @post("/", status_code=303)
    async def create(self, request: AnyRequest, db_session: DbDep, who: ActorDep) -> Response[Any]:
        form = await request.form()
        org = await attempt(db_session, lambda: accounts.create_organization(
            db_session, who, _organization_input(form)))
        if isinstance(org, Refused):
            return await _organizations_page(request, db_session, who, status_code=422,
                                             error=org.message, values=dict(form))
        return redirect(request, f"/admin/organizations/{org.id}",
                        success=f"{org.name} is created.")

    @get("/{organization_id:uuid}")
    async def detail(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        organization_id: FromPath[uuid.UUID],
    ) -> Template:
        return await _organization_page(request, db_session, who, organization_id)

    @post("/{organization_id:uuid}", status_code=303)
    async def update(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        organization_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await request.form()
        done = await attempt(db_session, lambda: accounts.update_organization(
            db_session, who, organization_id, _organization_input(form)))
        if isinstance(done, Refused):
            return await _organization_page(request, db_session, who, organization_id,
                                            status_code=422, error=done.message)
        return redirect(request, f"/admin/organizations/{organization_id}", success="Saved.")


def _audit_filter(params: dict[str, str]) -> AuditFilter:
    def as_uuid(value: str) -> uuid.UUID | None:
        try:
            return uuid.UUID(value) if value else None
        except ValueError:
            raise Unprocessable("Ids look like 0190a1b2-….", code="invalid_id") from None

    return AuditFilter(
        action=params.get("action", "").strip()[:64],
        actor_id=as_uuid(params.get("actor_id", "").strip()),
        organization_id=as_uuid(params.get("organization_id", "").strip()),
        subject_id=params.get("subject_id", "").strip()[:64],
        since=_parse_day(params.get("since", ""), "From"),
        until=_parse_day(params.get("until", ""), "To"),
    )


class AdminAuditController(AdminPages):
    path = "/admin/audit"

    @get("/")
    async def browse_page(self, request: AnyRequest, db_session: DbDep, who: ActorDep) -> Template:
        params = dict(request.query_params)
        try:
            result = await browse(db_session, who, _audit_filter(params),
                                  before=params.get("before") or None)
        except Unprocessable as exc:
            return page(request, "admin/audit.html",
                        {"events": [], "params": params, "error": exc.message,
                         "organizations": await accounts.list_organizations(db_session, who)},
                        status_code=422)
        kept = {k: v for k, v in params.items() if v and k != "before"}
        next_url = None
        if result.next_cursor:
            next_url = "/admin/audit?" + urlencode({**kept, "before": result.next_cursor})
        return page(request, "admin/audit.html",
                    {"events": result.events, "params": params, "next_url": next_url,
                     "query": "&".join(f"{k}={v}" for k, v in kept.items()),
                     "oob_more": request.headers.get("hx-target") == "audit-rows",
                     "organizations": await accounts.list_organizations(db_session, who)},
                    fragments={"audit-rows": "admin/_audit-rows.html"})

    @get("/export.csv")
    async def export(self, request: AnyRequest, db_session: DbDep, who: ActorDep) -> Response[str]:
        """The filtered trail as CSV (formula-safe cells)."""
        chunks = [c async for c in export_csv(db_session, who,
                                              _audit_filter(dict(request.query_params)))]
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return Response(
            "".join(chunks),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
                     "Cache-Control": "no-store"},
        )


PAGE_CONTROLLERS: list[type] = [
    AdminUsersController,
    AdminOrganizationsController,
    AdminAuditController,
    AdminFeesController,
    AdminPayerProfilesController,
    AdminJobsController,
]
API_CONTROLLERS: list[type] = [FeeScheduleApi, PayerProfilesApi, JobsApi]
