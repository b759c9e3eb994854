"""The access matrix: every route the app registers, for every role, signed out, and for
users of another organization, against the table below (docs/access.md in code).

Routes are found from the app itself (``app.routes``), so a new route cannot be missed: a
route with no row in ``ACCESS`` FAILS ``test_every_route_has_an_access_rule``. Adding a
route means deciding who may call it here.

Expected answers per cell:
  signed out      401 (API, or a page's POST/PUT/DELETE); a page GET redirects to /login (303)
  allowed role    anything but 401/403/5xx; rows marked ``scoped`` that name a real object of
                  "Demo Dental Clinic": 200 inside its reach, 404 outside (ids not probeable)
  other role      403
  public rows     anything but 401/403/5xx for everyone (``expect`` narrows it)

Path parameters get placeholders: a random UUID (so allowed roles see 404), except the names
in ``REAL_OBJECTS``, which get an object of the demo clinic.
"""

from __future__ import annotations

import fnmatch
import uuid
from dataclasses import dataclass, field

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from portal.app import create_app
from portal.settings import Settings
from storage.models import Role
from tests.integration.accounts.helpers import (
    OTHER_DESK,
    OTHER_PATIENT,
    add_other_organization,
    demo_ids,
)
from tests.support.portal import csrf_token, seed, sign_in

PATIENT, HYGIENIST, DENTIST = Role.PATIENT, Role.HYGIENIST, Role.DENTIST
FRONT_DESK, COORDINATOR, ADMIN = Role.FRONT_DESK, Role.COORDINATOR, Role.ADMIN
EVERYONE = frozenset(Role)
PUBLIC = "public"

REGISTRARS = frozenset({HYGIENIST, FRONT_DESK, COORDINATOR})
PATIENT_READERS = REGISTRARS | {DENTIST}
SUBMITTERS = frozenset({PATIENT, HYGIENIST, FRONT_DESK})
CASE_READERS = frozenset({PATIENT, HYGIENIST, DENTIST, FRONT_DESK, COORDINATOR})
BILLING_READERS = frozenset({DENTIST, FRONT_DESK})
SCREENING_WRITERS = frozenset({HYGIENIST, FRONT_DESK})
SCREENING_READERS = frozenset({HYGIENIST, FRONT_DESK, COORDINATOR})
SCREENING_REPORTERS = SCREENING_READERS  # docs/access.md: screening reports
LETTER_PRINTERS = frozenset({HYGIENIST, COORDINATOR})  # docs/screening.md: results letters
RECORDS_DESK = frozenset({FRONT_DESK, COORDINATOR})
RECORDS_ASKERS = RECORDS_DESK | {PATIENT}
FOLLOW_UP_WRITERS = frozenset({DENTIST, COORDINATOR})
FOLLOW_UP_READERS = FOLLOW_UP_WRITERS | {FRONT_DESK}
FHIR_READERS = frozenset({PATIENT, DENTIST, FRONT_DESK, COORDINATOR})  # docs/interop.md
IDENTITY_DECIDERS = frozenset({HYGIENIST, DENTIST, FRONT_DESK})
ARCHIVE_SENDERS = frozenset({DENTIST, ADMIN})  # docs/interop.md "DICOMweb"


@dataclass(frozen=True)
class Rule:
    methods: str
    """Comma-separated HTTP methods, or "*"."""
    pattern: str
    """fnmatch pattern over the route's path template, e.g. "/api/v1/cases/*"."""
    allowed: frozenset[Role] | str
    scoped: bool = False
    """GET of a real clinic object: 200 inside the caller's reach, 404 outside."""
    expect: frozenset[int] = field(default_factory=frozenset)
    """For public rows: the statuses every caller may get (empty: any but 401/403/5xx)."""

    def matches(self, method: str, path: str) -> bool:
        methods = {m.strip() for m in self.methods.split(",")}
        return ("*" in methods or method in methods) and fnmatch.fnmatchcase(path, self.pattern)


