"""The results letters of a class: one page per screened child, in the roster's language
(Spanish read back with its accents), for the program's hygienists and coordinators only,
audited with the children whose letters were printed."""

from __future__ import annotations

import io

from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, Organization
from tests.integration.screening.conftest import (
    COORDINATOR,
    DENTIST,
    FRONT_DESK,
    HYGIENIST,
    Client,
    children,
    create_event,
    headers,
    import_roster,
)
from tests.integration.screening.test_children import save
from tests.support.portal import sign_in

ROSTER = (
    "student_id,first_name,last_name,date_of_birth,grade,guardian_name,consent,language\n"
    "L-1,Sofía,Muñoz,2017-02-01,3,Ramón Muñoz,yes,español\n"
    "L-2,Oliver,Brown,2017-05-01,3,Kate Brown,yes,en\n"
    "L-3,Iker,Peña,2016-05-01,4,,yes,es\n"
    "L-4,Noor,Ali,2017-06-01,3,,yes,\n"
).encode()


def _pages(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


async def _class_event(client: Client) -> tuple[str, dict[str, dict[str, str]]]:
    event_id = (await create_event(client)).json()["id"]
    assert (await import_roster(client, event_id, ROSTER)).status_code == 200
    kids = await children(client, event_id)
    for student in ("L-1", "L-2"):  # L-4 (grade 3) is not screened: no letter
        assert (await save(client, event_id, kids[student])).status_code == 200
    assert (await save(client, event_id, kids["L-3"], treatment_urgency="none",
                       untreated_decay="no", caries_experience="no",
                       fluoride_varnish="no", sealant_teeth="")).status_code == 200
    return event_id, kids


async def test_class_letters_one_page_per_screened_child_in_their_language(
    hygienist: Client, db: AsyncSession
) -> None:
    event_id, _ = await _class_event(hygienist)
    page = await hygienist.get(f"/screening/events/{event_id}")
    assert f"/screening/events/{event_id}/letters.pdf?class=3" in page.text

    response = await hygienist.get(f"/screening/events/{event_id}/letters.pdf?class=3")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "no-store" in response.headers["cache-control"]
    brown, munoz = _pages(response.content)  # the class list's order: last name
    assert "Sofía Muñoz tuvo un examen dental en Lincoln Elementary" in munoz
    assert "Estimado/a Ramón Muñoz:" in munoz and "20 de noviembre de 2026" in munoz
    assert "Qué hacer: Necesita atención urgente" in munoz
    assert "Barniz de flúor" in munoz and "Selladores:" in munoz
    assert "Vimos señales de caries que no han sido tratadas." in munoz
    assert "Oliver Brown had a dental screening" in brown
    assert "What to do: Urgent care needed" in brown and "Dear Kate Brown," in brown

    other = await hygienist.get(f"/screening/events/{event_id}/letters.pdf?class=4")
    (text,) = _pages(other.content)
    assert "Qué hacer: Ningún problema evidente" in text
    assert "Hoy no se dio ningún tratamiento en la escuela." in text
    assert "Estimado padre, madre o tutor:" in text
    assert (await hygienist.get(
        f"/screening/events/{event_id}/letters.pdf?class=5")).status_code == 404

    db.expire_all()
    printed = list(await db.scalars(select(AuditEvent).where(
        AuditEvent.action == "screening_letters.printed").order_by(AuditEvent.occurred_at)))
    assert len(printed) == 2
    assert printed[0].details["class"] == "3" and len(printed[0].details["patient_ids"]) == 2
    assert "Muñoz" not in str(printed[0].details)


async def test_letters_roles_and_organizations(client: Client, db: AsyncSession) -> None:
    await sign_in(client, HYGIENIST)
    event_id, _ = await _class_event(client)
    url = f"/screening/events/{event_id}/letters.pdf?class=3"
    for email, status in ((COORDINATOR, 200), (FRONT_DESK, 403), (DENTIST, 403)):
        await client.post("/logout", headers=await headers(client))
        client.cookies.clear()
        await sign_in(client, email)
        assert (await client.get(url)).status_code == status, email

    clinic = await db.scalar(select(Organization).where(Organization.name == "Demo Dental Clinic"))
    assert clinic is not None
    await client.post("/logout", headers=await headers(client))
    client.cookies.clear()
    await sign_in(client, FRONT_DESK)
    elsewhere = (await create_event(client, organization_id=str(clinic.id))).json()["id"]
    client.cookies.clear()
    await sign_in(client, HYGIENIST)  # the school program only
    assert (await client.get(
        f"/screening/events/{elsewhere}/letters.pdf?class=3")).status_code == 404
