"""The dentists' review: queue, claims, the case page, the evaluation. Pages and JSON API.

Thin: parse the request, call one ``reviewer.queue`` / ``reviewer.evaluation`` service, turn
the result into JSON or a page. Only dentists reach any of it (guards); which cases a dentist
reaches is decided in the services (organizations served, current license, claimant).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Response, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.guards import require_roles
from portal.rendering import flash, page, redirect
from portal.requests import ActorDep, AnyRequest, AuditDep, DbDep, current_user
from portal.review import views
from portal.review.annotations import AnnotationsApiController
from portal.review.schemas import (
    AddendumIn,
    EvaluationIn,
    InfoRequestIn,
    RetakeIn,
    SignIn,
    addendum_json,
    case_json,
    draft_from_form,
    evaluation_json,
    info_request_json,
    unviewed_reasons_from_form,
)
from portal.review.signing import SigningLocked, password_checked
from reviewer.cases.state import CaseKind, Urgency
from reviewer.errors import Invalid
from reviewer.evaluation.casefile import load_case_file
from reviewer.evaluation.image_review import ImagesNotReviewed, image_checklist
from reviewer.evaluation.retake import request_retake
from reviewer.evaluation.services import (
    AttestationRequired,
    BadPassword,
    EvaluationIncomplete,
    add_addendum,
    request_information,
    save_draft,
    sign_evaluation,
)
from reviewer.intake.problem import correct_problem
from reviewer.queue.claims import claim_case, claim_next, release_case, renew_lease
from reviewer.queue.listing import MAX_PAGE_SIZE, PAGE_SIZE, QueueFilters, list_queue
from storage.models import Case, Organization, Role

dentists_only = require_roles(Role.DENTIST)


def _now() -> datetime:
    return datetime.now(UTC)


def _filters(
    organization: str | None, kind: str | None, urgency: str | None, overdue: str | None,
    mine: str | None, cursor: str | None, limit: int | None = None,
) -> QueueFilters:
    def flag(value: str | None) -> bool:
        return (value or "").lower() in {"1", "true", "yes", "on"}

    try:
        return QueueFilters(
            organization_id=uuid.UUID(organization) if organization else None,
            kind=CaseKind(kind) if kind else None,
            urgency=Urgency(urgency) if urgency else None,
            overdue=flag(overdue),
            mine=flag(mine),
            cursor=cursor or None,
            limit=min(max(limit or PAGE_SIZE, 1), MAX_PAGE_SIZE),
        )
    except ValueError:
        raise Invalid("A queue filter is not valid.", code="invalid_filter") from None


Filter = Annotated[str | None, Parameter(required=False)]


# --------------------------------------------------------------------------- API


class QueueApiController(Controller):
    path = "/queue"
    tags = ["review"]
    guards = [dentists_only]

    @get("/")
    async def queue(
        self, db_session: DbDep, who: ActorDep, organization: Filter = None, kind: Filter = None,
        urgency: Filter = None, overdue: Filter = None, mine: Filter = None, cursor: Filter = None,
        limit: Annotated[int | None, Parameter(required=False, ge=1, le=MAX_PAGE_SIZE)] = None,
    ) -> dict[str, Any]:
        """One keyset page of the queue: ``{"items": [...], "next_cursor"}`` (``limit``: 1-200,
        default 50)."""
        filters = _filters(organization, kind, urgency, overdue, mine, cursor, limit)
        result = await list_queue(db_session, who, filters, now=_now())
        return result.as_dict()

    @post("/claim", status_code=200,
          responses={204: ResponseSpec(data_container=None, description="Nothing waits.")})
    async def claim_next(self, db_session: DbDep, who: ActorDep, audit: AuditDep) -> Response[Any]:
        """Claim the most pressing case: 200 with the case, 204 when nothing waits."""
        case = await claim_next(db_session, who, audit, now=_now())
        if case is None:
            return Response(content=None, status_code=204)
        return Response(case_json(case), status_code=200)


class ReviewApiController(Controller):
    path = "/cases"
    tags = ["review"]
    guards = [dentists_only]

    @post("/{case_id:uuid}/claim", status_code=200)
    async def claim(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, case_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """Claim this case (200; also when you hold it already); 409 when another holds it."""
        return case_json(await claim_case(db_session, who, audit, case_id, now=_now()))

    @post("/{case_id:uuid}/release", status_code=200)
    async def release(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, case_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """Give the case back to the queue (the draft evaluation stays)."""
        return case_json(await release_case(db_session, who, audit, case_id, now=_now()))

    @post("/{case_id:uuid}/lease", status_code=200)
    async def renew(
        self, db_session: DbDep, who: ActorDep, case_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """Renew your claim's lease (30 minutes from now)."""
        return case_json(await renew_lease(db_session, who, case_id, now=_now()))

    @put("/{case_id:uuid}/evaluation")
    async def save(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, case_id: FromPath[uuid.UUID],
        data: JSONBody[EvaluationIn],
    ) -> dict[str, Any]:
        """Replace the draft (whole); answers it with ``problems`` that still block signing."""
        saved = await save_draft(db_session, who, audit, case_id, data.draft(), now=_now())
        return evaluation_json(saved.evaluation, saved.problems)

    @post("/{case_id:uuid}/evaluation/sign", status_code=200)
    async def sign(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID], data: JSONBody[SignIn],
    ) -> dict[str, Any]:
        """Sign: password re-checked (403 ``bad_password``), ``attest`` must be true, every
        image opened by you or given a reason in ``unviewed_reasons`` (422
        ``images_not_reviewed`` with ``attachment_ids``)."""
        evaluation = await password_checked(request, db_session, who, audit, case_id,
                                            sign_evaluation, password=data.password,
                                            attest=data.attest,
                                            unviewed_reasons=data.unviewed_reasons)
        return evaluation_json(evaluation)

    @post("/{case_id:uuid}/evaluation/addenda", status_code=201)
    async def addendum(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID], data: JSONBody[AddendumIn],
    ) -> dict[str, Any]:
        """Add a signed addendum to a signed evaluation (password re-checked)."""
        added = await password_checked(request, db_session, who, audit, case_id, add_addendum,
                                       text=data.text, password=data.password)
        return addendum_json(added)

    @post("/{case_id:uuid}/info-requests", status_code=201)
    async def info_request(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, case_id: FromPath[uuid.UUID],
        data: JSONBody[InfoRequestIn],
    ) -> dict[str, Any]:
        """Ask the submitter for more; releases your claim, keeps the draft."""
        created = await request_information(
            db_session, who, audit, case_id, message=data.message, now=_now()
        )
        return info_request_json(created)

    @post("/{case_id:uuid}/attachments/{attachment_id:uuid}/retake", status_code=201)
    async def retake(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, case_id: FromPath[uuid.UUID],
        attachment_id: FromPath[uuid.UUID], data: JSONBody[RetakeIn],
    ) -> dict[str, Any]:
        """Ask the submitter to take one image again, with a reason: the image is marked
        (kept), the case goes back to the submitter like an information request."""
        attachment, created = await request_retake(
            db_session, who, audit, case_id, attachment_id, reason=data.reason, now=_now()
        )
        return {
            "attachment_id": str(attachment.id),
            "retake_requested": attachment.retake_requested,
            "retake_reason": attachment.retake_reason,
            "info_request": info_request_json(created),
        }


