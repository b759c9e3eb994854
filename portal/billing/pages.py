"""Billing pages (front_desk): the worklist and its CSV export, one encounter's page (lines
editor, ready / billed / nothing to bill, packages), and the stored package files.

``/billing``, ``/billing/export.csv``, ``/billing/{cases|live-sessions}/{id}`` (+ ``/lines``,
``/ready``, ``/billed``, ``/nothing-to-bill``), ``/billing/packages/{id}/record.pdf|
claim-attachment.zip`` (any stored version). The encounter routes are written once
(:class:`EncounterPages`); :class:`CasePages` and :class:`LiveSessionPages` name the path.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery
from litestar.response import Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.billing.shared import (
    ENCOUNTER_OF_CASE,
    ENCOUNTER_OF_LIVE_SESSION,
    FRONT_DESK,
    READERS,
    SEGMENT,
    STATUS_CHANGES,
    EncounterKey,
    StatusChange,
    encounter_view,
    stream_download,
)
from portal.rendering import flash, page, redirect
from portal.requests import ActorDep, AnyRequest, AuditDep, BlobsDep, DbDep
from reviewer.billing import services
from reviewer.billing.fees import format_fee
from reviewer.billing.providers import organization_providers
from reviewer.billing.same_day import SAME_DAY_RULES
from reviewer.billing.services import BillingStatus, EncounterView, LinesRefused
from reviewer.billing.worklist import day_totals
from reviewer.coordination.services import unbilled_case_management
from reviewer.errors import Invalid, NotFound, Unprocessable
from reviewer.records.ledger import records_ledger

STATUS_FILTERS: Mapping[str, tuple[str, ...]] = {
    "open": BillingStatus.OPEN,
    "proposed": (BillingStatus.PROPOSED,),
    "ready": (BillingStatus.READY,),
    "billed": (BillingStatus.BILLED,),
    "nothing_to_bill": (BillingStatus.NOTHING_TO_BILL,),
    "all": BillingStatus.ALL,
}
LINE_FIELDS = ("code", "provider", "date_of_service", "tooth", "surfaces", "quantity",
               "place_of_service")
PACKAGE_FILES = {"record.pdf": "record", "claim-attachment.zip": "zip"}
MAX_ROWS = 50


def encounter_page_of(request: AnyRequest) -> str:
    """Where a refused change on an encounter's page goes back to: that page."""
    return request.url.path.rsplit("/", 1)[0]


def _filter(status: str) -> str:
    """The worklist filter asked for; an unknown one shows the open encounters."""
    return status if status in STATUS_FILTERS else "open"


def _row_count(form: Mapping[str, Any]) -> int:
    return min(int(form.get("rows", "0") or 0), MAX_ROWS)


def _rows_from_form(form: Mapping[str, Any], view: EncounterView) -> list[dict[str, Any]]:
    """The editor's table (``code-0``, ``provider-0`` = the provider's user id, ...) as
    claim-line dicts; the service takes the provider's name and NPI from that user."""
    rows: list[dict[str, Any]] = []
    for i in range(_row_count(form)):
        code = str(form.get(f"code-{i}", "")).strip()
        if not code or form.get(f"remove-{i}"):
            continue
        provider = str(form.get(f"provider-{i}", "")).strip()
        if not provider:
            raise Invalid(f"line {i + 1}: choose a provider", code="invalid_claim_line")
        quantity_text = str(form.get(f"quantity-{i}", "1")).strip() or "1"
        if not quantity_text.isdigit():
            raise Invalid(f"line {i + 1}: quantity must be a whole number",
                          code="invalid_claim_line")
        rows.append({
            "code": code,
            "provider": {"user_id": provider},
            "date_of_service": str(form.get(f"date_of_service-{i}", "")).strip(),
            "tooth": str(form.get(f"tooth-{i}", "")).strip().upper() or None,
            "surfaces": str(form.get(f"surfaces-{i}", "")).strip().upper() or None,
            "quantity": int(quantity_text),
            "place_of_service": str(form.get(f"place_of_service-{i}", "")).strip(),
            "encounter": view.encounter.as_dict(),
        })
    return rows


