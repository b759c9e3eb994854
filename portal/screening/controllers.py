"""Screening routes: the JSON API (events, rosters, not screened, reports and CSV exports)
and the hygienist's tablet pages.

Thin: parse the request, call one ``reviewer.screening`` service, convert the result. A
child's case, photos and submission through the API are intake's routes (``POST
/api/v1/cases`` with kind ``school_screening``, ``/api/v1/cases/{id}/attachments``,
``/api/v1/cases/{id}/submit``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, JSONBody, QueryParameter
from litestar.response import Template

from portal.accounts.guards import require_roles
from portal.i18n import translations
from portal.requests import ActorDep, AnyRequest, AuditDep, DbDep, Form
from portal.screening import letter_links, pages
from portal.screening.schemas import (
    EventIn,
    NotScreenedIn,
    child_json,
    event_json,
    progress_json,
)
from reviewer.screening.children import class_list, mark_not_screened
from reviewer.screening.events import (
    EVENT_READERS,
    EVENT_WRITERS,
    MAX_ROSTER_BYTES,
    REPORT_READERS,
    SCREENERS,
    NewEvent,
    create_event,
    import_roster,
    list_events,
)
from reviewer.screening.follow_up import FOLLOW_UP_READERS
from reviewer.screening.letters import LETTER_PRINTERS, class_letters_pdf
from reviewer.screening.reports import (
    ReportRow,
    data_sheet_csv,
    event_report,
    indicators_csv,
    school_report,
)

readers = require_roles(*EVENT_READERS)
BACK_TO_CHILD = {"back": "/screening/events/{event_id}/children/{enrollment_id}"}
"""Where a refused step on a child's page goes back to (portal/errors.py)."""
writers = require_roles(*EVENT_WRITERS)
screeners = require_roles(*SCREENERS)
reporters = require_roles(*REPORT_READERS)
letter_printers = require_roles(*LETTER_PRINTERS)
follow_up_readers = require_roles(*FOLLOW_UP_READERS)
ClassName = Annotated[str, QueryParameter(name="class", max_length=16)]
"""The class (the roster's grade) of the results letters; empty: children without a grade."""
ROSTER_BODY_LIMIT = MAX_ROSTER_BYTES + 64 * 1024

DateFrom = Annotated[date | None, QueryParameter(name="from")]
DateTo = Annotated[date | None, QueryParameter(name="to")]
"""The optional ``from`` / ``to`` days of the school reports (API and page)."""


@dataclass
class RosterUpload:
    file: UploadFile


RosterBody = Annotated[RosterUpload, Body(media_type=RequestEncodingType.MULTI_PART)]


async def _read_roster(upload: RosterUpload) -> bytes:
    return await upload.file.read(MAX_ROSTER_BYTES + 1)


