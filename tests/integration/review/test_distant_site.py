"""The distant site (where the dentist reviewed) is recorded on the evaluation at signing: the
dentist's own practice address from their profile when set, else the organization's address;
the D9996 record prints what was recorded, even after the profile changes."""

from __future__ import annotations

import io
import re

from litestar import Litestar
from litestar.testing import AsyncTestClient
from pypdf import PdfReader
from sqlalchemy import select

from reviewer.billing.facts import load_case_facts
from reviewer.documents.pdf import render_async_record
from storage.models import Case, Evaluation, User
from tests.integration.review.conftest import World
from tests.integration.review.test_review_api import DRAFT
from tests.support.portal import DEMO_PASSWORD, csrf_token, sign_in

Client = AsyncTestClient[Litestar]


def _text(pdf: bytes) -> str:
    raw = "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", raw)


async def _sign(client: Client, world: World, email: str) -> Evaluation:
    case = await world.add_case()
    await sign_in(client, email)
    headers = {"x-csrftoken": await csrf_token(client)}
    url = f"/api/v1/cases/{case.id}"
    assert (await client.post(f"{url}/claim", headers=headers)).status_code == 200
    assert (await client.put(f"{url}/evaluation", json=DRAFT, headers=headers)).status_code == 200
    signed = await client.post(f"{url}/evaluation/sign",
                               json={"password": DEMO_PASSWORD, "attest": True}, headers=headers)
    assert signed.status_code == 200, signed.text
    evaluation = await world.db.scalar(
        select(Evaluation).where(Evaluation.case_id == case.id).execution_options(
            populate_existing=True))
    assert evaluation is not None
    return evaluation


async def _record_text(world: World, evaluation: Evaluation) -> str:
    case = await world.db.get_one(Case, evaluation.case_id, populate_existing=True)
    facts = await load_case_facts(world.db, case)
    return _text(render_async_record(facts.record))


async def test_practice_address_is_the_distant_site_and_stays(
    client: Client, world: World
) -> None:
    dentist = await world.db.get_one(User, world.dentist.id)
    dentist.practice_address, dentist.practice_state = "77 Harbor Way, Eureka, CA 95501", "CA"
    await world.db.commit()
    evaluation = await _sign(client, world, "dentist@demo.test")
    assert evaluation.distant_site is not None
    assert "77 Harbor Way, Eureka, CA 95501" in evaluation.distant_site
    assert evaluation.distant_site_state == "CA"

    # the profile changes later: the signed record still prints where the review was done
    dentist = await world.db.get_one(User, world.dentist.id, populate_existing=True)
    dentist.practice_address = "1 New Street, Fresno, CA 93701"
    await world.db.commit()
    text = await _record_text(world, evaluation)
    assert "Distant site practice: Dr. Dana Demo's practice, 77 Harbor Way, Eureka" in text
    assert "1 New Street" not in text
    assert "100 Main Street" not in text.split("Distant site", 1)[1].split("Collection", 1)[0]


async def test_without_a_practice_address_the_organization_is_the_distant_site(
    client: Client, world: World
) -> None:
    evaluation = await _sign(client, world, "dentist2@demo.test")
    assert evaluation.distant_site is not None
    assert evaluation.distant_site.startswith("Demo Dental Clinic, 100 Main Street")
    # the organization moves later: the record keeps the address of the day of signing
    clinic = world.clinic
    clinic.address_line = "500 Moved Avenue"
    await world.db.commit()
    text = await _record_text(world, evaluation)
    assert "Distant site practice: Demo Dental Clinic, 100 Main Street" in text
    assert "500 Moved Avenue" in text  # the practice block shows today's address
    assert "Distant site practice: Demo Dental Clinic, 500 Moved" not in text
