"""The screening pages (tablet first): events, one event's class, one child, reports.

Helpers only: the routes are in ``portal.screening.controllers``. Every function parses what
the browser sent, calls one ``reviewer.screening`` service and renders the answer.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from litestar import Response
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import Refused, attempt
from portal.intake.worker import finish_case_views
from portal.rendering import page, redirect
from portal.requests import AnyRequest
from reviewer.actor import Actor
from reviewer.idempotency import claim, clean_key
from reviewer.intake.identity import held_identities
from reviewer.screening.children import (
    Child,
    class_list,
    get_child,
    mark_not_screened,
    save_findings,
    submit_child,
)
from reviewer.screening.events import (
    EVENT_WRITERS,
    REPORT_READERS,
    SCREENERS,
    ImportResult,
    NewEvent,
    create_event,
    import_roster,
    list_events,
)
from reviewer.screening.findings import (
    NOT_SCREENED_REASONS,
    TREATMENT_URGENCIES,
    reason_label,
)
from reviewer.screening.follow_up import FOLLOW_UP_READERS, follow_up_list
from reviewer.screening.letters import LETTER_PRINTERS, letter_classes
from reviewer.screening.progress import ChildState
from reviewer.screening.reports import event_report, school_report
from reviewer.vocabulary import FLUORIDE_VARNISH, SEALANT
from storage.audit import AuditContext
from storage.models import ScreeningEnrollment, ScreeningEvent

PHOTO_VIEWS: dict[str, str] = {
    "upper_occlusal": "Upper occlusal",
    "lower_occlusal": "Lower occlusal",
    "anterior": "Anterior (front)",
    "left": "Left side",
    "right": "Right side",
}
XRAY_VIEWS: dict[str, str] = {
    "bitewing": "Bitewing",
    "periapical": "Periapical",
    "occlusal": "Occlusal",
    "panoramic": "Panoramic",
    "cephalometric": "Cephalometric",
}
"""The radiograph slot's views (:func:`reviewer.vocabulary.radiograph_views`), each billed by
its own capture code (a bitewing D0708, a periapical D0707...)."""
FINDINGS_SCOPE = "screening.findings"
STATE_BADGES: dict[ChildState, str] = {
    ChildState.PENDING: "badge-info",
    ChildState.NOT_SCREENED: "badge-overdue",
    ChildState.SCREENED: "badge-soon",
    ChildState.SUBMITTED: "badge-routine",
    ChildState.NEEDS_INFO: "badge-urgent",
    ChildState.REVIEWED: "badge-routine",
}


def _common(who: Actor) -> dict[str, Any]:
    return {
        "may_write": who.role in EVENT_WRITERS,
        "may_screen": who.role in SCREENERS,
        "may_report": who.role in REPORT_READERS,
        "may_print_letters": who.role in LETTER_PRINTERS,
        "may_follow_up": who.role in FOLLOW_UP_READERS,
        "state_badges": STATE_BADGES,
        "reason_label": reason_label,
    }


async def events_page(
    request: AnyRequest, db: AsyncSession, who: Actor, *,
    errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    events = await list_events(db, who)
    return page(
        request, "screening/events.html",
        {**_common(who), "events": events, "errors": errors or {}, "values": values or {},
         "today": date.today().isoformat()},
        status_code=status_code,
    )


async def create_event_form(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext,
    data: dict[str, str],
) -> Response[Any]:
    values = {k: (data.get(k) or "").strip() for k in ("site", "date", "state")}
    try:
        event_date = date.fromisoformat(values["date"])
    except ValueError:
        return await events_page(request, db, who, errors={"date": "Give the day of the visit."},
                                 values=values, status_code=422)
    event = await attempt(db, lambda: create_event(
        db, who, audit,
        NewEvent(site=values["site"], event_date=event_date, state=values["state"] or None),
    ), own_page=())
    if isinstance(event, Refused):
        field = "state" if "state" in event.code else "site" if "site" in event.code else "form"
        return await events_page(request, db, who, errors={field: event.message},
                                 values=values, status_code=422)
    return redirect(request, f"/screening/events/{event.id}",
                    success="Event created. Import the class roster next.")


async def event_page(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext,
    event_id: uuid.UUID, *, import_result: ImportResult | None = None,
    import_error: str | None = None, status_code: int = 200,
) -> Template:
    klass = await class_list(db, who, audit, event_id)
    return page(
        request, "screening/event.html",
        {**_common(who), "event": klass.event, "children": klass.children,
         "progress": klass.progress, "import_result": import_result,
         "import_error": import_error, "letter_classes": letter_classes(klass.children)},
        fragments={"class-list": "screening/_class-list.html",
                   "class-progress": "screening/_class-progress.html",
                   "roster-import": "screening/_roster-import.html"},
        status_code=status_code,
    )


async def roster_upload(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext,
    event_id: uuid.UUID, data: bytes,
) -> Template:
    """The htmx roster form: the import's outcome, and a trigger that refreshes the class."""
    result = await attempt(db, lambda: import_roster(db, who, audit, event_id, data))
    if isinstance(result, Refused):
        return await event_page(request, db, who, audit, event_id, import_error=result.message,
                                status_code=422)
    answer = await event_page(request, db, who, audit, event_id, import_result=result)
    answer.headers["HX-Trigger"] = "roster-imported"
    return answer


