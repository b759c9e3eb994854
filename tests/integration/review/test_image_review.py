"""Review that really happened: signing needs every image opened by the signer (display or
original, never the thumbnail; another dentist's view does not count) or a reason per image;
what was opened when, and the review's span, are stored at signing and printed in the D9996
record and the claim attachment."""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from reviewer.billing.facts import load_case_facts
from reviewer.documents.package import build_claim_package
from reviewer.documents.pdf import format_moment, render_attachment_pdf
from reviewer.evaluation.services import signed_content_matches
from storage.models import Attachment, AuditEvent, Case, Evaluation
from tests.integration.review.conftest import World
from tests.support.portal import DEMO_PASSWORD, csrf_token, sign_in

Client = AsyncTestClient[Litestar]

DRAFT = {
    "findings": "Socket healing, mild redness distal of 19.",
    "teeth_findings": [{"tooth": "19", "condition": "healing_normal"}],
    "diagnosis": "Normal post-extraction healing.",
    "advice": "Keep rinsing gently with warm salt water after meals for three more days.",
    "urgency": "routine",
    "procedures": [],
    "referral": None,
    "follow_up_days": 14,
    "internal_notes": "",
}
SIGN = {"password": DEMO_PASSWORD, "attest": True}
HTMX = {"hx-request": "true"}
TZ = "America/Los_Angeles"  # the demo clinic's zone: the record prints times in it


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (180, 90, 90)).save(buffer, "JPEG")
    return buffer.getvalue()


def text_of(pdf: bytes) -> str:
    raw = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", raw)


async def _as(client: Client, email: str) -> dict[str, str]:
    await sign_in(client, email)
    return {"x-csrftoken": await csrf_token(client)}


async def _post_op_with_images(client: Client, world: World) -> tuple[Case, list[Attachment]]:
    case = await world.add_case(kind="post_op")
    images = []
    for view, kind in (("lower_occlusal", "photo"), ("left", "photo"),
                       ("periapical", "radiograph")):
        key = f"test/{uuid.uuid4().hex}"
        await client.app.state.blobs.put(key, _jpeg(), content_type="image/jpeg")
        images.append(await world.add_attachment(case, view=view, kind=kind, key=key))
    images[2].teeth = "19,20"
    await world.db.commit()
    return case, images


async def _open(client: Client, case: Case, attachment: Attachment, variant: str) -> None:
    response = await client.get(f"/api/v1/cases/{case.id}/attachments/{attachment.id}/{variant}")
    assert response.status_code == 200, response.text


async def _ready_to_sign(client: Client, world: World) -> tuple[Case, list[Attachment],
                                                                 dict[str, str]]:
    case, images = await _post_op_with_images(client, world)
    headers = await _as(client, "dentist@demo.test")
    url = f"/api/v1/cases/{case.id}"
    assert (await client.post(f"{url}/claim", headers=headers)).status_code == 200
    assert (await client.put(f"{url}/evaluation", json=DRAFT, headers=headers)).status_code == 200
    return case, images, headers


async def test_signing_refuses_unopened_images_then_signs_after_opening_each(
    client: Client, world: World
) -> None:
    case, images, headers = await _ready_to_sign(client, world)
    case_id = case.id
    url = f"/api/v1/cases/{case.id}/evaluation/sign"
    refused = await client.post(url, json=SIGN, headers=headers)
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "images_not_reviewed"
    assert body["attachment_ids"] == [str(a.id) for a in images]

    # Thumbnails (the case page loads them all) do not count as opening an image.
    for image in images:
        await _open(client, case, image, "thumbnail")
    # Another dentist's opening does not count either.
    await _as(client, "dentist2@demo.test")
    await _open(client, case, images[0], "display")
    headers = await _as(client, "dentist@demo.test")
    still = await client.post(url, json=SIGN, headers=headers)
    assert still.status_code == 422 and still.json()["code"] == "images_not_reviewed"
    assert still.json()["attachment_ids"] == [str(a.id) for a in images]

    # The viewer (display) for two, the original for the third.
    await _open(client, case, images[0], "display")
    await _open(client, case, images[1], "display")
    one_left = await client.post(url, json=SIGN, headers=headers)
    assert one_left.json()["attachment_ids"] == [str(images[2].id)]
    await _open(client, case, images[2], "original")
    signed = await client.post(url, json=SIGN, headers=headers)
    assert signed.status_code == 200, signed.text

    evaluation = await world.db.scalar(select(Evaluation).where(Evaluation.case_id == case.id),
                                       execution_options={"populate_existing": True})
    assert evaluation is not None and evaluation.signed_at is not None
    assert [r["attachment_id"] for r in evaluation.image_review] == [str(a.id) for a in images]
    assert all(r["opened_at"] and r["reason"] is None for r in evaluation.image_review)
    assert evaluation.review_ended_at == evaluation.signed_at
    assert evaluation.review_started_at is not None
    assert evaluation.review_started_at <= evaluation.signed_at
    assert evaluation.review_started_at.isoformat() == min(
        r["opened_at"] for r in evaluation.image_review)
    assert signed_content_matches(evaluation)
    signed_review = list(evaluation.image_review)
    signed_started, signed_at = evaluation.review_started_at, evaluation.signed_at
    evaluation.image_review = [{**r, "opened_at": None, "reason": "x"}
                               for r in evaluation.image_review]
    assert not signed_content_matches(evaluation)  # the review is part of the signed content
    await world.db.rollback()

    # The D9996 record and the claim attachment print the reviewed images with their times.
    stored_case = await world.db.get_one(Case, case_id, populate_existing=True)
    facts = await load_case_facts(world.db, stored_case, blobs=client.app.state.blobs)
    record = facts.record
    built = build_claim_package(record, facts.profile, attachment_control_number="TLTEST01")
    text = text_of(built.record_pdf)
    assert "Images reviewed: 3 of 3" in text, text
    opened = {r["attachment_id"]: r["opened_at"] for r in signed_review}
    for number, (image, label) in enumerate(zip(images, (
            "Photo Lower teeth (biting surfaces); teeth: not given",
            "Photo Left side; teeth: not given",
            "Radiograph Periapical; teeth: 19,20"), strict=True), start=1):
        stamp = format_moment(dt.datetime.fromisoformat(opened[str(image.id)]), TZ)
        assert f"{number}. {label}; opened {stamp}" in text, (label, stamp, text)
    started, ended = format_moment(signed_started, TZ), format_moment(signed_at, TZ)
    assert f"Review started {started}, ended {ended} (first view to signature)." in text
    attachment = text_of(render_attachment_pdf(
        record, narrative="n", attachment_control_number="TLTEST01", images=record.items))
    assert attachment.count("opened 20") == 3 and "(first view to signature)" in attachment