# First matching row wins. Keep it in step with docs/access.md.
ACCESS: list[Rule] = [
    # --- public: health, shell, sign-in, invitation links, static files, API schema
    Rule("GET", "/healthz", PUBLIC),
    Rule("GET", "/readyz", PUBLIC),
    Rule("GET", "/", PUBLIC),
    Rule("GET", "/login", PUBLIC),
    Rule("POST", "/login", PUBLIC, expect=frozenset({400, 401})),
    Rule("POST", "/logout", PUBLIC),
    Rule("GET,POST", "/access/{token:str}", PUBLIC, expect=frozenset({404})),
    Rule("GET,POST", "/forgot-password", PUBLIC, expect=frozenset({200})),
    Rule("POST", "/language", PUBLIC, expect=frozenset({400})),  # the walk sends no language
    Rule("GET", "/static/*", PUBLIC, expect=frozenset({404})),
    Rule("GET", "/schema*", PUBLIC),
    Rule("POST", "/api/v1/tokens", PUBLIC, expect=frozenset({400, 401})),
    # --- accounts: every signed-in user, for themselves
    Rule("*", "/account/links*", frozenset({PATIENT})),  # invitations waiting for a login
    Rule("*", "/account*", EVERYONE),
    Rule("GET", "/api/v1/tokens", EVERYONE),
    Rule("DELETE", "/api/v1/tokens/*", EVERYONE),
    Rule("GET", "/api/v1/me", EVERYONE),
    Rule("*", "/api/v1/me/links*", frozenset({PATIENT})),
    # --- patient registry
    Rule("GET", "/patients", PATIENT_READERS),
    Rule("GET", "/patients/new", REGISTRARS),
    Rule("POST", "/patients", REGISTRARS),
    Rule("GET", "/patients/{patient_id:uuid}", PATIENT_READERS, scoped=True),
    Rule("*", "/patients/{patient_id:uuid}/history", REGISTRARS | {PATIENT}, scoped=True),
    Rule("POST", "/patients/{patient_id:uuid}/invitations*", REGISTRARS),
    Rule("POST", "/patients/{patient_id:uuid}/logins/{user_id:uuid}/reset", REGISTRARS),
    Rule("POST", "/api/v1/patients", REGISTRARS),
    Rule("GET", "/api/v1/patients", PATIENT_READERS),
    Rule("GET", "/api/v1/patients/{patient_id:uuid}", PATIENT_READERS | {PATIENT}, scoped=True),
    Rule("PUT", "/api/v1/patients/{patient_id:uuid}/history", REGISTRARS | {PATIENT}),
    Rule("POST", "/api/v1/patients/{patient_id:uuid}/invitations*", REGISTRARS),
    Rule("POST", "/api/v1/patients/{patient_id:uuid}/logins/{user_id:uuid}/password-reset",
         REGISTRARS),
    # --- FHIR R4 export (docs/interop.md): the patient's reach, as GET /api/v1/patients/{id}
    Rule("GET", "/api/v1/fhir/Patient/{patient_id:uuid}*", FHIR_READERS, scoped=True),
    Rule("GET", "/api/v1/fhir/ImagingStudy", FHIR_READERS),
    Rule("GET", "/api/v1/fhir/DocumentReference", FHIR_READERS),
    # --- DICOMweb archive (docs/interop.md): a case's send, dentist or admin of its org
    Rule("GET,POST", "/api/v1/cases/{case_id:uuid}/archive", ARCHIVE_SENDERS),
    Rule("GET,POST", "/archive/cases/{case_id:uuid}", ARCHIVE_SENDERS),
    Rule("GET,PUT", "/api/v1/organizations/{organization_id:uuid}/archive", frozenset({ADMIN})),
    # --- administration
    Rule("*", "/admin/*", frozenset({ADMIN})),
    Rule("*", "/api/v1/organizations/{organization_id:uuid}/fee-schedule*", frozenset({ADMIN})),
    Rule("*", "/api/v1/organizations/{organization_id:uuid}/payer-profiles", frozenset({ADMIN})),
    Rule("*", "/api/v1/payer-profiles/{profile_id:uuid}", frozenset({ADMIN})),
    Rule("GET", "/api/v1/jobs", frozenset({ADMIN})),  # background job state, no PHI
    # --- intake (issue: record consent; create case, upload, submit; read a case)
    Rule("*", "/patient", frozenset({PATIENT})),
    Rule("*", "/patient/*", frozenset({PATIENT})),
    Rule("GET", "/api/v1/consent-forms/*", EVERYONE),  # the text of a blank form
    Rule("POST", "/api/v1/consents", SUBMITTERS),
    Rule("POST", "/api/v1/cases", SUBMITTERS),
    # issue 17, the right patient: staff decide on a held DICOM (admins read no patient data)
    Rule("POST", "/api/v1/cases/{case_id:uuid}/attachments/{attachment_id:uuid}/identity",
         IDENTITY_DECIDERS),
    Rule("POST", "/cases/{case_id:uuid}/attachments/{attachment_id:uuid}/identity",
         IDENTITY_DECIDERS),
    # issue 21, the dentist's workbench: annotations on an image (dentists of the orgs served)
    Rule("GET,POST", "/api/v1/cases/{case_id:uuid}/attachments/{attachment_id:uuid}/annotations",
         frozenset({DENTIST})),
    # issue 19: the dentist holding the case asks for one image again (before the submitters'
    # attachments* rule, which would match it first)
    Rule("POST", "/api/v1/cases/{case_id:uuid}/attachments/{attachment_id:uuid}/retake",
         frozenset({DENTIST})),
    Rule("POST,DELETE", "/api/v1/cases/{case_id:uuid}/attachments*", SUBMITTERS),
    Rule("POST", "/api/v1/cases/{case_id:uuid}/submit", SUBMITTERS),
    Rule("GET", "/api/v1/cases/{case_id:uuid}", CASE_READERS),
    Rule("GET", "/api/v1/cases/{case_id:uuid}/attachments/*", CASE_READERS),
    # issue 19: resumable (tus) uploads; only the owner reaches an upload (404 for others)
    Rule("*", "/api/v1/uploads*", SUBMITTERS),
    # --- review (issue: queue, claim, evaluate, sign — dentists of the organizations served)
    Rule("*", "/review", frozenset({DENTIST})),
    Rule("*", "/review/*", frozenset({DENTIST})),
    Rule("*", "/api/v1/queue*", frozenset({DENTIST})),
    Rule("*", "/api/v1/cases/{case_id:uuid}/claim", frozenset({DENTIST})),
    Rule("*", "/api/v1/cases/{case_id:uuid}/release", frozenset({DENTIST})),
    Rule("*", "/api/v1/cases/{case_id:uuid}/lease", frozenset({DENTIST})),
    Rule("*", "/api/v1/cases/{case_id:uuid}/evaluation*", frozenset({DENTIST})),
    Rule("*", "/api/v1/cases/{case_id:uuid}/info-requests", frozenset({DENTIST})),
    # --- billing (issue: claim lines, documents, packages — dentist: own signed cases, read;
    #     front desk: own org, read and change). Live (D9995) sessions are recorded by dentists.
    Rule("GET", "/api/v1/cases/{case_id:uuid}/claim-*", BILLING_READERS),
    Rule("GET", "/api/v1/cases/{case_id:uuid}/documentation.pdf", BILLING_READERS),
    Rule("PUT", "/api/v1/cases/{case_id:uuid}/claim-lines", frozenset({FRONT_DESK})),
    Rule("POST", "/api/v1/cases/{case_id:uuid}/billing-status", frozenset({FRONT_DESK})),
    Rule("POST", "/api/v1/cases/{case_id:uuid}/same-day-override", frozenset({FRONT_DESK})),
    Rule("POST", "/api/v1/live-sessions", frozenset({DENTIST})),
    Rule("GET", "/api/v1/live-sessions/*", BILLING_READERS),
    Rule("POST", "/api/v1/live-sessions/{session_id:uuid}/sign", frozenset({DENTIST})),
    Rule("PUT,POST", "/api/v1/live-sessions/*", frozenset({FRONT_DESK})),
    Rule("GET", "/billing/packages/*", BILLING_READERS),
    Rule("*", "/billing", frozenset({FRONT_DESK})),
    Rule("*", "/billing/*", frozenset({FRONT_DESK})),
    # --- screening (issue 6)
    Rule("POST", "/api/v1/screening-events", SCREENING_WRITERS),
    Rule("POST", "/api/v1/screening-events/{event_id:uuid}/roster", SCREENING_WRITERS),
    Rule("POST", "/api/v1/screening-events/{event_id:uuid}/children/*", frozenset({HYGIENIST})),
    Rule("GET", "/api/v1/screening-events/{event_id:uuid}/report*", SCREENING_REPORTERS),
    Rule("GET", "/api/v1/screening-events/{event_id:uuid}/data-sheet.csv", SCREENING_REPORTERS),
    Rule("GET", "/api/v1/screening-events*", SCREENING_READERS),
    Rule("GET", "/api/v1/screening-reports/*", SCREENING_REPORTERS),
    Rule("POST", "/screening/events", SCREENING_WRITERS),
    Rule("POST", "/screening/events/{event_id:uuid}/roster", SCREENING_WRITERS),
    Rule("POST", "/screening/events/{event_id:uuid}/children/*", frozenset({HYGIENIST})),
    Rule("GET", "/screening/events/{event_id:uuid}/report", SCREENING_REPORTERS),
    Rule("GET", "/screening/events/{event_id:uuid}/letters.pdf", LETTER_PRINTERS),
    Rule("POST", "/screening/events/{event_id:uuid}/letters/email", LETTER_PRINTERS),
    Rule("GET", "/letters/{token:str}", PUBLIC, expect=frozenset({404})),  # guardian's link
    Rule("GET", "/screening/follow-up", LETTER_PRINTERS),  # docs/screening.md: follow-up list
    Rule("GET", "/screening/reports", SCREENING_REPORTERS),
    Rule("GET", "/screening/sw.js", SCREENING_READERS),  # issue 19: the offline worker
    Rule("GET", "/screening*", SCREENING_READERS),
    # --- records desk (issue 9)
    Rule("GET", "/records/download/{token:str}", PUBLIC, expect=frozenset({404})),
    Rule("POST", "/api/v1/records-requests", RECORDS_ASKERS),
    Rule("GET", "/api/v1/records-requests/{request_id:uuid}", RECORDS_ASKERS),
    Rule("GET", "/api/v1/patients/{patient_id:uuid}/records-requests", RECORDS_ASKERS),
    Rule("*", "/api/v1/records-requests*", RECORDS_DESK),
    Rule("*", "/records*", RECORDS_DESK),
    # --- referrals and coordination (issue 9)
    Rule("GET", "/api/v1/referrals/screening-events/*", frozenset({HYGIENIST, COORDINATOR})),
    Rule("GET", "/api/v1/referrals*", FOLLOW_UP_READERS),
    Rule("POST,PATCH", "/api/v1/referrals*", FOLLOW_UP_WRITERS),
    Rule("POST", "/api/v1/patients/{patient_id:uuid}/coordination/billed",
         frozenset({FRONT_DESK})),
    Rule("GET", "/api/v1/patients/{patient_id:uuid}/coordination*", FOLLOW_UP_READERS),
    Rule("POST", "/api/v1/patients/{patient_id:uuid}/coordination-activities",
         FOLLOW_UP_WRITERS),
    Rule("GET", "/coordination*", FOLLOW_UP_READERS),
    Rule("POST", "/coordination/*", FOLLOW_UP_WRITERS),
    # --- notifications (issue 18): staff see their organizations' attempts and outcomes
    Rule("GET", "/notifications", EVERYONE - {PATIENT}),
    Rule("GET", "/api/v1/notifications", EVERYONE - {PATIENT}),
]