def _child_context(
    request: AnyRequest, who: Actor, event: ScreeningEvent, child: Child,
    **extra: Any,
) -> dict[str, Any]:
    return {
        **_common(who), "event": event, "child": child, "findings": child.findings,
        "urgencies": TREATMENT_URGENCIES, "reasons": NOT_SCREENED_REASONS,
        "photo_views": PHOTO_VIEWS, "xray_views": XRAY_VIEWS,
        "idempotency_key": f"findings:{uuid.uuid4()}",
        "max_bytes": request.app.state.settings.uploads.max_upload_bytes,
        "sealant_teeth": " ".join(
            str(s.get("tooth")) for s in child.findings.get("services") or []
            if s.get("code") == SEALANT and s.get("tooth")
        ),
        "fluoride": any(
            s.get("code") == FLUORIDE_VARNISH for s in child.findings.get("services") or []
        ),
        **extra,
    }


async def child_page(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext,
    event_id: uuid.UUID, enrollment_id: uuid.UUID,
) -> Template:
    event, child = await get_child(db, who, audit, event_id, enrollment_id)
    holds = await held_identities(db, child.case, child.patient) if child.case else []
    context = _child_context(
        request, who, event, child, holds=holds, hold_case=child.case,
        hold_back=f"/screening/events/{event_id}/children/{enrollment_id}",
    )
    return page(request, "screening/child.html", context,
                fragments={"findings-form": "screening/_findings-form.html"})


def _flag(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get((value or "").strip().lower())


def findings_from_form(data: dict[str, str]) -> dict[str, Any]:
    """The page's form fields as the API's ``screening`` object."""
    services: list[dict[str, str]] = []
    if _flag(data.get("fluoride_varnish")):
        services.append({"code": FLUORIDE_VARNISH})
    for tooth in (data.get("sealant_teeth") or "").replace(",", " ").split():
        services.append({"code": SEALANT, "tooth": tooth})
    return {
        "caries_experience": _flag(data.get("caries_experience")),
        "untreated_decay": _flag(data.get("untreated_decay")),
        "sealants_present": _flag(data.get("sealants_present")),
        "treatment_urgency": (data.get("treatment_urgency") or "").strip(),
        "services": services,
    }


async def findings_save(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext,
    event_id: uuid.UUID, enrollment_id: uuid.UUID, data: dict[str, str],
) -> Template:
    """Save the findings form (htmx): answers the form again, saved or with the problem.

    The first save creates the child's case, so the photo panel is sent along out of band.
    Under an ``Idempotency-Key`` (header, or the ``idempotency_key`` field) already used by
    this user for this child, nothing is saved again: the form is answered as it stands (the
    offline queue re-sending a save that did arrive must not undo a later correction)."""
    raw_key = request.headers.get("idempotency-key") or data.get("idempotency_key")

    async def step() -> tuple[ScreeningEvent, Child]:
        key = clean_key(raw_key)
        if key is not None and await claim(db, who, key, FINDINGS_SCOPE, str(enrollment_id)):
            return await get_child(db, who, audit, event_id, enrollment_id, audit=False)
        return await save_findings(db, who, audit, event_id, enrollment_id,
                                   findings_from_form(data))

    saved = await attempt(db, step)
    if isinstance(saved, Refused):
        event, child = await get_child(db, who, audit, event_id, enrollment_id, audit=False)
        context = _child_context(request, who, event, child, error=saved.message,
                                 submitted=data)
        return page(request, "screening/_findings-form.html", context, status_code=422)
    event, child = saved
    context = _child_context(request, who, event, child, saved=True, photos_oob=True)
    answer = page(request, "screening/_findings-form.html", context)
    if child.case is not None:
        # The offline queue sends a child's photos to this case once the findings made it.
        answer.headers["X-Case-Id"] = str(child.case.id)
    return answer


async def not_screened_form(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext,
    event_id: uuid.UUID, enrollment_id: uuid.UUID, data: dict[str, str],
) -> Response[Any]:
    # A refused step goes back to the child's page (the route's ``back``, portal/errors.py).
    await mark_not_screened(db, who, audit, event_id, enrollment_id, data.get("reason"),
                            data.get("note"))
    return redirect(request, f"/screening/events/{event_id}", success="Marked as not screened.")


async def submit_form(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext,
    event_id: uuid.UUID, enrollment_id: uuid.UUID,
) -> Response[Any]:
    enrollment = await db.get(ScreeningEnrollment, enrollment_id)
    if enrollment is not None and enrollment.case_id is not None:
        # A dentist must never get a case whose pictures are still being made.
        await finish_case_views(request.app, enrollment.case_id)
    await submit_child(db, who, audit, event_id, enrollment_id)
    return redirect(request, f"/screening/events/{event_id}", success="Sent to the dentists.")


async def follow_up_page(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext,
) -> Template:
    items = await follow_up_list(db, who, audit)
    return page(request, "screening/follow-up.html", {**_common(who), "items": items})


async def report_page(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext,
    event_id: uuid.UUID,
) -> Template:
    report = await event_report(db, who, audit, event_id)
    return page(request, "screening/report.html",
                {**_common(who), "event": report.event, "report": report})


async def schools_page(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext,
    date_from: date | None, date_to: date | None,
) -> Template:
    rows = await school_report(db, who, audit, date_from, date_to)
    return page(request, "screening/schools.html",
                {**_common(who), "rows": rows, "date_from": date_from, "date_to": date_to})
