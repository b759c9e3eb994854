"""Notifications end to end: a signature sends a mail that arrives at a real SMTP server
holding no PHI and a working link; a failing server never stops the signature and is
retried with back-off; "none" sends nothing; text messages go through the chosen backend."""

from __future__ import annotations

import datetime as dt
import re
import socket
from dataclasses import replace
from email.message import Message
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from portal.app import TEMPLATES_DIR, create_app
from portal.notifications.senders import delivery as portal_delivery
from portal.settings import MailSettings, Settings
from reviewer.clock import now_utc
from reviewer.evaluation.services import request_information
from reviewer.notifications import delivery
from reviewer.notifications.sending import BACKOFF, MAX_ATTEMPTS, send_due
from reviewer.notifications.services import JOB_GRACE
from storage.models import Case, Evaluation, Notification, Patient, User
from tests.integration.notifications.conftest import PUBLIC_URL
from tests.integration.review.conftest import World
from tests.support.portal import DEMO_PASSWORD, csrf_token, make_settings, sign_in
from tests.support.smtp import Mailbox

Client = AsyncTestClient[Litestar]
ADVICE = "Rinse with warm salt water twice daily; the abscess near tooth 19 needs a root canal."
FINDINGS = "Periapical abscess with swelling, gingivitis"


def _body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


async def _sign(client: Client, world: World, case: Case) -> int:
    """Sign ``case`` through the dentist's form; the answer's status."""
    await sign_in(client, "dentist@demo.test")
    headers = {"x-csrftoken": await csrf_token(client)}
    claimed = await client.post(f"/review/cases/{case.id}/claim", headers=headers)
    assert claimed.status_code < 400, claimed.text
    form = {"findings": FINDINGS, "advice": ADVICE, "tooth": ["19"],
            "condition": ["abscess"], "proc_code": ["D0140"], "proc_tooth": [""],
            "proc_surfaces": [""], "urgency": "soon", "referral_specialty": "",
            "referral_reason": "", "follow_up_days": "7", "internal_notes": "watch the swelling",
            "password": DEMO_PASSWORD, "attest": "yes"}
    signed = await client.post(f"/review/cases/{case.id}/sign", data=form, headers=headers,
                               follow_redirects=False)
    return signed.status_code


async def _signed(world: World, case: Case) -> bool:
    evaluation = await world.db.scalar(
        select(Evaluation).where(Evaluation.case_id == case.id)
        .execution_options(populate_existing=True))
    return evaluation is not None and evaluation.status == "signed"


async def _rows(world: World, case: Case) -> list[Notification]:
    return list(await world.db.scalars(
        select(Notification).where(Notification.case_id == case.id)
        .order_by(Notification.created_at).execution_options(populate_existing=True)))


