"""Billing: the front desk's worklist and encounter pages, and the claim-line/document API.

Pages (front_desk): ``/billing`` worklist, ``/billing/export.csv``, ``/billing/cases/{id}`` and
``/billing/live-sessions/{id}`` (lines editor, ready / billed / nothing to bill, packages),
``/billing/packages/{id}/record.pdf|claim-attachment.zip`` (any stored version).
API (dentist: own signed cases and own live sessions, read only; front_desk: own
organizations): see docs/billing.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.guards import require_roles
from portal.rendering import flash, page, redirect
from reviewer.actor import Actor
from reviewer.billing import services
from reviewer.billing.services import (
    BillingStatus,
    Download,
    EncounterView,
    LinesRefused,
    PackageNotReady,
)
from reviewer.coding.rules import EncounterType
from reviewer.errors import Invalid, NotFound
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.models import Role

READERS = require_roles(Role.DENTIST, Role.FRONT_DESK)
FRONT_DESK = require_roles(Role.FRONT_DESK)
KINDS = {"cases": EncounterType.ASYNCHRONOUS, "live-sessions": EncounterType.SYNCHRONOUS}
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


def _kind(kind: str) -> EncounterType:
    try:
        return KINDS[kind]
    except KeyError:
        raise NotFound("Unknown encounter kind.") from None


async def _file(blobs: BlobStore, download: Download) -> Stream:
    reader = await blobs.open(download.key)
    headers = {
        "Content-Disposition": f'attachment; filename="{download.filename}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if download.size is not None:
        headers["Content-Length"] = str(download.size)
    return Stream(reader, media_type=download.media_type, headers=headers)


def _lines_json(view: EncounterView) -> dict[str, Any]:
    return {
        "encounter": view.encounter.as_dict(),
        "teledentistry_code": view.teledentistry_code,
        "status": view.billing.status,
        "lines": [line.as_dict() for line in view.lines],
        "warnings": [v.as_dict() for v in view.warnings],
        "problems": [v.as_dict() for v in view.blocking],
    }


def _refused(exc: LinesRefused) -> Response[Any]:
    return Response(
        {"code": exc.code, "message": exc.message,
         "violations": [v.as_dict() for v in exc.violations]},
        status_code=422, media_type=MediaType.JSON,
    )


def _rows_from_form(form: Mapping[str, Any], view: EncounterView) -> list[dict[str, Any]]:
    """The editor's table (``code-0``, ``provider-0``, ...) as claim-line dicts."""
    providers = {p["key"]: p for p in _providers(view)}
    count = int(form.get("rows", "0") or 0)
    rows: list[dict[str, Any]] = []
    for i in range(min(count, 50)):
        code = str(form.get(f"code-{i}", "")).strip()
        if not code or form.get(f"remove-{i}"):
            continue
        provider = providers.get(str(form.get(f"provider-{i}", "")))
        if provider is None:
            raise Invalid(f"line {i + 1}: choose a provider", code="invalid_claim_line")
        quantity_text = str(form.get(f"quantity-{i}", "1")).strip() or "1"
        if not quantity_text.isdigit():
            raise Invalid(f"line {i + 1}: quantity must be a whole number",
                          code="invalid_claim_line")
        rows.append({
            "code": code,
            "provider": {"npi": provider["npi"], "name": provider["name"],
                         "role": provider["role"]},
            "date_of_service": str(form.get(f"date_of_service-{i}", "")).strip(),
            "tooth": str(form.get(f"tooth-{i}", "")).strip().upper() or None,
            "surfaces": str(form.get(f"surfaces-{i}", "")).strip().upper() or None,
            "quantity": int(quantity_text),
            "place_of_service": str(form.get(f"place_of_service-{i}", "")).strip(),
            "encounter": view.encounter.as_dict(),
        })
    return rows


