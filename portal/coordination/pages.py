"""Referrals and coordination work: the coordinator's pages (routes in docs/coordination.md).
A refused step goes back with the message flashed (``opt={"back": ...}``, portal/errors.py)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from portal.accounts.guards import require_roles
from portal.rendering import flash, page, redirect
from portal.requests import ActorDep, AnyRequest, AuditDep, DbDep
from reviewer.coding import case_management as cm
from reviewer.coordination import services as coordination
from reviewer.coordination.services import NewActivity
from reviewer.referrals import services as referrals
from reviewer.referrals.lifecycle import ReferralStatus, next_statuses

WRITERS = require_roles(*referrals.WRITERS)
READERS = require_roles(*referrals.READERS)


class CoordinationPageController(Controller):
    path = "/coordination"
    include_in_schema = False

    @get("/", guards=[READERS])
    async def home(self, request: AnyRequest, db_session: DbDep, who: ActorDep) -> Template:
        waiting = await referrals.list_referrals(db_session, who, only_needing_news=True)
        open_ = [r for r in await referrals.list_referrals(db_session, who)
                 if r.status not in {"closed"}]
        return page(request, "coordination/home.html",
                    {"waiting": waiting, "referrals": open_,
                     "waiting_ids": {r.id for r in waiting}})

    @get("/patients/{patient_id:uuid}", guards=[READERS])
    async def patient(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
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
            "can_write": who.role in referrals.WRITERS,
        }, fragments={"coordination-activities": "coordination/_coordination-activities.html"})

    @post("/patients/{patient_id:uuid}/activities", guards=[WRITERS], status_code=303,
          opt={"back": "/coordination/patients/{patient_id}"})
    async def log(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
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
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
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