async def test_signing_mails_the_patient_no_phi_and_a_link_that_works(
    app: Litestar, client: Client, world: World, named_patient: Patient, smtp_server: Mailbox,
) -> None:
    case = await world.add_case(patient=named_patient)
    assert await _sign(client, world, case) == 303
    await app.state.jobs.drained()
    [message] = smtp_server.wait_for(1)
    assert message["X-Envelope-To"] == world.patient_user.email
    subject, body = str(message["Subject"]), _body(message)
    text = f"{subject}\n{body}"
    assert "Demo Dental Clinic" in subject and "Demo Dental Clinic" in body
    link = f"{PUBLIC_URL}/patient/cases/{case.id}"
    assert link in body
    # No PHI: not the patient's or guardian's names, not the advice, findings or conditions.
    evaluation = await world.db.scalar(select(Evaluation).where(Evaluation.case_id == case.id))
    assert evaluation is not None and evaluation.advice == ADVICE
    forbidden = [named_patient.first_name, named_patient.last_name, "Marisol",
                 world.patient_user.display_name, evaluation.advice, evaluation.findings,
                 "abscess", "gingivitis", "swelling", "root canal", "tooth", "Latex", "allergy",
                 "D0140", "19"]
    outside_link = text.replace(link, "")  # the case id may hold "19" by chance
    for word in forbidden:
        assert word.lower() not in outside_link.lower(), word
    assert not message.is_multipart()  # no images, no attachments
    [row] = await _rows(world, case)
    assert (row.kind, row.channel, row.state, row.attempts) == ("advice_ready", "email", "sent", 1)
    case_page = await client.get(f"/review/cases/{case.id}")  # the dentist finds the outcome
    assert f'href="/notifications?case_id={case.id}"' in case_page.text
    outcome = await client.get(f"/notifications?case_id={case.id}")
    assert outcome.status_code == 200 and 'data-state="sent"' in outcome.text
    assert row.recipient_user_id == world.patient_user.id and row.last_error is None

    # The link works: signed out it asks for a sign-in, signed in as the patient it opens.
    path = link.removeprefix(PUBLIC_URL)
    async with AsyncTestClient(app=create_app(app.state.settings)) as visitor:
        first = await visitor.get(path, follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"].startswith("/login")
        await sign_in(visitor, world.patient_user.email)
        opened = await visitor.get(path)
        assert opened.status_code == 200


async def test_a_person_who_chose_none_gets_nothing(
    app: Litestar, client: Client, world: World, named_patient: Patient, smtp_server: Mailbox,
) -> None:
    user = await world.db.get(User, world.patient_user.id)
    assert user is not None
    user.notify_by = "none"
    await world.db.commit()
    case = await world.add_case(patient=named_patient)
    assert await _sign(client, world, case) == 303
    await app.state.jobs.drained()
    [row] = await _rows(world, case)
    assert row.state == "skipped" and row.attempts == 0
    assert smtp_server.wait_for(1, timeout_s=0.5) == []


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: nothing listens there


async def test_a_failing_server_never_stops_the_signature_and_is_retried_later(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path, world: World,
    named_patient: Patient, smtp_server: Mailbox,
) -> None:
    failing = make_settings(monkeypatch, database_url, tmp_path / "failing",
                            SMTP_URL=f"smtp://127.0.0.1:{_dead_port()}", PUBLIC_URL=PUBLIC_URL)
    app = create_app(failing)
    case = await world.add_case(patient=named_patient)
    async with AsyncTestClient(app=app) as client:
        assert await _sign(client, world, case) == 303
        await app.state.jobs.drained()
    assert await _signed(world, case)
    [row] = await _rows(world, case)
    assert row.state == "queued" and row.attempts == 1
    assert row.last_error and row.last_error.startswith("smtp: ")
    assert "@" not in row.last_error
    assert row.next_attempt_at is not None
    first_try = row.next_attempt_at - BACKOFF[0]
    assert abs((first_try - now_utc()).total_seconds()) < 120

    # Not due yet: the sweep leaves it alone.
    assert await send_due(world.db, now=first_try + dt.timedelta(seconds=30)) == 0
    # Still failing at the next try: the second back-off step.
    assert await send_due(world.db, now=row.next_attempt_at) == 1
    [row] = await _rows(world, case)
    assert row.attempts == 2 and row.state == "queued"
    # The server is back: the sweep's next pass delivers it.
    delivery.configure(portal_delivery(_with_smtp(failing, smtp_server.url), TEMPLATES_DIR))
    assert row.next_attempt_at is not None
    assert await send_due(world.db, now=row.next_attempt_at) == 1
    [row] = await _rows(world, case)
    assert (row.state, row.attempts, row.last_error) == ("sent", 3, None)
    [message] = smtp_server.wait_for(1)
    assert str(case.id) in _body(message)


def _with_smtp(settings: Settings, url: str | None) -> Settings:
    return replace(settings, mail=MailSettings(smtp_url=url))


async def test_the_last_failure_is_final(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path, world: World,
    named_patient: Patient,
) -> None:
    failing = make_settings(monkeypatch, database_url, tmp_path / "failing",
                            SMTP_URL=f"smtp://127.0.0.1:{_dead_port()}", PUBLIC_URL=PUBLIC_URL)
    delivery.configure(portal_delivery(failing, TEMPLATES_DIR))
    case = await world.add_case(patient=named_patient)
    world.db.add(Notification(
        organization_id=case.organization_id, recipient_user_id=world.patient_user.id,
        patient_id=named_patient.id, kind="advice_ready", channel="email", state="queued",
        attempts=0, next_attempt_at=now_utc(), subject_type="case", subject_id=case.id,
        case_id=case.id))
    await world.db.commit()
    moment = now_utc()
    for _ in range(MAX_ATTEMPTS):
        moment += dt.timedelta(hours=3)
        await send_due(world.db, now=moment)
    [row] = await _rows(world, case)
    assert (row.state, row.attempts, row.next_attempt_at) == ("failed", MAX_ATTEMPTS, None)
    assert await send_due(world.db, now=moment + dt.timedelta(days=1)) == 0


class RecordingSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_sms(self, to: str, body: str) -> None:
        self.sent.append((to, body))


async def test_a_text_message_for_a_person_who_chose_texts(
    app: Litestar, client: Client, world: World, named_patient: Patient, smtp_server: Mailbox,
    settings: Settings,
) -> None:
    texts = RecordingSms()
    configured = delivery.configured()
    assert configured is not None
    delivery.configure(replace(configured, sms=texts))
    user = await world.db.get(User, world.patient_user.id)
    assert user is not None
    user.notify_by, user.mobile_phone = "sms", "+15551234567"
    await world.db.commit()
    case = await world.add_case(patient=named_patient)
    assert await _sign(client, world, case) == 303
    await app.state.jobs.drained()
    [(to, body)] = texts.sent
    assert to == "+15551234567"
    assert "Demo Dental Clinic" in body and f"/patient/cases/{case.id}" in body
    assert not re.search(r"zebulon|quixley|abscess|salt water", body, re.IGNORECASE)
    [row] = await _rows(world, case)
    assert (row.channel, row.state) == ("sms", "sent")
    assert smtp_server.wait_for(1, timeout_s=0.3) == []


async def test_a_patient_without_a_login_is_mailed_at_the_guardians_address(
    app: Litestar, client: Client, world: World, smtp_server: Mailbox,
) -> None:
    child = await world.add_patient(first_name="Ottilie", last_name="Brandvold",
                                    guardian_name="Rune Brandvold",
                                    guardian_email="rune.brandvold@example.test")
    case = await world.add_case(patient=child)
    assert await _sign(client, world, case) == 303
    await app.state.jobs.drained()
    [message] = smtp_server.wait_for(1)
    assert message["X-Envelope-To"] == "rune.brandvold@example.test"
    body = _body(message)
    assert f"{PUBLIC_URL}/login" in body and str(case.id) not in body
    assert not re.search(r"ottilie|brandvold|rune", f"{message['Subject']}\n{body}", re.I)
    [row] = await _rows(world, case)
    assert (row.recipient_user_id, row.patient_id, row.state) == (None, child.id, "sent")


async def test_the_sweep_leaves_a_fresh_notification_to_its_job_then_takes_over(
    world: World, named_patient: Patient, settings: Settings, smtp_server: Mailbox,
) -> None:
    """A job lost with its process (here: no job runner at all) is made good by the sweep
    once the grace has passed; before that the sweep never races the job."""
    delivery.configure(portal_delivery(settings, TEMPLATES_DIR))
    case = await world.add_case(patient=named_patient, claimed_by_id=world.dentist.id,
                                status="in_review",
                                lease_expires_at=now_utc() + dt.timedelta(minutes=30))
    await request_information(world.db, world.actor(world.dentist), world.ctx(world.dentist),
                              case.id, message="A photo of the upper teeth, please.",
                              now=now_utc())
    await world.db.commit()
    assert await send_due(world.db, now=now_utc()) == 0
    assert await send_due(world.db, now=now_utc() + JOB_GRACE) == 1
    [row] = await _rows(world, case)
    assert (row.kind, row.state, row.attempts) == ("info_requested", "sent", 1)
    [message] = smtp_server.wait_for(1)
    assert "upper teeth" not in _body(message)


async def test_a_patient_who_reads_spanish_gets_the_message_in_spanish(
    app: Litestar, client: Client, world: World, named_patient: Patient, smtp_server: Mailbox,
) -> None:
    user = await world.db.get(User, world.patient_user.id)
    assert user is not None
    user.preferred_language = "es"
    await world.db.commit()
    case = await world.add_case(patient=named_patient)
    assert await _sign(client, world, case) == 303
    await app.state.jobs.drained()
    [message] = smtp_server.wait_for(1)
    subject, body = str(message["Subject"]), _body(message)
    assert subject == "Tiene un mensaje en Demo Dental Clinic"
    assert "Inicie sesión para leerlo" in body and "Sign in" not in body
    assert f"{PUBLIC_URL}/patient/cases/{case.id}" in body
    for word in (named_patient.first_name, named_patient.last_name, ADVICE, "absceso"):
        assert word.lower() not in f"{subject}\n{body}".lower(), word