def _echo(form: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows as typed, to show again under a refusal."""
    rows = []
    for i in range(_row_count(form)):
        if not str(form.get(f"code-{i}", "")).strip():
            continue
        rows.append({f: str(form.get(f"{f}-{i}", "")) for f in LINE_FIELDS})
    return rows


async def _providers(db: AsyncSession, view: EncounterView) -> list[dict[str, str]]:
    """The organization's providers a line may be put on, chosen by user id."""
    return [
        {"key": str(u.id), "name": u.display_name or u.email, "role": u.role,
         "npi": u.npi or ""}
        for u in await organization_providers(db, view.billing.organization_id)
    ]


def _form_rows(view: EncounterView) -> list[dict[str, Any]]:
    return [
        {
            "code": line.code,
            "provider": line.provider.user_id or "",
            "date_of_service": line.date_of_service.isoformat(),
            "tooth": line.tooth or "",
            "surfaces": line.surfaces or "",
            "quantity": line.quantity,
            "place_of_service": line.place_of_service,
        }
        for line in view.lines
    ]


def _encounter_page(
    request: AnyRequest,
    view: EncounterView,
    providers: list[dict[str, str]],
    *,
    rows: list[dict[str, Any]] | None = None,
    refusal: LinesRefused | None = None,
    error: str | None = None,
    status_code: int = 200,
    reason: str = "",
) -> Template:
    kind = SEGMENT[view.encounter.type]
    form_rows = rows if rows is not None else _form_rows(view)
    blank = {"code": "", "provider": "", "date_of_service": "", "tooth": "", "surfaces": "",
             "quantity": 1, "place_of_service": view.lines[0].place_of_service
             if view.lines else ""}
    return page(
        request,
        "billing/encounter.html",
        {
            "view": view,
            "kind": kind,
            "base": f"/billing/{kind}/{view.encounter.id}",
            "api": f"/api/v1/{kind}/{view.encounter.id}",
            "rows": [*form_rows, blank],
            "providers": providers,
            "total_fee": format_fee(view.total_cents),
            "refusal": refusal,
            "error": error,
            "editable": view.billing.status in BillingStatus.OPEN,
            "reason": reason,
            "same_day": [v for v in view.blocking if v.rule in SAME_DAY_RULES],
        },
        fragments={"claim-lines": "billing/_claim-lines.html"},
        status_code=status_code,
    )


class FrontDeskPages(Controller):
    """Billing's pages are the front desk's (the stored package files excepted)."""

    include_in_schema = False
    guards = [FRONT_DESK]


class BillingPageController(FrontDeskPages):
    """The worklist and its export."""

    path = "/billing"

    @get("/")
    async def worklist(
        self, request: AnyRequest, db_session: DbDep,
        who: ActorDep, audit: AuditDep,
        status: FromQuery[str] = "open",
    ) -> Template:
        chosen = _filter(status)
        rows = await services.worklist(db_session, who, audit, STATUS_FILTERS[chosen])
        case_management = await unbilled_case_management(db_session, who, audit)
        return page(
            request, "billing/worklist.html",
            {"rows": rows, "status": chosen, "filters": list(STATUS_FILTERS),
             "case_management": case_management, "day_totals": day_totals(rows)},
            fragments={"worklist": "billing/_worklist.html"},
        )

    @get("/ledger")
    async def ledger(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
    ) -> Template:
        """The D9961 ledger: records fees quoted, paid (on the patient's account), waived."""
        rows = await records_ledger(db_session, who, audit)
        return page(request, "billing/ledger.html", {"rows": rows})

    @get("/export.csv")
    async def export(
        self, db_session: DbDep, who: ActorDep,
        audit: AuditDep, status: FromQuery[str] = "open",
    ) -> Response[str]:
        text = await services.claim_lines_csv(db_session, who, audit,
                                              STATUS_FILTERS[_filter(status)])
        return Response(
            text, media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="claim-lines.csv"',
                     "Cache-Control": "no-store"},
        )