SKIPPED_METHODS = {"OPTIONS", "HEAD"}
LAST = {("POST", "/logout")}  # ends the session: walked last


@dataclass(frozen=True)
class Identity:
    name: str
    email: str | None
    role: Role | None
    reaches_clinic_patient: bool


IDENTITIES = [
    Identity("signed_out", None, None, False),
    Identity("patient", "patient@demo.test", PATIENT, True),
    Identity("hygienist_other_org", "hygienist@demo.test", HYGIENIST, False),  # school only
    Identity("dentist", "dentist@demo.test", DENTIST, True),
    Identity("front_desk", "billing@demo.test", FRONT_DESK, True),
    Identity("coordinator", "coordinator@demo.test", COORDINATOR, True),
    Identity("admin", "admin@demo.test", ADMIN, False),
    Identity("front_desk_other_org", OTHER_DESK, FRONT_DESK, False),
    Identity("patient_other_org", OTHER_PATIENT, PATIENT, False),
]


def walk(app: Litestar) -> list[tuple[str, str, dict[str, type]]]:
    """(method, path template, {param: type}) for every handler the app registered."""
    found = []
    for route in app.routes:
        assert isinstance(route, HTTPRoute), f"unexpected route type {type(route)}"
        params = {name: d.type for name, d in route.path_parameters.items()}
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - SKIPPED_METHODS):
                found.append((method, route.path, params))
    return sorted(found, key=lambda item: ((item[0], item[1]) in LAST, item[1], item[0]))


