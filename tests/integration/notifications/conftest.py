"""Notification fixtures: the portal's app sending to a real SMTP server on loopback
(``tests/support/smtp.py``), the review world of the demo, and a patient with names no
message may contain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from portal.demo import seed_demo
from portal.settings import Settings
from reviewer.notifications import delivery
from storage.models import Patient, patient_login
from tests.integration.review.conftest import World, load_world
from tests.support.portal import DEMO_PASSWORD, make_settings
from tests.support.smtp import Mailbox

PUBLIC_URL = "http://portal.test"


@pytest.fixture
def settings(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path, smtp_server: Mailbox,
) -> Settings:
    return make_settings(monkeypatch, database_url, tmp_path, SMTP_URL=smtp_server.url,
                         PUBLIC_URL=PUBLIC_URL)


@pytest.fixture
async def world(db: AsyncSession) -> World:
    await seed_demo(db, DEMO_PASSWORD)
    await db.commit()
    return await load_world(db)


@pytest.fixture
async def named_patient(world: World) -> Patient:
    """A clinic patient whose login is the demo patient's (as a guardian's would be), with
    names and history that must never reach a message."""
    patient = await world.add_patient(
        first_name="Zebulon", last_name="Quixley", guardian_name="Marisol Quixley",
        guardian_email="marisol.quixley@example.test", medical_alerts="Latex allergy",
    )
    await world.db.execute(patient_login.insert().values(
        user_id=world.patient_user.id, patient_id=patient.id))
    await world.db.commit()
    return patient


@pytest.fixture(autouse=True)
def _restore_delivery() -> Iterator[None]:
    """Tests here reconfigure the process-wide senders; the next test gets them back."""
    before = delivery.configured()
    yield
    if before is not None:
        delivery.configure(before)