class PackageFilePages(Controller):
    """A stored package version's files, for the dentist too (any version, not only the
    current one)."""

    path = "/billing/packages"
    include_in_schema = False
    guards = [READERS]

    @get("/{package_id:uuid}/{name:str}")
    async def package_file(
        self, db_session: DbDep, blobs: BlobsDep, who: ActorDep, audit: AuditDep,
        package_id: FromPath[uuid.UUID], name: FromPath[str],
    ) -> Stream:
        which = PACKAGE_FILES.get(name)
        if which is None:
            raise NotFound("Unknown package file.")
        download = await services.download_package_file(db_session, who, audit, package_id,
                                                        which)
        return await stream_download(blobs, download)


def _status_route(change: StatusChange) -> HTTPRouteHandler:
    """``POST …/{ready|billed|nothing-to-bill}``: one route per row of STATUS_CHANGES, so an
    unknown action is a 404 of the router."""

    async def handler(
        self: EncounterPages, request: AnyRequest, db_session: DbDep, who: ActorDep,
        audit: AuditDep, encounter: NamedDependency[EncounterKey],
    ) -> Response[Any]:
        await change.apply(db_session, who, audit, encounter)
        flash(request, change.done, "success")
        return redirect(request, "/billing" if change.closes else encounter.page)

    handler.__name__ = handler.__qualname__ = f"mark_{change.status}"
    return post(f"/{change.slug}", status_code=303, opt={"back": encounter_page_of})(handler)


class EncounterPages(FrontDeskPages):
    """The page of one encounter and its changes; the subclasses below name the kind."""

    @get("/")
    async def encounter_page(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        encounter: NamedDependency[EncounterKey],
    ) -> Template:
        view = await encounter_view(db_session, who, audit, encounter)
        return _encounter_page(request, view, await _providers(db_session, view))

    @post("/lines", status_code=303)
    async def edit_lines(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        encounter: NamedDependency[EncounterKey],
    ) -> Response[Any]:
        form = dict(await request.form())
        view = await encounter_view(db_session, who, audit, encounter)
        providers = await _providers(db_session, view)
        try:
            rows = _rows_from_form(form, view)
            await services.update_lines(db_session, who, audit, encounter.type, encounter.id,
                                        rows, reason=str(form.get("reason", "")))
        except LinesRefused as exc:  # nothing was changed; a 422 rolls the request back
            return _encounter_page(
                request, view, providers, rows=_echo(form), refusal=exc, status_code=422,
                reason=str(form.get("reason", "")),
            )
        except (Invalid, Unprocessable) as exc:
            return _encounter_page(
                request, view, providers, rows=_echo(form), error=exc.message,
                status_code=422, reason=str(form.get("reason", "")),
            )
        flash(request, "Claim lines saved.", "success")
        return redirect(request, encounter.page)

    @post("/same-day-override", status_code=303, opt={"back": encounter_page_of})
    async def same_day_override(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        encounter: NamedDependency[EncounterKey],
    ) -> Response[Any]:
        form = await request.form()
        await services.override_same_day(
            db_session, who, audit, encounter.type, encounter.id, str(form.get("rule", "")),
            str(form.get("reason", "")),
        )
        flash(request, "Override recorded.", "success")
        return redirect(request, encounter.page)

    mark_ready = _status_route(STATUS_CHANGES["ready"])
    mark_billed = _status_route(STATUS_CHANGES["billed"])
    mark_nothing_to_bill = _status_route(STATUS_CHANGES["nothing_to_bill"])


class CasePages(EncounterPages):
    path = "/billing/cases/{case_id:uuid}"
    dependencies = ENCOUNTER_OF_CASE


class LiveSessionPages(EncounterPages):
    path = "/billing/live-sessions/{session_id:uuid}"
    dependencies = ENCOUNTER_OF_LIVE_SESSION


PAGE_CONTROLLERS: list[type] = [BillingPageController, PackageFilePages, CasePages,
                                 LiveSessionPages]