def rule_for(method: str, path: str) -> Rule | None:
    return next((rule for rule in ACCESS if rule.matches(method, path)), None)


def test_every_route_has_an_access_rule(settings: Settings) -> None:
    app = create_app(settings)
    missing = [f"{m} {p}" for m, p, _ in walk(app) if rule_for(m, p) is None]
    assert not missing, (
        "routes without an access rule: add a row to ACCESS in "
        "tests/integration/accounts/test_access_matrix.py (and docs/access.md):\n  "
        + "\n  ".join(missing)
    )


def test_public_rules_match_the_routes_that_opt_out(settings: Settings) -> None:
    """A route marked opt={"public": True} is listed as public, and the other way round
    (the schema routes are litestar's own and carry no opt)."""
    app = create_app(settings)
    for route in app.routes:
        assert isinstance(route, HTTPRoute)
        for handler in route.route_handlers:
            for method in handler.http_methods - SKIPPED_METHODS:
                rule = rule_for(method, route.path)
                if rule is None or route.path.startswith("/schema"):
                    continue
                assert bool(handler.opt.get("public")) == (rule.allowed == PUBLIC), (
                    f"{method} {route.path}: opt public={handler.opt.get('public')} "
                    f"but the table says {rule.allowed}"
                )


def _fill(path: str, params: dict[str, type], real: dict[str, uuid.UUID]) -> str:
    for name, kind in params.items():
        if kind is uuid.UUID:
            value = str(real.get(name, uuid.uuid4()))
        elif kind is int:
            value = "1"
        else:
            value = "placeholder"
        path = path.replace("{" + name + ":" + _type_name(kind) + "}", value)
    assert "{" not in path, f"placeholder missing in {path}"
    return path


