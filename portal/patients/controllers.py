"""The patient registry: staff register patients, search them, and invite a patient (or a
guardian) to a login; the same pages issue password-reset links for those logins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.guards import require_roles
from portal.errors import Refused, attempt
from portal.patients.history_pages import HistoryPageController
from portal.patients.schemas import HistoryIn
from portal.rendering import page, redirect
from portal.requests import ActorDep, AnyRequest, DbDep, Form
from reviewer.accounts.invitations import (
    IssuedInvitation,
    invitations_for_patient,
    invite,
    withdraw,
)
from reviewer.accounts.links import IssuedLink
from reviewer.accounts.registry import (
    PatientInput,
    issue_patient_reset,
    login_within,
    patient_logins,
    read_patient,
    register_patient,
    search_patients,
)
from reviewer.actor import Actor
from reviewer.errors import Unprocessable
from reviewer.patients.history import history_of, update_history
from storage.models import Patient, Role

REGISTRARS = (Role.HYGIENIST, Role.FRONT_DESK, Role.COORDINATOR)
SEARCHERS = (*REGISTRARS, Role.DENTIST)
READERS = (*SEARCHERS, Role.PATIENT)
registrars = require_roles(*REGISTRARS)
searchers = require_roles(*SEARCHERS)
readers = require_roles(*READERS)
history_editors = require_roles(Role.PATIENT, *REGISTRARS)
Query = Annotated[str, QueryParameter(max_length=200)]
"""The search words ``q`` (a name's word prefixes or a student id)."""


def link_url(request: AnyRequest, link: IssuedLink | IssuedInvitation) -> str:
    return f"{request.app.state.settings.server.public_url}/access/{link.token}"


def patient_json(patient: Patient) -> dict[str, Any]:
    return {
        "id": str(patient.id),
        "organization_id": str(patient.organization_id),
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "student_id": patient.student_id,
        "school": patient.school,
        "grade": patient.grade,
        "guardian_name": patient.guardian_name,
        "guardian_phone": patient.guardian_phone,
        "guardian_email": patient.guardian_email,
        "email": patient.email,
        "phone": patient.phone,
        "address_line": patient.address_line,
        "city": patient.city,
        "state": patient.state,
        "postal_code": patient.postal_code,
        "payer_name": patient.payer_name,
        "member_id": patient.member_id,
        "medical_alerts": patient.medical_alerts,
        **history_of(patient),
    }


def invitation_json(request: AnyRequest, issued: IssuedInvitation) -> dict[str, Any]:
    """The same fields whether the address is new, a patient login or a staff login: the
    answer must not tell accounts apart (docs/access.md)."""
    return {
        "invitation_id": str(issued.invitation.id),
        "email": issued.email,
        "status": "pending",
        "url": link_url(request, issued),
        "expires_at": issued.expires_at.isoformat(),
    }


@dataclass(frozen=True)
class PatientBody(PatientInput):
    """The registration body: the patient's details, and whether to invite a login."""

    invite: bool = False
    """Also create a patient-role login and return its invitation link."""
    invite_guardian: bool = False
    """The login is for the guardian (guardian_email), not the patient."""

    def to_input(self) -> PatientInput:
        return PatientInput(**{f.name: getattr(self, f.name) for f in fields(PatientInput)})


@dataclass
class InvitationBody:
    email: str | None = None
    """Defaults to the patient's email (or the guardian's, with guardian)."""
    guardian: bool = False


class PatientApiController(Controller):
    path = "/patients"
    tags = ["patients"]

    @post("/", guards=[registrars], status_code=201)
    async def register(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, data: JSONBody[PatientBody],
    ) -> dict[str, Any]:
        """Register a patient in one of your organizations (``organization_id`` may be left
        out when you work for one); with ``invite`` also a login and its invitation link."""
        patient = await register_patient(db_session, who, data.to_input())
        body = patient_json(patient)
        body["invitation"] = None
        if data.invite:
            invitation = await invite(db_session, who, patient.id, guardian=data.invite_guardian)
            body["invitation"] = invitation_json(request, invitation)
        return body

    @get("/", guards=[searchers])
    async def search(self, db_session: DbDep, who: ActorDep, q: Query = "") -> dict[str, Any]:
        """Patients of your organizations by name (word prefixes) or student id."""
        patients = await search_patients(db_session, who, q)
        return {"patients": [patient_json(p) for p in patients]}

    @get("/{patient_id:uuid}", guards=[readers])
    async def read(
        self, db_session: DbDep, who: ActorDep, patient_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """One patient (a patient login: only their own or linked ones)."""
        return patient_json(await read_patient(db_session, who, patient_id))

    @put("/{patient_id:uuid}/history", guards=[history_editors])
    async def set_history(
        self, db_session: DbDep, who: ActorDep, patient_id: FromPath[uuid.UUID],
        data: JSONBody[HistoryIn],
    ) -> dict[str, Any]:
        """Change the medical history (the patient, or staff of the patient's organization):
        a list given replaces that list, a field left out stays. Each change is audited and
        kept on the patient as ``history_updated_at`` / ``history_updated_by_id``."""
        patient = await update_history(db_session, who, patient_id, data.history())
        return patient_json(patient)

    @post("/{patient_id:uuid}/invitations", guards=[registrars], status_code=201)
    async def invite_login(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        patient_id: FromPath[uuid.UUID], data: JSONBody[InvitationBody],
    ) -> dict[str, Any]:
        """Invite the patient or their guardian to a login linked to this patient. The link
        grants nothing until accepted: a new address sets its first password through it, an
        address that already has a login is accepted by its owner after signing in. The
        answer is the same in every case."""
        invitation = await invite(db_session, who, patient_id, email=data.email,
                                  guardian=data.guardian)
        return invitation_json(request, invitation)

    @post("/{patient_id:uuid}/invitations/{invitation_id:uuid}/withdraw",
          guards=[registrars], status_code=200)
    async def withdraw_invitation(
        self, db_session: DbDep, who: ActorDep, patient_id: FromPath[uuid.UUID],
        invitation_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """Withdraw a pending invitation: its link stops working."""
        invitation = await withdraw(db_session, who, patient_id, invitation_id)
        return {"invitation_id": str(invitation.id), "status": invitation.status}

    @post("/{patient_id:uuid}/logins/{user_id:uuid}/password-reset",
          guards=[registrars], status_code=201)
    async def reset(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        patient_id: FromPath[uuid.UUID], user_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """A password-reset link for one of the patient's logins; its sessions end now. Only
        for a login wholly inside your organizations (else 403 ``reset_not_allowed``: its
        owner resets it from the sign-in page)."""
        link = await issue_patient_reset(db_session, who, patient_id, user_id)
        return {"user_id": str(user_id), "url": link_url(request, link),
                "expires_at": link.expires_at.isoformat()}


# ------------------------------------------------------------------ pages


def _form_input(data: dict[str, str]) -> PatientInput:
    try:
        born = datetime.strptime(data.get("date_of_birth", ""), "%Y-%m-%d").date()
    except ValueError:
        raise Unprocessable("Enter the date of birth.", code="invalid_date_of_birth") from None
    org = data.get("organization_id") or None
    try:
        organization_id = uuid.UUID(org) if org else None
    except ValueError:
        raise Unprocessable("Choose an organization.", code="organization_required") from None
    text: dict[str, Any] = {f.name: data.get(f.name, "") for f in fields(PatientInput)
                            if f.name not in {"date_of_birth", "organization_id"}}
    return PatientInput(date_of_birth=born, organization_id=organization_id, **text)


class PatientPageController(Controller):
    path = "/patients"
    include_in_schema = False

    @get("/", guards=[searchers])
    async def search_page(
        self, request: AnyRequest, db_session: DbDep,
        who: ActorDep, q: Query = "",
    ) -> Template:
        patients = await search_patients(db_session, who, q) if q.strip() else []
        return page(request, "patients/search.html",
                    {"q": q, "patients": patients, "searched": bool(q.strip()),
                     "may_register": who.role in REGISTRARS},
                    fragments={"patient-results": "patients/_patient-results.html"})

    @get("/new", guards=[registrars])
    async def new(self, request: AnyRequest) -> Template:
        return page(request, "patients/new.html", {"values": {}})

    @post("/", guards=[registrars], status_code=303)
    async def create(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, data: Form,
    ) -> Response[Any]:
        # an unknown organization is the form's error, not a 404
        patient = await attempt(db_session, lambda: register_patient(
            db_session, who, _form_input(data)), own_page={"forbidden"})
        if isinstance(patient, Refused):
            return page(request, "patients/new.html", {"values": data, "error": patient.message},
                        status_code=422)
        return redirect(request, f"/patients/{patient.id}",
                        success=f"{patient.full_name} is registered.")

    @get("/{patient_id:uuid}", guards=[searchers])
    async def detail(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        patient_id: FromPath[uuid.UUID],
    ) -> Template:
        return await _detail(request, db_session, who, patient_id)

    @post("/{patient_id:uuid}/invitations", guards=[registrars], status_code=200)
    async def invite_page(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        patient_id: FromPath[uuid.UUID], data: Form,
    ) -> Template:
        invitation = await attempt(db_session, lambda: invite(
            db_session, who, patient_id, email=data.get("email") or None,
            guardian=data.get("guardian") == "yes"))
        if isinstance(invitation, Refused):
            return await _detail(request, db_session, who, patient_id,
                                 invite_error=invitation.message, status_code=422)
        return await _detail(request, db_session, who, patient_id, invited=invitation,
                             new_link=link_url(request, invitation))

    @post("/{patient_id:uuid}/invitations/{invitation_id:uuid}/withdraw",
          guards=[registrars], status_code=303)
    async def withdraw_page(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        patient_id: FromPath[uuid.UUID], invitation_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await withdraw(db_session, who, patient_id, invitation_id)
        return redirect(request, f"/patients/{patient_id}",
                        success="The invitation is withdrawn; its link no longer works.")

    @post("/{patient_id:uuid}/logins/{user_id:uuid}/reset", guards=[registrars], status_code=200)
    async def reset_page(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep,
        patient_id: FromPath[uuid.UUID], user_id: FromPath[uuid.UUID],
    ) -> Template:
        link = await issue_patient_reset(db_session, who, patient_id, user_id)
        return await _detail(request, db_session, who, patient_id,
                             new_link=link_url(request, link), reset_for=user_id)


async def _detail(
    request: AnyRequest, db: AsyncSession, who: Actor, patient_id: uuid.UUID,
    status_code: int = 200, **extra: Any,
) -> Template:
    patient = await read_patient(db, who, patient_id)
    logins, invitations, resettable = [], [], set()
    if who.role in REGISTRARS:
        logins = await patient_logins(db, patient.id)
        resettable = {u.id for u in logins
                      if await login_within(db, u, who.organization_ids)}
        invitations = await invitations_for_patient(db, who, patient.id)
    return page(request, "patients/detail.html",
                {"patient": patient, "logins": logins, "resettable": resettable,
                 "invitations": invitations, "may_invite": who.role in REGISTRARS,
                 "may_edit_history": who.role in REGISTRARS,
                 "today": date.today(), **extra},
                status_code=status_code)


PAGE_CONTROLLERS: list[type] = [PatientPageController, HistoryPageController]
API_CONTROLLERS: list[type] = [PatientApiController]
