"""Fee schedules, admin only (docs/billing.md "Fee schedules"): the page ``/admin/fees`` (an
organization's schedule, each payer profile's overrides, a ``code,fee`` CSV import) and the API
``/api/v1/organizations/{organization_id}/fee-schedule`` (``?payer_profile_id=`` for a payer
profile's overrides): ``GET``, ``PUT`` (JSON) and ``POST …/fee-schedule.csv`` (a ``text/csv``
body). Every path checks the organization is the admin's (404 otherwise)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post, put
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.guards import require_roles
from portal.admin.schemas import FeeScheduleIn
from portal.errors import form_error
from portal.rendering import page, redirect
from portal.requests import ActorDep, AnyRequest, AuditDep, DbDep
from reviewer.accounts import admin as accounts
from reviewer.actor import Actor
from reviewer.billing import payer_profiles
from reviewer.billing.fees import (
    InvalidFeeSchedule,
    fee_rows,
    parse_fee_csv,
    parse_fee_map,
    replace_fee_schedule,
    schedule_of,
)
from reviewer.errors import DomainError, Invalid, NotFound
from storage.models import Organization, Role

admin_only = require_roles(Role.ADMIN)
MAX_CSV_BYTES = 512_000


def schedule_json(organization_id: uuid.UUID, payer_profile_id: uuid.UUID | None,
                  fees: dict[str, int]) -> dict[str, Any]:
    return {"organization_id": str(organization_id),
            "payer_profile_id": str(payer_profile_id) if payer_profile_id else None,
            "fees": dict(fee_rows(fees))}


def decode_csv(body: bytes) -> str:
    if len(body) > MAX_CSV_BYTES:
        raise InvalidFeeSchedule("A fee schedule file is at most 500 kB.")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidFeeSchedule("Save the file as UTF-8 CSV (code,fee).") from None


def optional_id(value: Any, what: str) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"No such {what}.") from None


class FeeScheduleApi(Controller):
    path = "/organizations/{organization_id:uuid}"
    tags = ["administration"]
    guards = [admin_only]

    @get("/fee-schedule")
    async def read(
        self, db_session: DbDep, who: ActorDep, organization_id: FromPath[uuid.UUID],
        payer_profile_id: FromQuery[uuid.UUID | None] = None,
    ) -> dict[str, Any]:
        """The organization's schedule, or with ``payer_profile_id`` that profile's overrides
        (a line's fee is the override where there is one, else the organization's)."""
        fees = await schedule_of(db_session, who, organization_id, payer_profile_id)
        return schedule_json(organization_id, payer_profile_id, fees)

    @put("/fee-schedule")
    async def replace(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep,
        organization_id: FromPath[uuid.UUID], data: JSONBody[FeeScheduleIn],
        payer_profile_id: FromQuery[uuid.UUID | None] = None,
    ) -> dict[str, Any]:
        """Replace the schedule (audited); 400 ``invalid_fee_schedule`` names each bad code."""
        table = await replace_fee_schedule(db_session, who, audit, organization_id,
                                           payer_profile_id, parse_fee_map(data.fees))
        return schedule_json(organization_id, payer_profile_id,
                             dict(table.payer if payer_profile_id else table.organization))

    @post("/fee-schedule.csv", status_code=200)
    async def import_csv(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        organization_id: FromPath[uuid.UUID], payer_profile_id: FromQuery[uuid.UUID | None] = None,
    ) -> dict[str, Any]:
        """Replace the schedule with a ``code,fee`` CSV body (``Content-Type: text/csv``);
        400 ``invalid_fee_schedule`` names every bad line by its number, nothing is taken."""
        if request.content_type[0] not in ("text/csv", "text/plain"):
            raise HTTPException(status_code=415, detail="Send the schedule as text/csv.")
        fees = parse_fee_csv(decode_csv(await request.body()))
        table = await replace_fee_schedule(db_session, who, audit, organization_id,
                                           payer_profile_id, fees)
        return schedule_json(organization_id, payer_profile_id,
                             dict(table.payer if payer_profile_id else table.organization))


async def own_organizations(db: AsyncSession, who: Actor) -> list[Organization]:
    return [o for o in await accounts.list_organizations(db, who)
            if o.id in who.organization_ids]


async def chosen_organization(db: AsyncSession, who: Actor, value: Any) -> tuple[
        list[Organization], Organization | None]:
    """The admin's organizations and the one ``value`` names (the first when empty)."""
    organizations = await own_organizations(db, who)
    wanted = optional_id(value, "organization")
    org = next((o for o in organizations if wanted is None or o.id == wanted), None)
    if wanted is not None and org is None:
        raise NotFound("No such organization.")
    return organizations, org


async def form_organization(db: AsyncSession, who: Actor, value: Any) -> Organization:
    """The organization a page's form names (it must name one of the admin's)."""
    if value in (None, ""):
        raise Invalid("Choose the organization.", code="invalid_organization")
    _, org = await chosen_organization(db, who, value)
    if org is None:
        raise NotFound("No such organization.")
    return org


async def _fees_page(
    request: AnyRequest, db: AsyncSession, who: Actor, organization: Any, *,
    status_code: int = 200, **extra: Any,
) -> Template:
    organizations, org = await chosen_organization(db, who, organization)
    schedules: list[dict[str, Any]] = []
    if org is not None:
        schedules.append({"id": "", "label": "Organization schedule",
                          "rows": fee_rows(await schedule_of(db, who, org.id, None))})
        for profile in await payer_profiles.list_profiles(db, who, org.id):
            schedules.append({"id": str(profile.id), "label": f"Overrides for {profile.name}",
                              "rows": fee_rows(await schedule_of(db, who, org.id, profile.id))})
    return page(request, "admin/fees.html",
                {"organizations": organizations, "org": org, "schedules": schedules,
                 "choices": [(s["id"], s["label"]) for s in schedules], "values": {},
                 **extra}, status_code=status_code)


class AdminPages(Controller):
    """An administration page: admin only, not in the API schema."""

    include_in_schema = False
    guards = [admin_only]


class AdminFeesController(AdminPages):
    path = "/admin/fees"

    @get("/", opt={"back": "/admin/fees"})
    async def index(
        self, request: AnyRequest, db_session: DbDep,
        who: ActorDep, organization_id: FromQuery[str] = "",
    ) -> Template:
        """The schedules of ``organization_id`` (the admin's first organization when empty)."""
        return await _fees_page(request, db_session, who, organization_id)

    @post("/import", status_code=303, opt={"back": "/admin/fees"})
    async def import_csv(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
    ) -> Response[Any]:
        """Replace one schedule with an uploaded (``csv_file``) or pasted (``csv_text``) CSV;
        422 with every problem by line number, nothing taken."""
        form = await request.form()
        org_value = form.get("organization_id", "")
        try:
            organization_id = (await form_organization(db_session, who, org_value)).id
            profile_id = optional_id(form.get("payer_profile_id", ""), "payer profile")
            upload = form.get("csv_file")
            text = str(form.get("csv_text", "") or "")
            if isinstance(upload, UploadFile) and upload.filename:
                text = decode_csv(await upload.read())
            fees = parse_fee_csv(text)
            await replace_fee_schedule(db_session, who, audit, organization_id, profile_id,
                                       fees)
        except DomainError as exc:
            error = await form_error(db_session, exc)
            return await _fees_page(request, db_session, who, org_value, status_code=422,
                                    error=error,
                                    values={k: str(form.get(k, "") or "")
                                            for k in ("csv_text", "payer_profile_id")})
        return redirect(request, f"/admin/fees?organization_id={organization_id}",
                        success=f"{len(fees)} fees imported.")