def _csv(text: str, filename: str) -> Response[bytes]:
    # A byte-order mark: spreadsheets then read the names (Zoë, 李) as UTF-8.
    return Response(
        content=("\ufeff" + text).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _row_json(row: ReportRow) -> dict[str, Any]:
    v = row.values
    return {
        "school": row.school,
        "event_date": row.event_date.isoformat() if row.event_date else None,
        "grade": row.grade,
        "events": row.events,
        "enrolled": v.enrolled,
        "screened": v.screened,
        "not_screened": v.not_screened,
        "caries_experience": v.caries_experience,
        "untreated_decay": v.untreated_decay,
        "sealants_present": v.sealants_present,
        "early_care": v.early_care,
        "urgent_need": v.urgent_care,
        "fluoride_varnish": v.fluoride_varnish,
        "sealants_placed": v.sealants_placed,
        "submitted": v.submitted,
        "reviewed": v.reviewed,
    }


# --------------------------------------------------------------------------- API


class ScreeningEventApiController(Controller):
    path = "/screening-events"
    tags = ["screening"]

    @post("/", guards=[writers], status_code=201)
    async def create(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, data: JSONBody[EventIn],
    ) -> dict[str, Any]:
        """A screening day: site (the school), date, state (default: the organization's)."""
        event = await create_event(
            db_session, who, audit,
            NewEvent(site=data.site, event_date=data.date, state=data.state,
                     organization_id=data.organization_id),
        )
        return event_json(event)

    @get("/", guards=[readers])
    async def index(self, db_session: DbDep, who: ActorDep) -> dict[str, Any]:
        """The events of your organizations, latest first."""
        events = await list_events(db_session, who)
        return {"events": [event_json(event) for event in events]}

    @get("/{event_id:uuid}", guards=[readers])
    async def read(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, event_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """The event, its class progress and every child's state (the read is audited)."""
        klass = await class_list(db_session, who, audit, event_id)
        return {
            **event_json(klass.event),
            "progress": progress_json(klass.progress),
            "children": [child_json(child) for child in klass.children],
        }

    @post("/{event_id:uuid}/roster", guards=[writers], status_code=200,
          request_max_body_size=ROSTER_BODY_LIMIT)
    async def roster(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, event_id: FromPath[uuid.UUID],
        data: RosterBody,
    ) -> dict[str, Any]:
        """Multipart ``file``: the class roster CSV. Answers imported, updated and the refused
        lines (header = line 1). Importing the same file again updates and adds nothing."""
        result = await import_roster(db_session, who, audit, event_id, await _read_roster(data))
        return result.payload()

    @post("/{event_id:uuid}/children/{enrollment_id:uuid}/not-screened", guards=[screeners],
          status_code=200)
    async def not_screened(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, event_id: FromPath[uuid.UUID],
        enrollment_id: FromPath[uuid.UUID], data: JSONBody[NotScreenedIn],
    ) -> dict[str, Any]:
        """Mark a child not screened, with a reason (absent, no_consent, refused, …)."""
        _, child = await mark_not_screened(
            db_session, who, audit, event_id, enrollment_id, data.reason, data.note
        )
        return child_json(child)

    @get("/{event_id:uuid}/report", guards=[reporters])
    async def report(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, event_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """BSS indicators of the event, in total and by grade."""
        report = await event_report(db_session, who, audit, event_id)
        return {
            **event_json(report.event),
            "total": _row_json(report.rows[-1]),
            "by_grade": [_row_json(row) for row in report.by_grade],
        }

    @get("/{event_id:uuid}/report.csv", guards=[reporters])
    async def report_csv(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, event_id: FromPath[uuid.UUID],
    ) -> Response[bytes]:
        """The indicator table as CSV: one row per grade and one for the event."""
        report = await event_report(db_session, who, audit, event_id,
                                    action="screening_report.exported")
        return _csv(indicators_csv(report.rows), f"screening-{event_id}-indicators.csv")

    @get("/{event_id:uuid}/data-sheet.csv", guards=[reporters])
    async def data_sheet(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, event_id: FromPath[uuid.UUID],
    ) -> Response[bytes]:
        """The BSS data sheet as CSV: one row per child (names included; the export is
        audited)."""
        report = await event_report(db_session, who, audit, event_id,
                                    action="screening_event.exported")
        return _csv(data_sheet_csv(report), f"screening-{event_id}-children.csv")


class ScreeningReportApiController(Controller):
    path = "/screening-reports"
    tags = ["screening"]

    @get("/schools", guards=[reporters])
    async def schools(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, date_from: DateFrom = None,
        date_to: DateTo = None,
    ) -> dict[str, Any]:
        """BSS indicators per school over your organizations' events (optional from/to)."""
        rows = await school_report(db_session, who, audit, date_from, date_to)
        return {"schools": [_row_json(row) for row in rows[:-1]], "total": _row_json(rows[-1])}

    @get("/schools.csv", guards=[reporters])
    async def schools_csv(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, date_from: DateFrom = None,
        date_to: DateTo = None,
    ) -> Response[bytes]:
        rows = await school_report(db_session, who, audit, date_from, date_to)
        return _csv(indicators_csv(rows), "screening-schools.csv")


# --------------------------------------------------------------------------- pages


class ScreeningPagesController(Controller):
    path = "/screening"
    include_in_schema = False

    @get("/", guards=[readers])
    async def events(self, request: AnyRequest, db_session: DbDep, who: ActorDep) -> Template:
        return await pages.events_page(request, db_session, who)

    @get("/sw.js", guards=[readers])
    async def service_worker(self) -> Response[bytes]:
        """The offline service worker (static/sw.js), served here so that its scope covers
        the screening pages (a worker controls only the paths under its own)."""
        script = resources.files("portal").joinpath("static/sw.js").read_bytes()
        return Response(script, media_type="text/javascript",
                        headers={"Service-Worker-Allowed": "/screening/"})

    @post("/events", guards=[writers], status_code=303)
    async def create(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep, data: Form,
    ) -> Response[Any]:
        return await pages.create_event_form(request, db_session, who, audit, data)

    @get("/events/{event_id:uuid}", guards=[readers])
    async def event(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        event_id: FromPath[uuid.UUID],
    ) -> Template:
        return await pages.event_page(request, db_session, who, audit, event_id)

    @post("/events/{event_id:uuid}/roster", guards=[writers], status_code=200,
          request_max_body_size=ROSTER_BODY_LIMIT)
    async def roster(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        event_id: FromPath[uuid.UUID], data: RosterBody,
    ) -> Template:
        """The roster form (htmx, multipart with the CSRF token in the header)."""
        return await pages.roster_upload(request, db_session, who, audit, event_id,
                                         await _read_roster(data))

    @get("/events/{event_id:uuid}/children/{enrollment_id:uuid}", guards=[readers])
    async def child(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        event_id: FromPath[uuid.UUID], enrollment_id: FromPath[uuid.UUID],
    ) -> Template:
        return await pages.child_page(request, db_session, who, audit, event_id, enrollment_id)

    @post("/events/{event_id:uuid}/children/{enrollment_id:uuid}/findings",
          guards=[screeners], status_code=200)
    async def findings(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        event_id: FromPath[uuid.UUID], enrollment_id: FromPath[uuid.UUID], data: Form,
    ) -> Template:
        return await pages.findings_save(request, db_session, who, audit, event_id,
                                         enrollment_id, data)

    @post("/events/{event_id:uuid}/children/{enrollment_id:uuid}/not-screened",
          guards=[screeners], status_code=303, opt=BACK_TO_CHILD)
    async def not_screened(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        event_id: FromPath[uuid.UUID], enrollment_id: FromPath[uuid.UUID], data: Form,
    ) -> Response[Any]:
        return await pages.not_screened_form(request, db_session, who, audit, event_id,
                                             enrollment_id, data)

    @post("/events/{event_id:uuid}/children/{enrollment_id:uuid}/submit", guards=[screeners],
          status_code=303, opt=BACK_TO_CHILD)
    async def submit(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        event_id: FromPath[uuid.UUID], enrollment_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        return await pages.submit_form(request, db_session, who, audit, event_id, enrollment_id)

    @get("/events/{event_id:uuid}/report", guards=[reporters])
    async def report(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        event_id: FromPath[uuid.UUID],
    ) -> Template:
        return await pages.report_page(request, db_session, who, audit, event_id)

    @get("/events/{event_id:uuid}/letters.pdf", guards=[letter_printers])
    async def letters(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        event_id: FromPath[uuid.UUID], class_name: ClassName = "",
    ) -> Response[bytes]:
        """The results letters of one class, one page per screened child, each in its
        guardian's language (printing is audited with the children)."""
        _, pdf = await class_letters_pdf(
            db_session, who, audit, event_id, class_name, translations,
            find_dentist=request.app.state.settings.screening_dentist_line,
        )
        filename = f"screening-letters-{event_id}.pdf"
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
        })

    @get("/follow-up", guards=[follow_up_readers])
    async def follow_up(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
    ) -> Template:
        """Children with urgent need until a referral reaches "seen"."""
        return await pages.follow_up_page(request, db_session, who, audit)

    @get("/reports", guards=[reporters])
    async def schools(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        date_from: DateFrom = None, date_to: DateTo = None,
    ) -> Template:
        return await pages.schools_page(request, db_session, who, audit, date_from, date_to)


PAGE_CONTROLLERS: list[type] = [ScreeningPagesController, *letter_links.PAGE_CONTROLLERS]
API_CONTROLLERS: list[type] = [ScreeningEventApiController, ScreeningReportApiController]