# --------------------------------------------------------------------------- pages


class ReviewPagesController(Controller):
    path = "/review"
    include_in_schema = False
    guards = [dentists_only]

    @get("/")
    async def queue_page(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, organization: Filter = None,
        kind: Filter = None, urgency: Filter = None, overdue: Filter = None, mine: Filter = None,
        cursor: Filter = None,
    ) -> Template:
        """The queue; an htmx request aimed at #queue-list gets just the list (polling)."""
        filters = _filters(organization, kind, urgency, overdue, mine, cursor)
        result = await list_queue(db_session, who, filters, now=_now())
        orgs = [o for o in current_user(request).organizations if o.id in who.organization_ids]
        return page(
            request,
            "review/queue.html",
            {
                **views.helpers(),
                "queue": result,
                "filters": filters,
                "organizations": orgs,
                "self_url": views.with_query("/review", filters.query(cursor=filters.cursor)),
                "next_url": (
                    views.with_query("/review", filters.query(cursor=result.next_cursor))
                    if result.next_cursor else None
                ),
                "first_url": views.with_query("/review", filters.query()),
            },
            fragments={"queue-list": "review/_queue-list.html"},
        )

    @post("/next", status_code=303)
    async def next_case(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
    ) -> Response[Any]:
        """"Next case": claim the most pressing case and open it."""
        case = await claim_next(db_session, who, audit, now=_now())
        if case is None:
            flash(request, "Nothing waits in your queue right now.", "info")
            return redirect(request, "/review")
        return redirect(request, f"/review/cases/{case.id}")

    @get("/cases/{case_id:uuid}")
    async def case_page(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID],
    ) -> Template:
        """The case: patient summary, questionnaire, images, history, the evaluation."""
        case_file = await load_case_file(db_session, who, audit, case_id, now=_now())
        review_items = await image_checklist(db_session, case_id, who.user_id)
        return page(request, "review/case.html",
                    {**views.helpers(), "cf": case_file, "review_items": review_items,
                     "tz": case_file.organization.time_zone})

    @post("/cases/{case_id:uuid}/claim", status_code=303)
    async def claim(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await claim_case(db_session, who, audit, case_id, now=_now())
        return redirect(request, f"/review/cases/{case_id}")

    @post("/cases/{case_id:uuid}/release", status_code=303)
    async def release(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await release_case(db_session, who, audit, case_id, now=_now())
        return redirect(request, "/review",
                        success="The case is back in the queue; your draft is kept.")

    @post("/cases/{case_id:uuid}/lease", status_code=200)
    async def renew(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, case_id: FromPath[uuid.UUID],
    ) -> Template:
        """htmx, every few minutes while the page is open: keeps the claim alive."""
        case = await renew_lease(db_session, who, case_id, now=_now())
        return page(request, "review/_lease.html", {**views.helpers(), "case": case})

    @post("/cases/{case_id:uuid}/evaluation", status_code=200)
    async def autosave(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID],
    ) -> Template:
        """htmx auto-save of the whole form; answers the "saved" line."""
        form = await request.form()
        saved = await save_draft(db_session, who, audit, case_id, draft_from_form(form),
                                 now=_now())
        return page(request, "review/_save-status.html",
                    {**views.helpers(), "evaluation": saved.evaluation,
                     "problems": saved.problems, "case": saved.case})

    @get("/cases/{case_id:uuid}/rows/{kind:str}")
    async def blank_row(
        self, request: AnyRequest, case_id: FromPath[uuid.UUID], kind: FromPath[str],
    ) -> Template:
        """One more empty row for the teeth or the procedures table."""
        template = "review/_procedure-row.html" if kind == "procedure" else "review/_tooth-row.html"
        return page(request, template, {**views.helpers(), "row": {}})

    @post("/cases/{case_id:uuid}/sign", status_code=303)
    async def sign(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """Sign; with htmx the current form comes along (hx-include) and is saved first."""
        form = await request.form()
        draft = draft_from_form(form) if "advice" in form else None
        reasons = unviewed_reasons_from_form(form)
        try:
            await password_checked(
                request, db_session, who, audit, case_id, sign_evaluation,
                password=str(form.get("password") or ""),
                attest=str(form.get("attest") or "") in {"yes", "true", "on", "1"},
                draft=draft, unviewed_reasons=reasons,
            )
        except (BadPassword, AttestationRequired, EvaluationIncomplete,
                ImagesNotReviewed) as exc:
            return await _refused_sign_form(request, db_session, who.user_id, case_id,
                                            exc.message, reasons)
        except SigningLocked as exc:
            locked = await _refused_sign_form(request, db_session, who.user_id, case_id,
                                              exc.detail, reasons)
            locked.headers["Retry-After"] = str(exc.retry_after)
            return locked
        return redirect(request, f"/review/cases/{case_id}",
                        success="Signed. The submitter can now read your advice.")

    @post("/cases/{case_id:uuid}/problem", status_code=303,
          opt={"back": "/review/cases/{case_id}"})
    async def problem(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """Correct the patient's answer: new, established or post-op check (audited)."""
        form = await request.form()
        await correct_problem(db_session, who, audit, case_id, str(form.get("problem") or ""),
                              now=_now())
        return redirect(request, f"/review/cases/{case_id}", success="Problem status saved.")

    @post("/cases/{case_id:uuid}/addenda", status_code=303)
    async def addendum(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await request.form()
        await password_checked(request, db_session, who, audit, case_id, add_addendum,
                               text=str(form.get("text") or ""),
                               password=str(form.get("password") or ""))
        return redirect(request, f"/review/cases/{case_id}", success="Addendum signed.")

    @post("/cases/{case_id:uuid}/info-requests", status_code=303)
    async def info_request(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await request.form()
        await request_information(db_session, who, audit, case_id,
                                  message=str(form.get("message") or ""), now=_now())
        return redirect(request, "/review",
                        success="Sent back to the submitter; your draft is kept.")

    @post("/cases/{case_id:uuid}/attachments/{attachment_id:uuid}/retake", status_code=303,
          opt={"back": "/review/cases/{case_id}"})
    async def retake(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        case_id: FromPath[uuid.UUID], attachment_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """The case page's "Ask for a retake" form (same service as the API route)."""
        form = await request.form()
        await request_retake(db_session, who, audit, case_id, attachment_id,
                             reason=str(form.get("reason") or ""), now=_now())
        return redirect(request, "/review",
                        success="Sent back to the submitter for a retake; your draft is kept.")


async def _refused_sign_form(
    request: AnyRequest, db: AsyncSession, dentist_id: uuid.UUID, case_id: uuid.UUID,
    message: str,
    reasons: dict[str, str],
) -> Template:
    """The sign form again with why signing was refused (and the images' review as it stands,
    the reasons typed kept): 422, so htmx swaps it in."""
    review_items = await image_checklist(db, case_id, dentist_id)
    case = await db.get(Case, case_id)
    organization = await db.get(Organization, case.organization_id) if case else None
    return page(request, "review/_sign-form.html",
                {**views.helpers(), "case_id": case_id, "sign_error": message,
                 "review_items": review_items, "unviewed_reasons": reasons,
                 "tz": organization.time_zone if organization else "UTC"}, status_code=422)


PAGE_CONTROLLERS: list[type] = [ReviewPagesController]
API_CONTROLLERS: list[type] = [QueueApiController, ReviewApiController, AnnotationsApiController]