def _type_name(kind: type) -> str:
    return {uuid.UUID: "uuid", int: "int", str: "str"}.get(kind, "path")


def expected(identity: Identity, rule: Rule, method: str, path: str,
             real_object: bool) -> str:
    if rule.allowed == PUBLIC:
        return "public"
    if identity.role is None:
        return "signed_out"
    assert isinstance(rule.allowed, frozenset)
    if identity.role not in rule.allowed:
        return "forbidden"
    if rule.scoped and real_object and method == "GET":
        return "in_reach" if identity.reaches_clinic_patient else "out_of_reach"
    return "allowed"


def check(outcome: str, status: int, location: str, rule: Rule, is_api: bool, method: str) -> bool:
    if outcome == "public":
        return (status in rule.expect) if rule.expect else status not in (401, 403) and status < 500
    if outcome == "signed_out":
        if is_api or method != "GET":
            return status == 401
        return status == 303 and location == "/login"
    if outcome == "forbidden":
        return status == 403
    if outcome == "in_reach":
        return status == 200
    if outcome == "out_of_reach":
        return status == 404
    return status not in (401, 403) and status < 500 and location != "/login"


@pytest.mark.parametrize("identity", IDENTITIES, ids=[i.name for i in IDENTITIES])
async def test_access_matrix(settings: Settings, database_url: str, identity: Identity) -> None:
    await seed(database_url)
    await add_other_organization(database_url)
    ids = await demo_ids(database_url)
    real = {"patient_id": ids["patient"], "organization_id": ids["clinic"]}
    app = create_app(settings)
    failures: list[str] = []
    walked = 0
    async with AsyncTestClient(app=app) as client:
        if identity.email:
            await sign_in(client, identity.email)
        token = await csrf_token(client)
        for method, template, params in walk(app):
            rule = rule_for(method, template)
            if rule is None:  # test_every_route_has_an_access_rule fails for it
                continue
            path = _fill(template, params, real)
            is_api = template.startswith("/api/")
            headers = {"x-csrftoken": token}
            kwargs: dict[str, object] = {}
            if method in {"POST", "PUT", "PATCH"}:
                kwargs = {"json": {}} if is_api else {"data": {}}
            response = await client.request(method, path, headers=headers,
                                             follow_redirects=False, **kwargs)  # type: ignore[arg-type]
            walked += 1
            real_object = any(name in real for name in params)
            outcome = expected(identity, rule, method, template, real_object)
            location = response.headers.get("location", "")
            if not check(outcome, response.status_code, location, rule, is_api, method):
                failures.append(
                    f"{identity.name}: {method} {template} -> {response.status_code}"
                    f"{' ' + location if location else ''}, expected {outcome}"
                )
    assert walked > 30
    assert not failures, "access matrix violations:\n  " + "\n  ".join(failures)


