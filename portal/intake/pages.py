"""The patient's intake pages (rendering helpers for ``PatientPagesController``).

Flow: my cases → (consent, once per version) → "Send photos to the dentist": why + the
questionnaire (one draft key per form, so a double tap makes one draft) → the draft: photos,
uploaded one by one by the upload widget of static/js/app.js → submit → "waiting for the
dentist" → the dentist's advice once the evaluation is signed.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from litestar import Response
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import N_, current_language, gettext
from portal.patients.history_form import as_lines, parse_lines
from portal.rendering import flash, page, redirect
from portal.requests import AnyRequest
from portal.settings import Settings
from reviewer.actor import Actor
from reviewer.cases.state import CaseStatus, emergency_signals
from reviewer.consent_forms import TELEDENTISTRY, current_form
from reviewer.errors import Conflict, Invalid, Unprocessable
from reviewer.evaluation.annotations import shown_to_submitter
from reviewer.intake.attachments import VIEWS
from reviewer.intake.cases import (
    NewCase,
    intake_start,
    list_my_cases,
    organization_of,
    save_draft,
    view_case,
)
from reviewer.intake.consents import ConsentRequest, accept_consent
from reviewer.intake.questionnaire import BOOLEAN_KEYS, PROBLEM_KEY
from reviewer.patients.history import LISTS, HistoryInput, update_history
from reviewer.vocabulary import radiograph_views
from storage.audit import AuditContext
from storage.models import Patient

REASONS: Final = (
    ("post_op", N_("A check after a procedure"), N_("Photos of how it is healing.")),
    ("emergency", N_("Something hurts or is swollen"), N_("Pain, swelling, a broken tooth.")),
    ("question", N_("A question"), N_("Anything else you want a dentist to look at.")),
)
"""Texts here are marked with ``N_`` (the catalog's source text); the templates translate
them with ``_()`` where they are shown (portal/i18n.py)."""
QUESTIONS: Final = {
    "swelling": N_("Is your face or gum swollen?"),
    "bleeding": N_("Is it bleeding, and the bleeding does not stop?"),
    "fever": N_("Do you have a fever?"),
    "difficulty_swallowing": N_("Is it hard to swallow?"),
    "difficulty_breathing": N_("Is it hard to breathe?"),
}
VIEW_HINTS: Final = {
    "anterior": (N_("Front teeth"),
                 N_("Smile wide with your teeth together; hold the phone straight in front.")),
    "upper_occlusal": (N_("Upper teeth"),
                       N_("Tilt your head back, open wide, phone below your chin pointing up.")),
    "lower_occlusal": (N_("Lower teeth"), N_("Open wide; hold the phone above, pointing down.")),
    "left": (N_("Left side"),
             N_("Pull your left cheek back with a clean finger; bite together.")),
    "right": (N_("Right side"),
              N_("Pull your right cheek back with a clean finger; bite together.")),
    "other": (N_("The sore spot, close up"),
              N_("The area that hurts or was treated, in good light, a hand's width away.")),
    # the X-ray slot's choices (radiographs only)
    "bitewing": (N_("Bitewing X-ray"),
                 N_("Upper and lower back teeth together, biting on a tab.")),
    "periapical": (N_("Periapical X-ray"), N_("One or a few teeth, whole, down to the root tips.")),
    "occlusal": (N_("Occlusal X-ray"), N_("The upper or lower arch, seen from the biting side.")),
    "panoramic": (N_("Panoramic X-ray"), N_("The whole mouth and jaws on one wide image.")),
    "cephalometric": (N_("Cephalometric X-ray"),
                      N_("A side view of the whole head (orthodontics).")),
}
XRAY_VIEWS: Final = radiograph_views()
"""The choices of the X-ray slot, in order; ``other`` ("not sure") is its default."""
PROBLEMS: Final = (
    ("new", N_("A new problem"), N_("A dentist here has not looked at it before.")),
    ("established", N_("A problem a dentist here already knows"),
     N_("A dentist here looked at it before; this is another look.")),
    ("post_op_check", N_("A check after treatment"), N_("After a filling, extraction or surgery.")),
)
"""The questionnaire's ``problem`` answer, as the new-case form offers it."""
STATUS_TEXT: Final = {
    CaseStatus.DRAFT: N_("Not sent yet"),
    CaseStatus.SUBMITTED: N_("Waiting for the dentist"),
    CaseStatus.IN_REVIEW: N_("Waiting for the dentist"),
    CaseStatus.NEEDS_INFO: N_("The dentist needs more from you"),
    CaseStatus.REVIEWED: N_("The dentist has answered"),
    CaseStatus.CLOSED: N_("The dentist has answered"),
}
assert set(VIEW_HINTS) == set(VIEWS)


def _settings(request: AnyRequest) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def questionnaire_from_form(data: dict[str, str]) -> dict[str, Any]:
    """Form fields → answers: unticked boxes are a "no", empty fields are left out."""
    answers: dict[str, Any] = {key: data.get(key) == "yes" for key in BOOLEAN_KEYS}
    for key in ("pain", "area", "procedure_date", "notes", PROBLEM_KEY):
        value = (data.get(key) or "").strip()
        if value:
            answers[key] = value
    return answers


async def my_cases(request: AnyRequest, db: AsyncSession, who: Actor) -> Template:
    start = await intake_start(db, who)
    return page(request, "patient/my_cases.html", {
        "cases": await list_my_cases(db, who),
        "consent_ok": start.consent_ok,
        "organization": start.organization,
        "patient": start.patient,
        "status_text": STATUS_TEXT,
        "reasons": {value: label for value, label, _ in REASONS},
    })


async def consent_page(
    request: AnyRequest, db: AsyncSession, who: Actor
) -> Template:
    start = await intake_start(db, who)
    return page(request, "patient/consent.html", {
        "consent_form": current_form(TELEDENTISTRY, current_language()),
        "consent_ok": start.consent_ok,
        "organization": start.organization,
    })


async def consent_accept(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext,
    data: dict[str, str],
) -> Response[Any]:
    if data.get("agree") != "yes":
        flash(request,
              gettext("Tick the box to say you agree, or ask the practice for a live visit."),
              "error")
        return redirect(request, "/patient/consent")
    try:
        version = int(data.get("version", "0"))
    except ValueError:
        version = 0
    try:
        await accept_consent(db, who, audit, ConsentRequest(
            form=TELEDENTISTRY, version=version, language=data.get("language") or "en"))
    except Conflict as exc:
        if exc.code != "already_accepted":
            flash(request, gettext(exc.message), "error")
            return redirect(request, "/patient/consent")
    return redirect(request, "/patient/cases/new",
                    success=gettext("Thank you. You can now send photos to the dentist."))


def _history_values(patient: Patient) -> dict[str, Any]:
    """The patient's history as the form's lines (one entry a line, ``name: note``)."""
    values: dict[str, Any] = {f: as_lines(getattr(patient, f)) for f in LISTS}
    values["no_known_allergies"] = bool(patient.no_known_allergies)
    return values


def history_from_form(data: dict[str, str]) -> HistoryInput | None:
    """The history the new-case form sends (None where the form had no history fields);
    raises Unprocessable for a bad entry or allergies with "no known allergies"."""
    if data.get("history_form") != "1":
        return None
    return HistoryInput(
        conditions=parse_lines(data.get("conditions", "")),
        medications=parse_lines(data.get("medications", "")),
        allergies=parse_lines(data.get("allergies", "")),
        no_known_allergies=data.get("no_known_allergies") == "yes",
    )


def _new_case_context(
    start_org: Any, draft_key: str, values: dict[str, Any], error: str | None = None
) -> dict[str, Any]:
    return {
        "draft_key": draft_key,
        "reasons": REASONS,
        "questions": QUESTIONS,
        "problems": PROBLEMS,
        "values": values,
        "error": error,
        "organization": start_org,
        "emergency": bool(emergency_signals(values)),
    }


async def new_case(
    request: AnyRequest, db: AsyncSession, who: Actor, *, draft_key: str
) -> Response[Any]:
    start = await intake_start(db, who)
    if not start.consent_ok:
        return redirect(request, "/patient/consent")
    return page(request, "patient/new_case.html",
                _new_case_context(start.organization, draft_key,
                                  {"kind": "post_op", **_history_values(start.patient)}))


async def emergency_check(
    request: AnyRequest, db: AsyncSession, who: Actor, data: dict[str, str]
) -> Template:
    """htmx: the emergency message appears as soon as an answer signals an emergency."""
    start = await intake_start(db, who)
    return page(request, "intake/_emergency-alert.html", {
        "emergency": bool(emergency_signals(questionnaire_from_form(data))),
        "organization": start.organization,
    })


async def save_case(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext,
    data: dict[str, str],
) -> Response[Any]:
    answers = questionnaire_from_form(data)
    draft_key = (data.get("draft_key") or "").strip()
    try:
        if not draft_key:
            raise Invalid(N_("This form is out of date. Please start again."))
        history = history_from_form(data)  # checked before anything is saved
        created = await save_draft(
            db, who, audit,
            NewCase(kind=data.get("kind", ""), questionnaire=answers), f"page:{draft_key}",
        )
        if history is not None:
            await update_history(db, who, created.case.patient_id, history)
    except Conflict as exc:
        if exc.code == "consent_required":
            return redirect(request, "/patient/consent")
        raise
    except (Invalid, Unprocessable) as exc:
        await db.rollback()
        start = await intake_start(db, who)
        typed = {f: data.get(f, "") for f in LISTS}
        return page(
            request, "patient/new_case.html",
            _new_case_context(start.organization, draft_key, {
                **answers, **typed, "no_known_allergies": data.get("no_known_allergies") == "yes",
                "kind": data.get("kind")}, gettext(exc.message)),
            status_code=422,
        )
    return redirect(request, f"/patient/cases/{created.case.id}")


async def case_page(
    request: AnyRequest, db: AsyncSession, who: Actor, audit: AuditContext,
    case_id: uuid.UUID,
) -> Template:
    view = await view_case(db, who, audit, case_id)
    status = CaseStatus(view.case.status)
    uploads = _settings(request).uploads
    return page(request, "patient/case.html", {
        "view": view,
        "case": view.case,
        "status": status.value,
        "status_text": STATUS_TEXT[status],
        "editable": status in {CaseStatus.DRAFT, CaseStatus.NEEDS_INFO},
        "organization": await organization_of(db, view.case),
        "view_hints": VIEW_HINTS,
        "xray_views": XRAY_VIEWS,
        "questions": QUESTIONS,
        "reasons": {value: label for value, label, _ in REASONS},
        "max_bytes": uploads.max_upload_bytes,
        "max_files": uploads.max_files_per_case,
        "shown_annotations": await shown_to_submitter(db, view.attachments,  # issue 21
                                                      view.evaluation is not None),
    }, fragments={"photo-list": "intake/_photo-list.html"})  # polled while views are made
