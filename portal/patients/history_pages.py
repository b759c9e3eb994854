"""The medical history form: the patient (or a guardian) on their profile, and staff who
register patients (a hygienist for a child, guardian-reported). One entry a line, a note
after a colon ("Penicillin: hives")."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from portal.accounts.guards import require_roles
from portal.errors import form_error
from portal.i18n import gettext
from portal.patients.history_form import as_lines, parse_lines
from portal.rendering import page, redirect
from portal.requests import ActorDep, AnyRequest, DbDep, Form
from reviewer.accounts.registry import read_patient
from reviewer.actor import Actor
from reviewer.errors import DomainError
from reviewer.patients.history import LISTS, HistoryInput, update_history
from storage.models import Patient, Role

editors = require_roles(Role.PATIENT, Role.HYGIENIST, Role.FRONT_DESK, Role.COORDINATOR)
BACK = {"back": "/patients/{patient_id}/history"}


def _values(patient: Patient) -> dict[str, Any]:
    values: dict[str, Any] = {f: as_lines(getattr(patient, f)) for f in LISTS}
    values["no_known_allergies"] = bool(patient.no_known_allergies)
    return values


class HistoryPageController(Controller):
    path = "/patients/{patient_id:uuid}/history"
    include_in_schema = False

    @get("/", guards=[editors], opt=BACK)
    async def history_page(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        patient_id: FromPath[uuid.UUID],
    ) -> Template:
        patient = await read_patient(db_session, who, patient_id)
        return page(request, "patients/history.html",
                    {"patient": patient, "values": _values(patient), "staff": _staff(who)})

    @post("/", guards=[editors], status_code=303, opt=BACK)
    async def save_history(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        patient_id: FromPath[uuid.UUID], data: Form,
    ) -> Response[Any]:
        try:
            form = HistoryInput(
                conditions=parse_lines(data.get("conditions", "")),
                medications=parse_lines(data.get("medications", "")),
                allergies=parse_lines(data.get("allergies", "")),
                no_known_allergies=data.get("no_known_allergies") == "yes",
            )
            patient = await update_history(db_session, who, patient_id, form)
        except DomainError as exc:
            # the typed lines are shown again with the message (422)
            error = await form_error(db_session, exc)
            patient = await read_patient(db_session, who, patient_id)
            values: dict[str, Any] = {f: data.get(f, "") for f in LISTS}
            values["no_known_allergies"] = data.get("no_known_allergies") == "yes"
            return page(request, "patients/history.html",
                        {"patient": patient, "values": values, "error": error,
                         "staff": _staff(who)}, status_code=422)
        back = f"/patients/{patient.id}" if _staff(who) else f"/patients/{patient.id}/history"
        return redirect(request, back, success=gettext("The medical history is saved."))


def _staff(who: Actor) -> bool:
    return who.role != Role.PATIENT
