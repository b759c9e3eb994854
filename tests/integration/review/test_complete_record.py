"""Issue 17's acceptance walk: a post-op case of a patient with an allergy, consented, signed
after the dentist opened every image, gives a D9996 record that prints the allergy, the
consent, the reviewed images with their times and D0171; a re-evaluation gives D0170."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from reviewer.billing.facts import load_case_facts
from reviewer.consent_forms import TELEDENTISTRY, current_form
from reviewer.documents.package import build_claim_package
from reviewer.intake.consents import ConsentRequest, accept_consent
from reviewer.patients.history import HistoryEntry, HistoryInput, update_history
from storage.models import Case
from tests.integration.review.conftest import World
from tests.integration.review.test_image_review import (
    DRAFT,
    SIGN,
    Client,
    _as,
    _open,
    _post_op_with_images,
    text_of,
)


async def _signed_record(client: Client, world: World, problem: str, kind: str) -> str:
    patient_actor = dataclasses.replace(world.actor(world.patient_user),
                                        patient_ids=frozenset({world.patient.id}))
    await update_history(world.db, patient_actor, world.patient.id, HistoryInput(
        allergies=[HistoryEntry("Penicillin", "hives")],
        medications=[HistoryEntry("Ibuprofen 400 mg")]))
    await accept_consent(world.db, patient_actor, world.ctx(world.patient_user), ConsentRequest(
        form=TELEDENTISTRY, version=current_form(TELEDENTISTRY).version))
    await world.db.commit()
    case, images = await _post_op_with_images(client, world)
    case.problem, case.kind = problem, kind
    await world.db.commit()
    headers = await _as(client, "dentist@demo.test")
    url = f"/api/v1/cases/{case.id}"
    assert (await client.post(f"{url}/claim", headers=headers)).status_code == 200
    assert (await client.put(f"{url}/evaluation", json=DRAFT, headers=headers)).status_code == 200
    refused = await client.post(f"{url}/evaluation/sign", json=SIGN, headers=headers)
    assert refused.status_code == 422 and refused.json()["code"] == "images_not_reviewed"
    for image in images:
        await _open(client, case, image, "display")
    signed = await client.post(f"{url}/evaluation/sign", json=SIGN, headers=headers)
    assert signed.status_code == 200, signed.text
    stored = await world.db.scalar(select(Case).where(Case.id == case.id),
                                   execution_options={"populate_existing": True})
    assert stored is not None
    facts = await load_case_facts(world.db, stored, blobs=client.app.state.blobs)
    built = build_claim_package(facts.record, facts.profile, attachment_control_number="TL17")
    return text_of(built.record_pdf)


async def test_post_op_record_prints_allergy_consent_reviewed_images_and_d0171(
    client: Client, world: World
) -> None:
    text = await _signed_record(client, world, "post_op_check", "post_op")
    for needle in ("Penicillin (hives)", "Ibuprofen 400 mg",
                   f"Consent to teledentistry, version {current_form(TELEDENTISTRY).version}",
                   "Images reviewed: 3 of 3", "(first view to signature)", "D0171", "D9996"):
        assert needle in text, (needle, text)
    assert text.count("; opened ") == 3
    assert "D0140" not in text and "D0170" not in text


async def test_a_re_evaluation_is_d0170(client: Client, world: World) -> None:
    """A known problem looked at again (a question about it, not a post-op check)."""
    text = await _signed_record(client, world, "established", "question")
    assert "D0170" in text and "D0171" not in text and "D0140" not in text
