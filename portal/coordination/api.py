"""Referrals and coordination work: the JSON API (mounted under ``/api/v1``; routes in
docs/coordination.md). Thin: parse, one service call, convert."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from portal.accounts.guards import require_roles
from portal.coordination.schemas import ActivityIn, BilledIn, NewReferralIn, ReferralStatusIn
from portal.params import optional_date
from portal.requests import ActorDep, AuditDep, DbDep
from reviewer.coordination import services as coordination
from reviewer.referrals import services as referrals
from storage.models import Role

REFERRAL_WRITERS = require_roles(*referrals.WRITERS)
REFERRAL_READERS = require_roles(*referrals.READERS)
PROGRAM = require_roles(Role.HYGIENIST, Role.COORDINATOR)
LOGGERS = require_roles(*coordination.LOGGERS)
READERS = require_roles(*coordination.READERS)
FRONT_DESK = require_roles(Role.FRONT_DESK)


@dataclass(frozen=True)
class Period:
    start: dt.date | None
    end: dt.date | None


def _period(start: FromQuery[str | None] = None, end: FromQuery[str | None] = None) -> Period:
    """``?start=&end=``: days (YYYY-MM-DD), both optional; 400 invalid_start / invalid_end."""
    return Period(optional_date(start, "start"), optional_date(end, "end"))


class ReferralApiController(Controller):
    path = "/referrals"
    tags = ["coordination"]

    @post("/", guards=[REFERRAL_WRITERS], status_code=201)
    async def create(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, data: JSONBody[NewReferralIn],
    ) -> dict[str, Any]:
        """Refer the patient of a signed evaluation or of a school screening with urgent need
        (201); 409 not_signed otherwise."""
        referral = await referrals.create_referral(db_session, who, audit, data.fields())
        return referrals.referral_json(referral)

    @get("/", guards=[REFERRAL_READERS])
    async def listing(
        self, db_session: DbDep, who: ActorDep, needs_news: FromQuery[bool] = False,
        status: FromQuery[str | None] = None, patient_id: FromQuery[uuid.UUID | None] = None,
    ) -> dict[str, Any]:
        """Referrals in reach (``needs_news=true``: the open ones waiting for a reminder)."""
        rows = await referrals.list_referrals(
            db_session, who, only_needing_news=needs_news, status=status,
            patient_id=patient_id,
        )
        return {"referrals": [referrals.referral_json(r) for r in rows]}

    @get("/{referral_id:uuid}", guards=[REFERRAL_READERS])
    async def read(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, referral_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """One referral with its history (the read is audited)."""
        referral = await referrals.get_referral(db_session, who, audit, referral_id)
        return referrals.referral_json(referral)

    @patch("/{referral_id:uuid}", guards=[REFERRAL_WRITERS])
    async def update(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, referral_id: FromPath[uuid.UUID],
        data: JSONBody[ReferralStatusIn],
    ) -> dict[str, Any]:
        """Move the referral on (409 invalid_transition for a move the lifecycle refuses)."""
        referral = await referrals.update_status(
            db_session, who, audit, referral_id, data.status or "", data.note or "",
        )
        return referrals.referral_json(referral)

    @get("/screening-events/{event_id:uuid}/summary", guards=[PROGRAM])
    async def screening_summary(
        self, db_session: DbDep, who: ActorDep, event_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """Counts only: children screened, with urgent need, referred, seen by a dentist."""
        summary = await referrals.screening_summary(db_session, who, event_id)
        return summary.as_dict()


class CoordinationApiController(Controller):
    path = "/patients"
    tags = ["coordination"]
    dependencies = {"period": Provide(_period, sync_to_thread=False)}

    @post("/{patient_id:uuid}/coordination-activities", guards=[LOGGERS], status_code=201)
    async def log(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, patient_id: FromPath[uuid.UUID],
        data: JSONBody[ActivityIn],
    ) -> dict[str, Any]:
        """Log one activity (201)."""
        row = await coordination.log_activity(db_session, who, audit, patient_id,
                                              data.new_activity())
        return coordination.activity_json(row)

    @get("/{patient_id:uuid}/coordination-activities", guards=[READERS])
    async def listing(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, patient_id: FromPath[uuid.UUID],
        period: NamedDependency[Period],
    ) -> dict[str, Any]:
        """The patient's activities of the period."""
        _, rows = await coordination.list_activities(db_session, who, audit, patient_id,
                                                     period.start, period.end)
        return {"activities": [coordination.activity_json(r) for r in rows]}

    @get("/{patient_id:uuid}/coordination/claim-lines", guards=[READERS])
    async def lines(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, patient_id: FromPath[uuid.UUID],
        period: NamedDependency[Period],
    ) -> dict[str, Any]:
        """Minutes per code, the lines the coding rules propose and why the others are not."""
        report = await coordination.documentation(db_session, who, audit, patient_id,
                                                  period.start, period.end)
        return report.as_dict()

    @get("/{patient_id:uuid}/coordination/documentation.pdf", guards=[READERS])
    async def pdf(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, patient_id: FromPath[uuid.UUID],
        period: NamedDependency[Period],
    ) -> Response[bytes]:
        """The same documentation as a PDF."""
        report = await coordination.documentation(db_session, who, audit, patient_id,
                                                  period.start, period.end)
        return Response(report.pdf, media_type="application/pdf", headers={
            "Content-Disposition": 'attachment; filename="coordination-record.pdf"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        })

    @post("/{patient_id:uuid}/coordination/billed", guards=[FRONT_DESK], status_code=200)
    async def billed(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, patient_id: FromPath[uuid.UUID],
        data: JSONBody[BilledIn],
    ) -> dict[str, Any]:
        """The front desk billed these activities: they become the history the repetition
        rule compares with."""
        count = await coordination.mark_billed(db_session, who, audit, patient_id, data.ids())
        return {"billed": count}


API_CONTROLLERS: list[type] = [ReferralApiController, CoordinationApiController]