async def test_a_reason_per_unopened_image_allows_signing_and_is_audited(
    client: Client, world: World
) -> None:
    case, images, headers = await _ready_to_sign(client, world)
    url = f"/api/v1/cases/{case.id}/evaluation/sign"
    await _open(client, case, images[0], "display")
    await _open(client, case, images[1], "display")
    blank = await client.post(url, json={**SIGN, "unviewed_reasons": {str(images[2].id): "  "}},
                              headers=headers)
    assert blank.status_code == 422 and blank.json()["attachment_ids"] == [str(images[2].id)]
    signed = await client.post(
        url, json={**SIGN, "unviewed_reasons": {str(images[2].id): "duplicate of image 2"}},
        headers=headers)
    assert signed.status_code == 200, signed.text
    evaluation = await world.db.scalar(select(Evaluation).where(Evaluation.case_id == case.id))
    assert evaluation is not None
    last = evaluation.image_review[2]
    assert last == {"attachment_id": str(images[2].id), "opened_at": None,
                    "reason": "duplicate of image 2"}
    waived = list(await world.db.scalars(select(AuditEvent).where(
        AuditEvent.action == "attachment.review_waived")))
    assert [(w.subject_id, w.actor_id) for w in waived] == [(str(images[2].id), world.dentist.id)]
    assert waived[0].details["case_id"] == str(case.id)
    signed_event = await world.db.scalar(select(AuditEvent).where(
        AuditEvent.action == "evaluation.signed", AuditEvent.subject_id == str(case.id)))
    assert signed_event is not None and signed_event.details["images_not_opened"] == 1

    stored_case = await world.db.get_one(Case, case.id)
    facts = await load_case_facts(world.db, stored_case)
    text = text_of(build_claim_package(facts.record, facts.profile,
                                       attachment_control_number="TLTEST02").record_pdf)
    assert "Images reviewed: 2 of 3" in text
    assert "3. Radiograph Periapical; teeth: 19,20; not opened: duplicate of image 2" in text


async def test_unknown_body_field_is_refused(client: Client, world: World) -> None:
    case, _images, headers = await _ready_to_sign(client, world)
    bad = await client.post(f"/api/v1/cases/{case.id}/evaluation/sign",
                            json={**SIGN, "unviewed_reasons": ["not", "a", "map"]},
                            headers=headers)
    assert bad.status_code == 400


async def test_sign_page_lists_the_images_and_shows_the_refusal(
    client: Client, world: World
) -> None:
    case, images, headers = await _ready_to_sign(client, world)
    await _open(client, case, images[0], "display")
    page = await client.get(f"/review/cases/{case.id}")
    assert page.status_code == 200
    assert "Images reviewed: 1 of 3 opened" in page.text
    assert f'id="image-review-{images[0].id}"' in page.text
    assert f'name="unviewed_reason_{images[1].id}"' in page.text
    assert f'name="unviewed_reason_{images[0].id}"' not in page.text  # opened: no reason asked

    form = {"password": DEMO_PASSWORD, "attest": "yes",
            f"unviewed_reason_{images[1].id}": "Duplicate of another image"}
    refused = await client.post(f"/review/cases/{case.id}/sign", data=form,
                                headers={**headers, **HTMX, "hx-target": "sign-form"})
    assert refused.status_code == 422
    assert "Open every image before signing" in refused.text and 'id="sign-form"' in refused.text
    assert 'value="Duplicate of another image"' in refused.text  # what was typed is kept
    assert (await world.db.get_one(Case, case.id, populate_existing=True)).status == "in_review"

    form[f"unviewed_reason_{images[2].id}"] = "Unreadable (blank or out of focus)"
    signed = await client.post(f"/review/cases/{case.id}/sign", data=form,
                               headers={**headers, **HTMX, "hx-target": "sign-form"})
    assert signed.status_code == 200, signed.text
    evaluation = await world.db.scalar(select(Evaluation).where(Evaluation.case_id == case.id))
    assert evaluation is not None
    assert [r["reason"] for r in evaluation.image_review] == [
        None, "Duplicate of another image", "Unreadable (blank or out of focus)"]