def _providers(view: EncounterView) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    candidates = list(view.lines)
    facts = view.case_facts or view.live_facts
    if facts is not None:
        candidates += list(facts.proposed)
    for line in candidates:
        p = line.provider
        key = f"{p.npi}|{p.role}"
        seen.setdefault(key, {"key": key, "npi": p.npi, "name": p.name, "role": str(p.role)})
    return list(seen.values())


def _form_rows(view: EncounterView) -> list[dict[str, Any]]:
    return [
        {
            "code": line.code,
            "provider": f"{line.provider.npi}|{line.provider.role}",
            "date_of_service": line.date_of_service.isoformat(),
            "tooth": line.tooth or "",
            "surfaces": line.surfaces or "",
            "quantity": line.quantity,
            "place_of_service": line.place_of_service,
        }
        for line in view.lines
    ]


def _encounter_page(
    request: Request[Any, Any, Any],
    view: EncounterView,
    *,
    rows: list[dict[str, Any]] | None = None,
    refusal: LinesRefused | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    kind = "cases" if view.encounter.type is EncounterType.ASYNCHRONOUS else "live-sessions"
    api = f"/api/v1/{kind}/{view.encounter.id}"
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
            "api": api,
            "rows": [*form_rows, blank],
            "providers": _providers(view),
            "refusal": refusal,
            "error": error,
            "editable": view.billing.status in BillingStatus.OPEN,
        },
        fragments={"claim-lines": "billing/_claim-lines.html"},
        status_code=status_code,
    )


