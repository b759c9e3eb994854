"""Referrals and coordination work: the API and the coordinator's pages.

Routes are listed in docs/coordination.md.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.guards import require_roles
from portal.rendering import flash, page, redirect
from reviewer.actor import Actor
from reviewer.coding import case_management as cm
from reviewer.coordination import services as coordination
from reviewer.coordination.services import NewActivity
from reviewer.errors import Invalid
from reviewer.referrals import services as referrals
from reviewer.referrals.lifecycle import ReferralStatus, next_statuses
from storage.audit import AuditContext
from storage.models import Role

WRITERS = require_roles(Role.DENTIST, Role.COORDINATOR)
READERS = require_roles(Role.DENTIST, Role.COORDINATOR, Role.FRONT_DESK)
PROGRAM = require_roles(Role.HYGIENIST, Role.COORDINATOR)
FRONT_DESK = require_roles(Role.FRONT_DESK)


def _date(value: Any, key: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"{key} is a date (YYYY-MM-DD).", code=f"invalid_{key}") from None


class ReferralApiController(Controller):
    path = "/referrals"
    tags = ["coordination"]

    @post("/", guards=[WRITERS], status_code=201)
    async def create(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        data: JSONBody[dict[str, Any]],
    ) -> dict[str, Any]:
        referral = await referrals.create_referral(db_session, who,
                                                   audit, data)
        return referrals.referral_json(referral)

    @get("/", guards=[READERS])
    async def listing(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor],
        needs_news: FromQuery[bool] = False, status: FromQuery[str | None] = None,
        patient_id: FromQuery[uuid.UUID | None] = None,
    ) -> dict[str, Any]:
        rows = await referrals.list_referrals(
            db_session, who, only_needing_news=needs_news, status=status,
            patient_id=patient_id,
        )
        return {"referrals": [referrals.referral_json(r) for r in rows]}

    @get("/{referral_id:uuid}", guards=[READERS])
    async def read(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        referral_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        referral = await referrals.get_referral(db_session, who,
                                                audit, referral_id)
        return referrals.referral_json(referral)

    @patch("/{referral_id:uuid}", guards=[WRITERS])
    async def update(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        referral_id: FromPath[uuid.UUID], data: JSONBody[dict[str, Any]],
    ) -> dict[str, Any]:
        referral = await referrals.update_status(
            db_session, who, audit, referral_id,
            str(data.get("status") or ""), str(data.get("note") or ""),
        )
        return referrals.referral_json(referral)

    @get("/screening-events/{event_id:uuid}/summary", guards=[PROGRAM])
    async def screening_summary(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor],
        event_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        summary = await referrals.screening_summary(db_session, who, event_id)
        return summary.as_dict()


class CoordinationApiController(Controller):
    path = "/patients"
    tags = ["coordination"]

    @post("/{patient_id:uuid}/coordination-activities", guards=[WRITERS], status_code=201)
    async def log(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        patient_id: FromPath[uuid.UUID], data: JSONBody[dict[str, Any]],
    ) -> dict[str, Any]:
        row = await coordination.log_activity(
            db_session, who, audit, patient_id,
            NewActivity.from_dict(data),
        )
        return coordination.activity_json(row)

    @get("/{patient_id:uuid}/coordination-activities", guards=[READERS])
    async def listing(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        patient_id: FromPath[uuid.UUID], start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        _, rows = await coordination.list_activities(
            db_session, who, audit, patient_id,
            _date(start, "start"), _date(end, "end"),
        )
        return {"activities": [coordination.activity_json(r) for r in rows]}

    @get("/{patient_id:uuid}/coordination/claim-lines", guards=[READERS])
    async def lines(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        patient_id: FromPath[uuid.UUID], start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        report = await coordination.documentation(
            db_session, who, audit, patient_id,
            _date(start, "start"), _date(end, "end"),
        )
        return report.as_dict()

    @get("/{patient_id:uuid}/coordination/documentation.pdf", guards=[READERS])
    async def pdf(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        patient_id: FromPath[uuid.UUID], start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        report = await coordination.documentation(
            db_session, who, audit, patient_id,
            _date(start, "start"), _date(end, "end"),
        )
        return Response(report.pdf, media_type="application/pdf", headers={
            "Content-Disposition": 'attachment; filename="coordination-record.pdf"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        })

    @post("/{patient_id:uuid}/coordination/billed", guards=[FRONT_DESK], status_code=200)
    async def billed(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        patient_id: FromPath[uuid.UUID], data: JSONBody[dict[str, Any]],
    ) -> dict[str, Any]:
        ids = data.get("activity_ids")
        if not isinstance(ids, list) or not ids:
            raise Invalid('Send {"activity_ids": [...]}.', code="invalid_activity_ids")
        try:
            parsed = [uuid.UUID(str(i)) for i in ids]
        except ValueError:
            raise Invalid("activity_ids are ids.", code="invalid_activity_ids") from None
        count = await coordination.mark_billed(db_session, who,
                                               audit, patient_id, parsed)
        return {"billed": count}


# --- pages ---------------------------------------------------------------------------------


class CoordinationPageController(Controller):
    path = "/coordination"
    include_in_schema = False

    @get("/", guards=[READERS])
    async def home(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor],
    ) -> Template:
        waiting = await referrals.list_referrals(db_session, who, only_needing_news=True)
        open_ = [r for r in await referrals.list_referrals(db_session, who)
                 if r.status not in {"closed"}]
        return page(request, "coordination/home.html",
                    {"waiting": waiting, "referrals": open_,
                     "waiting_ids": {r.id for r in waiting}})

    @get("/patients/{patient_id:uuid}", guards=[READERS])
    async def patient(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        patient_id: FromPath[uuid.UUID],
    ) -> Template:
        patient, rows = await coordination.list_activities(db_session, who, audit, patient_id)
        report = await coordination.documentation(db_session, who, audit, patient_id)
        refs = await referrals.list_referrals(db_session, who, patient_id=patient_id)
        return page(request, "coordination/patient.html", {
            "patient": patient, "activities": rows, "report": report, "referrals": refs,
            "kinds": [(k.value, f"{cm.CODE_FOR_KIND[k]} {k.value.replace('_', ' ')}")
                      for k in cm.CaseManagementKind],
            "barriers": [b.value for b in cm.Barrier],
            "counterparts": [c.value for c in cm.Counterpart],
            "next_statuses": {r.id: sorted(s.value for s in next_statuses(r.status))
                              for r in refs},
            "can_write": who.role in {Role.DENTIST, Role.COORDINATOR},
        }, fragments={"coordination-activities": "coordination/_coordination-activities.html"})

    @post("/patients/{patient_id:uuid}/activities", guards=[WRITERS], status_code=303,
          opt={"back": "/coordination/patients/{patient_id}"})
    async def log(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        patient_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await request.form()
        data = {k: form.get(k) for k in ("kind", "barrier", "description", "minutes",
                                         "necessity", "outcome", "performed_on")}
        data["counterpart"] = form.getall("counterpart") if "counterpart" in form else []
        await coordination.log_activity(db_session, who, audit, patient_id,
                                        NewActivity.from_dict(data))
        flash(request, "Activity logged.", "success")
        return redirect(request, f"/coordination/patients/{patient_id}")

    @post("/referrals/{referral_id:uuid}/status", guards=[WRITERS], status_code=303,
          opt={"back": "/coordination"})
    async def referral_status(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        who: NamedDependency[Actor], audit: NamedDependency[AuditContext],
        referral_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await request.form()
        referral = await referrals.update_status(
            db_session, who, audit, referral_id,
            str(form.get("status") or ""), str(form.get("note") or ""),
        )
        flash(request, f"Referral is now {ReferralStatus(referral.status).replace('_', ' ')}.",
              "success")
        return redirect(request, f"/coordination/patients/{referral.patient_id}")


PAGE_CONTROLLERS: list[type] = [CoordinationPageController]
API_CONTROLLERS: list[type] = [ReferralApiController, CoordinationApiController]
