"""Annotations on images (issue 21): drawn by the dentist holding the case, versioned, read by
other dentists, refused after signing and outside the organization, measured with the DICOM's
pixel spacing, drawn on the claim attachment's copy only — the stored original never changes."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from reviewer.billing.facts import load_case_facts
from reviewer.documents.pdf import render_attachment_pdf
from storage.models import Annotation, Attachment, AuditEvent, Case, Organization, ViewEvent
from tests.integration.review.conftest import World
from tests.support.dicoms import write_dicom
from tests.support.portal import DEMO_PASSWORD, csrf_token, sign_in

Client = AsyncTestClient[Litestar]

ARROW = {"type": "arrow", "from": [0.2, 0.2], "to": [0.5, 0.5]}
DRAFT = {"findings": "Socket closing.", "diagnosis": "Normal healing.", "urgency": "routine",
         "advice": "Keep rinsing gently with warm salt water after meals.", "procedures": [],
         "teeth_findings": [], "referral": None, "follow_up_days": 7, "internal_notes": ""}


def _jpeg(size: tuple[int, int] = (200, 100)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (40, 40, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def text_of(pdf: bytes) -> str:
    raw = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", raw)


async def _as(client: Client, email: str) -> dict[str, str]:
    await sign_in(client, email)
    return {"x-csrftoken": await csrf_token(client)}


async def _photo(client: Client, world: World, case: Case) -> Attachment:
    key = f"test/{uuid.uuid4().hex}"
    await client.app.state.blobs.put(key, _jpeg(), content_type="image/jpeg")
    attachment = await world.add_attachment(case, view="lower_occlusal", kind="photo", key=key)
    attachment.width, attachment.height = 200, 100
    await world.db.commit()
    return attachment


async def _claimed(client: Client, world: World) -> tuple[Case, Attachment, dict[str, str]]:
    case = await world.add_case(kind="post_op")
    photo = await _photo(client, world, case)
    headers = await _as(client, "dentist@demo.test")
    assert (await client.post(f"/api/v1/cases/{case.id}/claim", headers=headers)).status_code \
        == 200
    return case, photo, headers


def _url(case: Case, attachment: Attachment) -> str:
    return f"/api/v1/cases/{case.id}/attachments/{attachment.id}/annotations"


async def test_draw_edit_and_read_back_versions_kept_audited(client: Client, world: World) -> None:
    case, photo, headers = await _claimed(client, world)
    url = _url(case, photo)
    created = await client.post(url, json={"shapes": [ARROW], "note": "Margin closing well",
                                           "include_in_claim": True}, headers=headers)
    assert created.status_code == 201, created.text
    first = created.json()
    assert first["version"] == 1 and first["shapes"] == [ARROW] and first["include_in_claim"]

    edited = await client.post(url, json={
        "shapes": [ARROW, {"type": "circle", "center": [0.5, 0.5], "radius": 0.1},
                   {"type": "freehand", "points": [[0.1, 0.1], [0.2, 0.3], [0.3, 0.2]]},
                   {"type": "text", "at": [0.6, 0.6], "text": "granulation"}],
        "note": "Margin closing well; granulation tissue", "replaces": first["lineage_id"],
        "include_in_claim": True, "show_to_patient": True}, headers=headers)
    assert edited.status_code == 201, edited.text
    assert edited.json()["version"] == 2 and edited.json()["lineage_id"] == first["lineage_id"]

    read = await client.get(url)
    assert read.status_code == 200
    body = read.json()
    assert [a["version"] for a in body["annotations"]] == [2]  # the current version
    assert body["editable"] is True
    assert body["calibration"] == {"unit": "px", "calibration": "uncalibrated, px",
                                   "pixel_spacing": None}
    rows = list(await world.db.scalars(select(Annotation).order_by(Annotation.version)))
    assert [r.version for r in rows] == [1, 2] and rows[0].note == "Margin closing well"

    saved = list(await world.db.scalars(select(AuditEvent).where(
        AuditEvent.action == "annotation.saved")))
    assert [e.details["version"] for e in saved] == [1, 2]
    assert all("Margin" not in str(e.details) for e in saved)  # no note in the trail
    assert await world.db.scalar(select(ViewEvent).where(
        ViewEvent.action == "annotation.viewed", ViewEvent.attachment_id == photo.id))

    # Another dentist of the organization reads them, may not draw or edit.
    other = await _as(client, "dentist2@demo.test")
    seen = (await client.get(url)).json()
    assert seen["editable"] is False and seen["annotations"][0]["version"] == 2
    refused = await client.post(url, json={"shapes": [ARROW]}, headers=other)
    assert refused.status_code == 409 and refused.json()["code"] == "not_claimant"

    # Withdrawn: a new version, off the image; the history stays.
    headers = await _as(client, "dentist@demo.test")
    gone = await client.post(url, json={"shapes": [ARROW], "replaces": first["lineage_id"],
                                        "withdrawn": True}, headers=headers)
    assert gone.status_code == 201 and gone.json()["version"] == 3
    assert (await client.get(url)).json()["annotations"] == []


async def test_bad_shapes_are_refused(client: Client, world: World) -> None:
    case, photo, headers = await _claimed(client, world)
    url = _url(case, photo)
    for shapes in ([], [{"type": "laser"}], [{"type": "arrow", "from": [0, 0], "to": [1.5, 0]}],
                   [{"type": "circle", "center": [0.5, 0.5], "radius": 0}],
                   [{"type": "freehand", "points": [[0.1, 0.1]]}],
                   [{"type": "text", "at": [0.1, 0.1], "text": "x" * 201}],
                   [ARROW] * 21):
        bad = await client.post(url, json={"shapes": shapes}, headers=headers)
        assert bad.status_code == 400, (shapes, bad.text)
        assert bad.json()["code"] == "invalid_annotation"
    unknown = await client.post(url, json={"shapes": [ARROW], "burn_in": True}, headers=headers)
    assert unknown.status_code == 400
    assert await world.db.scalar(select(Annotation)) is None


async def test_refused_outside_reach_and_after_signing(client: Client, world: World) -> None:
    case, photo, headers = await _claimed(client, world)
    url = _url(case, photo)
    # Another organization's dentist: the case does not exist for them.
    elsewhere = Organization(name="Elsewhere Dental", kind="clinic")
    world.db.add(elsewhere)
    await world.db.commit()
    await world.add_dentist("outsider@demo.test", orgs=(elsewhere,),
                            password_hash=world.dentist.password_hash)
    await _as(client, "outsider@demo.test")
    assert (await client.get(url)).status_code == 404
    # A hygienist: not a dentist's route at all.
    await _as(client, "hygienist@demo.test")
    assert (await client.get(url)).status_code == 403
    # Another case's image under this case's path: 404.
    headers = await _as(client, "dentist@demo.test")
    other_case = await world.add_case()
    stray = await _photo(client, world, other_case)
    assert (await client.post(f"/api/v1/cases/{case.id}/attachments/{stray.id}/annotations",
                              json={"shapes": [ARROW]}, headers=headers)).status_code == 404

    # Signed: annotations are part of what was signed, a change is refused.
    assert (await client.post(url, json={"shapes": [ARROW], "note": "before signing"},
                              headers=headers)).status_code == 201
    base = f"/api/v1/cases/{case.id}"
    assert (await client.put(f"{base}/evaluation", json=DRAFT, headers=headers)).status_code \
        == 200
    await client.get(f"{base}/attachments/{photo.id}/display")
    signed = await client.post(f"{base}/evaluation/sign",
                               json={"password": DEMO_PASSWORD, "attest": True}, headers=headers)
    assert signed.status_code == 200, signed.text
    late = await client.post(url, json={"shapes": [ARROW]}, headers=headers)
    assert late.status_code == 409 and late.json()["code"] == "invalid_transition"
    assert (await client.get(url)).json()["editable"] is False


async def test_measure_on_a_dicom_uses_its_pixel_spacing(
    client: Client, world: World, tmp_path: Path
) -> None:
    case, photo, headers = await _claimed(client, world)
    dicom = write_dicom(tmp_path / "x.dcm", pixel_spacing=(0.1, 0.1)).read_bytes()
    key = f"test/{uuid.uuid4().hex}"
    await client.app.state.blobs.put(key, dicom, content_type="application/dicom")
    radiograph = await world.add_attachment(case, view="periapical", kind="radiograph", key=key)
    radiograph.content_type, radiograph.media_type = "application/dicom", "dicom"
    radiograph.width, radiograph.height = 256, 192
    await world.db.commit()
    url = _url(case, radiograph)
    assert (await client.get(url)).json()["calibration"] == {
        "unit": "mm", "calibration": "DICOM Pixel Spacing 0.1 mm", "pixel_spacing": [0.1, 0.1]}
    # 0.5 of 256 px across = 128 px x 0.1 mm = 12.8 mm; whatever the client says.
    measured = await client.post(url, json={"shapes": [
        {"type": "measure", "from": [0.25, 0.5], "to": [0.75, 0.5], "length": 99}]},
        headers=headers)
    assert measured.status_code == 201, measured.text
    shape = measured.json()["shapes"][0]
    assert (shape["length"], shape["unit"]) == (12.8, "mm")
    assert shape["calibration"] == "DICOM Pixel Spacing 0.1 mm"
    assert measured.json()["calibration"] == "DICOM Pixel Spacing 0.1 mm"

    # A DICOM without spacing, and a photo: pixels, or a drawn reference of known length.
    bare = write_dicom(tmp_path / "y.dcm").read_bytes()
    await client.app.state.blobs.put(key + "b", bare, content_type="application/dicom")
    plain = await world.add_attachment(case, view="periapical", kind="radiograph", key=key + "b")
    plain.content_type = "application/dicom"
    await world.db.commit()
    assert (await client.get(_url(case, plain))).json()["calibration"]["unit"] == "px"
    photo_url = _url(case, photo)
    pixels = await client.post(photo_url, json={"shapes": [
        {"type": "measure", "from": [0.0, 0.0], "to": [0.5, 0.0]}]}, headers=headers)
    assert pixels.json()["shapes"][0] == {"type": "measure", "from": [0.0, 0.0],
                                          "to": [0.5, 0.0], "length": 100.0, "unit": "px",
                                          "calibration": "uncalibrated, px"}
    referenced = await client.post(photo_url, json={"shapes": [
        {"type": "measure", "from": [0.0, 0.0], "to": [0.5, 0.0],
         "reference": {"from": [0.0, 0.5], "to": [0.25, 0.5], "mm": 10}}]}, headers=headers)
    shape = referenced.json()["shapes"][0]
    assert (shape["length"], shape["unit"], shape["calibration"]) == (
        20.0, "mm", "reference of 10 mm")


async def test_claim_attachment_draws_the_chosen_annotation_original_unchanged(
    client: Client, world: World
) -> None:
    case, photo, headers = await _claimed(client, world)
    blobs = client.app.state.blobs
    original_before = hashlib.sha256(await blobs.read(photo.original_key)).hexdigest()
    url = _url(case, photo)
    for note, include in (("Arrow at the distal margin", True), ("Private working note", False)):
        assert (await client.post(url, json={"shapes": [ARROW], "note": note,
                                             "include_in_claim": include},
                                  headers=headers)).status_code == 201
    base = f"/api/v1/cases/{case.id}"
    assert (await client.put(f"{base}/evaluation", json=DRAFT, headers=headers)).status_code \
        == 200
    await client.get(f"{base}/attachments/{photo.id}/display")
    assert (await client.post(f"{base}/evaluation/sign",
                              json={"password": DEMO_PASSWORD, "attest": True},
                              headers=headers)).status_code == 200
    stored = await world.db.get_one(Case, case.id, populate_existing=True)
    facts = await load_case_facts(world.db, stored, blobs=blobs)
    item = next(i for i in facts.record.items if i.ref == str(photo.id))
    assert [a["note"] for a in item.annotations] == ["Arrow at the distal margin"]
    pdf = render_attachment_pdf(facts.record, narrative="n", attachment_control_number="TLANN1",
                                images=facts.record.items)
    text = text_of(pdf)
    assert "Annotation 1 (arrow): Arrow at the distal margin" in text
    assert "Private working note" not in text
    # The drawing is on the PDF's copy: its picture differs from the plain display picture.
    embedded = next(iter(PdfReader(io.BytesIO(pdf)).pages[-1].images)).image
    assert embedded is not None
    amber = sum(1 for r, g, b in embedded.convert("RGB").getdata()
                if r > 180 and g > 130 and b < 110)
    assert amber > 20, amber  # the arrow, amber on the dark picture (which has none)
    assert hashlib.sha256(await blobs.read(photo.original_key)).hexdigest() == original_before
    row = await world.db.get_one(Attachment, photo.id, populate_existing=True)
    assert row.original_sha256 == photo.original_sha256


async def test_patient_page_shows_only_annotations_chosen_for_the_patient_after_signing(
    client: Client, world: World
) -> None:
    case, photo, headers = await _claimed(client, world)
    url = _url(case, photo)
    for note, shown in (("This is where it is healing", True), ("Dentists only", False)):
        assert (await client.post(url, json={
            "shapes": [ARROW, {"type": "circle", "center": [0.5, 0.5], "radius": 0.1}],
            "note": note, "show_to_patient": shown}, headers=headers)).status_code == 201
    await sign_in(client, "patient@demo.test")
    before = (await client.get(f"/patient/cases/{case.id}")).text
    assert 'id="dentist-annotations"' not in before  # nothing before signing
    headers = await _as(client, "dentist@demo.test")
    base = f"/api/v1/cases/{case.id}"
    assert (await client.put(f"{base}/evaluation", json=DRAFT, headers=headers)).status_code \
        == 200
    await client.get(f"{base}/attachments/{photo.id}/display")
    assert (await client.post(f"{base}/evaluation/sign",
                              json={"password": DEMO_PASSWORD, "attest": True},
                              headers=headers)).status_code == 200
    await sign_in(client, "patient@demo.test")
    page = await client.get(f"/patient/cases/{case.id}")
    assert page.status_code == 200
    html = page.text
    section = html[html.index('id="dentist-annotations"'):]
    assert "This is where it is healing" in section and "Dentists only" not in html
    assert section.count("<line ") == 1 and section.count("<ellipse ") == 1
    assert 'x1="200.0" y1="200.0" x2="500.0" y2="500.0"' in section
    assert 'ry="200.0"' in section  # the radius is of the width: twice as tall on a 2:1 photo
    # The patient's API is not the dentists' annotations API.
    assert (await client.get(url)).status_code == 403