class BillingPageController(Controller):
    path = "/billing"
    include_in_schema = False

    @get("/", guards=[FRONT_DESK])
    async def worklist(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        status: FromQuery[str] = "open",
    ) -> Template:
        chosen = status if status in STATUS_FILTERS else "open"
        rows = await services.worklist(
            db_session, who, audit, STATUS_FILTERS[chosen]
        )
        return page(
            request, "billing/worklist.html",
            {"rows": rows, "status": chosen, "filters": list(STATUS_FILTERS)},
            fragments={"worklist": "billing/_worklist.html"},
        )

    @get("/export.csv", guards=[FRONT_DESK])
    async def export(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        status: FromQuery[str] = "open",
    ) -> Response[str]:
        chosen = status if status in STATUS_FILTERS else "open"
        text = await services.claim_lines_csv(
            db_session, who, audit, STATUS_FILTERS[chosen]
        )
        return Response(
            text, media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="claim-lines.csv"',
                     "Cache-Control": "no-store"},
        )

    @get("/{kind:str}/{encounter_id:uuid}", guards=[FRONT_DESK])
    async def encounter(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        kind: FromPath[str], encounter_id: FromPath[uuid.UUID],
    ) -> Template:
        encounter_type = _kind(kind)
        if encounter_type is EncounterType.ASYNCHRONOUS:
            view = await services.case_encounter(
                db_session, who, audit, encounter_id
            )
        else:
            view = await services.live_encounter(
                db_session, who, audit, encounter_id
            )
        return _encounter_page(request, view)

    @post("/{kind:str}/{encounter_id:uuid}/lines", guards=[FRONT_DESK], status_code=303)
    async def edit_lines(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        kind: FromPath[str], encounter_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        encounter_type = _kind(kind)
        form = dict(await request.form())
        view = await (
            services.case_encounter(db_session, who, audit, encounter_id)
            if encounter_type is EncounterType.ASYNCHRONOUS
            else services.live_encounter(db_session, who, audit, encounter_id)
        )
        try:
            rows = _rows_from_form(form, view)
            await services.update_lines(db_session, who, audit, encounter_type, encounter_id, rows)
        except LinesRefused as exc:  # nothing was changed; a 422 rolls the request back
            return _encounter_page(
                request, view, rows=_echo(form), refusal=exc, status_code=422
            )
        except Invalid as exc:
            return _encounter_page(
                request, view, rows=_echo(form), error=exc.message, status_code=422
            )
        flash(request, "Claim lines saved.", "success")
        return redirect(request, f"/billing/{kind}/{encounter_id}")

    @post("/{kind:str}/{encounter_id:uuid}/{action:str}", guards=[FRONT_DESK], status_code=303)
    async def change_status(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        kind: FromPath[str], encounter_id: FromPath[uuid.UUID], action: FromPath[str],
    ) -> Response[Any]:
        encounter_type = _kind(kind)
        await _status_action(db_session, who, audit, encounter_type, encounter_id, action)
        flash(request, _DONE[action], "success")
        target = "/billing" if action in {"billed", "nothing-to-bill"} else (
            f"/billing/{kind}/{encounter_id}"
        )
        return redirect(request, target)

    @get("/packages/{package_id:uuid}/{name:str}", guards=[READERS])
    async def package_file(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        blobs: NamedDependency[BlobStore],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        package_id: FromPath[uuid.UUID], name: FromPath[str],
    ) -> Stream:
        which = {"record.pdf": "record", "claim-attachment.zip": "zip"}.get(name)
        if which is None:
            raise NotFound("Unknown package file.")
        download = await services.download_package_file(
            db_session, who, audit, package_id, which
        )
        return await _file(blobs, download)


def _echo(form: Mapping[str, Any]) -> list[dict[str, Any]]:
    count = min(int(form.get("rows", "0") or 0), 50)
    rows = []
    for i in range(count):
        if not str(form.get(f"code-{i}", "")).strip():
            continue
        rows.append({f: str(form.get(f"{f}-{i}", "")) for f in LINE_FIELDS})
    return rows


_DONE = {
    "ready": "Marked ready to bill.",
    "billed": "Marked billed; the case is closed.",
    "nothing-to-bill": "Closed with nothing to bill.",
}


async def _status_action(
    db: AsyncSession, who: Actor, ctx: AuditContext, kind: EncounterType,
    encounter_id: uuid.UUID, action: str,
) -> EncounterView:
    if action == "ready":
        return await services.mark_ready(db, who, ctx, kind, encounter_id)
    if action == "billed":
        return await services.mark_billed(db, who, ctx, kind, encounter_id)
    if action == "nothing-to-bill":
        return await services.mark_nothing_to_bill(db, who, ctx, kind, encounter_id)
    raise NotFound("Unknown billing action.")


# --- API -----------------------------------------------------------------------------------


def _not_ready(request: Request[Any, Any, Any], exc: PackageNotReady) -> Response[Any]:
    """The package is built after the commit that made it stale: 202, ask again soon."""
    return Response(
        {"code": exc.code, "message": exc.message}, status_code=202, media_type=MediaType.JSON,
        headers={"Retry-After": str(exc.retry_after), "Cache-Control": "no-store"},
    )


class ClaimLinesApiController(Controller):
    """Claim lines, documents and packages of signed cases and of live sessions."""

    path = "/"
    tags = ["billing"]
    exception_handlers = {PackageNotReady: _not_ready}

    @get("/cases/{case_id:uuid}/claim-lines", guards=[READERS])
    async def case_lines(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        case_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        view = await services.case_encounter(
            db_session, who, audit, case_id
        )
        return _lines_json(view)

    @put("/cases/{case_id:uuid}/claim-lines", guards=[FRONT_DESK])
    async def edit_case_lines(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        case_id: FromPath[uuid.UUID], data: JSONBody[dict[str, Any]],
    ) -> Response[Any]:
        return await _api_edit(request, db_session, who, audit, EncounterType.ASYNCHRONOUS, case_id,
                               data)

    @post("/cases/{case_id:uuid}/billing-status", guards=[FRONT_DESK], status_code=200)
    async def case_status(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        case_id: FromPath[uuid.UUID], data: JSONBody[dict[str, Any]],
    ) -> dict[str, Any]:
        action = str(data.get("status", "")).replace("_", "-")
        view = await _status_action(
            db_session, who, audit, EncounterType.ASYNCHRONOUS, case_id, action
        )
        return _lines_json(view)

    @get("/cases/{case_id:uuid}/documentation.pdf", guards=[READERS])
    async def case_documentation(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        blobs: NamedDependency[BlobStore],
        case_id: FromPath[uuid.UUID],
    ) -> Stream:
        download = await services.download_case_document(
            db_session, blobs, who, audit, case_id,
            "record",
        )
        return await _file(blobs, download)

    @get("/cases/{case_id:uuid}/claim-attachment.zip", guards=[READERS])
    async def case_attachment(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        blobs: NamedDependency[BlobStore],
        case_id: FromPath[uuid.UUID],
    ) -> Stream:
        download = await services.download_case_document(
            db_session, blobs, who, audit, case_id, "zip"
        )
        return await _file(blobs, download)

    @get("/cases/{case_id:uuid}/claim-packages", guards=[READERS])
    async def case_packages(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        case_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        view = await services.case_encounter(
            db_session, who, audit, case_id
        )
        return {"packages": [
            {"id": str(p.id), "version": p.version, "encounter_type": p.encounter_type,
             "attachment_control_number": p.attachment_control_number,
             "created_at": p.created_at.isoformat(), "pdf_sha256": p.pdf_sha256,
             "zip_sha256": p.zip_sha256, "zip_size": p.zip_size,
             "record_url": f"/billing/packages/{p.id}/record.pdf",
             "zip_url": f"/billing/packages/{p.id}/claim-attachment.zip" if p.zip_key else None}
            for p in view.packages
        ]}

    @post("/live-sessions", guards=[require_roles(Role.DENTIST)], status_code=201)
    async def create_live_session(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        data: JSONBody[dict[str, Any]],
    ) -> dict[str, Any]:
        view = await services.create_live_session(
            db_session, who, audit, data
        )
        return {"id": view.encounter.id, **_lines_json(view)}

    @get("/live-sessions/{session_id:uuid}/claim-lines", guards=[READERS])
    async def live_lines(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        session_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        view = await services.live_encounter(
            db_session, who, audit, session_id
        )
        return _lines_json(view)

    @put("/live-sessions/{session_id:uuid}/claim-lines", guards=[FRONT_DESK])
    async def edit_live_lines(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        session_id: FromPath[uuid.UUID], data: JSONBody[dict[str, Any]],
    ) -> Response[Any]:
        return await _api_edit(request, db_session, who, audit, EncounterType.SYNCHRONOUS,
                               session_id, data)

    @post("/live-sessions/{session_id:uuid}/billing-status", guards=[FRONT_DESK],
          status_code=200)
    async def live_status(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        session_id: FromPath[uuid.UUID], data: JSONBody[dict[str, Any]],
    ) -> dict[str, Any]:
        action = str(data.get("status", "")).replace("_", "-")
        view = await _status_action(
            db_session, who, audit, EncounterType.SYNCHRONOUS, session_id, action
        )
        return _lines_json(view)

    @get("/live-sessions/{session_id:uuid}/documentation.pdf", guards=[READERS])
    async def live_documentation(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        blobs: NamedDependency[BlobStore],
        session_id: FromPath[uuid.UUID],
    ) -> Stream:
        download = await services.download_live_document(
            db_session, blobs, who, audit, session_id
        )
        return await _file(blobs, download)


async def _api_edit(
    request: Request[Any, Any, Any], db: AsyncSession, who: Actor, audit: AuditContext,
    kind: EncounterType,
    encounter_id: uuid.UUID, data: dict[str, Any],
) -> Response[Any]:
    rows = data.get("lines")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise Invalid('Send {"lines": [claim line, ...]}.', code="invalid_claim_line")
    try:
        view = await services.update_lines(
            db, who, audit, kind, encounter_id, rows
        )
    except LinesRefused as exc:  # nothing was changed; a 422 rolls the request back
        return _refused(exc)
    return Response(_lines_json(view), media_type=MediaType.JSON)


PAGE_CONTROLLERS: list[type] = [BillingPageController]
API_CONTROLLERS: list[type] = [ClaimLinesApiController]