# Pending links and cross-organization resets (issue 15): staff of one organization invite
# the email of another organization's patient login to a patient of their own, then try to
# reset that login's password through either patient. Nothing may work, and the login keeps
# its organizations until its owner accepts.
CROSS_ORG_ATTEMPTS = [
    ("hygienist@demo.test", "school", "patient@demo.test", "patient"),
    (OTHER_DESK, "other", "patient@demo.test", "patient"),
    ("billing@demo.test", "clinic", OTHER_PATIENT, "other_patient"),
    ("coordinator@demo.test", "clinic", OTHER_PATIENT, "other_patient"),
]


@pytest.mark.parametrize(("staff", "org", "victim", "victim_patient"), CROSS_ORG_ATTEMPTS,
                         ids=[f"{a[0]}->{a[2]}" for a in CROSS_ORG_ATTEMPTS])
async def test_pending_links_and_cross_organization_resets(
    settings: Settings, database_url: str, staff: str, org: str, victim: str,
    victim_patient: str,
) -> None:
    from datetime import date

    from sqlalchemy import select

    from storage.database import create_engine, create_session_maker
    from storage.models import User, patient_login

    await seed(database_url)
    other = await add_other_organization(database_url)
    ids = await demo_ids(database_url)
    orgs = {"school": ids["school"], "clinic": ids["clinic"], "other": other["organization"]}
    patients = {"patient": ids["patient"], "other_patient": other["patient"]}

    async def login_state() -> tuple[set[uuid.UUID], set[uuid.UUID], str | None]:
        engine = create_engine(database_url)
        try:
            async with create_session_maker(engine)() as db:
                user = await db.scalar(select(User).where(User.email == victim))
                assert user is not None
                links = set((await db.scalars(select(patient_login.c.patient_id).where(
                    patient_login.c.user_id == user.id))).all())
                return user.organization_ids, links, user.password_hash
        finally:
            await engine.dispose()

    before = await login_state()
    async with AsyncTestClient(app=create_app(settings)) as client:
        token = (await client.post("/api/v1/tokens", json={
            "email": staff, "password": "demo-password-123", "name": "t"})).json()["token"]
        auth = {"authorization": f"Bearer {token}"}
        decoy = (await client.post("/api/v1/patients", headers=auth, json={
            "organization_id": str(orgs[org]), "first_name": "Decoy", "last_name": "Kid",
            "date_of_birth": date(2015, 1, 1).isoformat(), "guardian_name": "Decoy Parent",
            "state": "CA"})).json()["id"]
        invited = await client.post(f"/api/v1/patients/{decoy}/invitations", headers=auth,
                                    json={"email": victim})
        assert invited.status_code == 201
        assert set(invited.json()) == {"invitation_id", "email", "status", "url", "expires_at"}
        victim_id = (await client.post("/api/v1/tokens", json={
            "email": victim, "password": "demo-password-123", "name": "v"})).json()
        assert "token" in victim_id
        engine = create_engine(database_url)
        try:
            async with create_session_maker(engine)() as db:
                victim_user = await db.scalar(select(User.id).where(User.email == victim))
        finally:
            await engine.dispose()
        for patient_id in (decoy, patients[victim_patient]):
            reset = await client.post(
                f"/api/v1/patients/{patient_id}/logins/{victim_user}/password-reset",
                headers=auth)
            assert reset.status_code == 404, f"{staff} reset {victim} via {patient_id}"
        link = invited.json()["url"].rsplit("/", 1)[1]
        page = await client.get(f"/access/{link}")
        assert 'id="set-password"' not in page.text
    assert await login_state() == before
