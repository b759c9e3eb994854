"""Issue 17 at the intake API: the radiograph views go with radiographs only (and the photo
views with photos only), and the case records the patient's problem status."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case
from tests.integration.intake.conftest import (
    GOOD,
    Client,
    attachments,
    new_case,
    upload,
)

XRAY = (GOOD / "xray_8bit.jpg").read_bytes()
PHOTO = (GOOD / "phone_postop_upright.jpg").read_bytes()


def _api(case_id: uuid.UUID) -> str:
    return f"/api/v1/cases/{case_id}/attachments"


@pytest.mark.parametrize(
    ("kind", "view", "data"),
    [("photo", "bitewing", PHOTO), ("photo", "panoramic", PHOTO),
     ("radiograph", "anterior", XRAY), ("radiograph", "upper_occlusal", XRAY)],
)
async def test_a_view_of_the_other_kind_is_refused(
    patient: Client, draft: uuid.UUID, db: AsyncSession, kind: str, view: str, data: bytes
):
    response = await upload(patient, _api(draft), data, "a.jpg", kind=kind, view=view)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_view"
    assert await attachments(db, draft) == []


@pytest.mark.parametrize("view", ["bitewing", "periapical", "occlusal", "panoramic",
                                  "cephalometric", "other"])
async def test_a_radiograph_takes_each_radiograph_view(
    patient: Client, draft: uuid.UUID, db: AsyncSession, view: str
):
    response = await upload(patient, _api(draft), XRAY, "x.jpg", kind="radiograph", view=view,
                            teeth="3")
    assert response.status_code == 201, response.text
    assert response.json()["view"] == view
    assert [(a.kind, a.view) for a in await attachments(db, draft)] == [("radiograph", view)]


@pytest.mark.parametrize(
    ("kind", "answer", "recorded"),
    [("question", "established", "established"), ("emergency", None, "new"),
     ("post_op", None, "post_op_check"), ("question", "post_op_check", "post_op_check")],
)
async def test_the_case_records_the_problem_status(
    patient: Client, db: AsyncSession, kind: str, answer: str | None, recorded: str
):
    questionnaire = {"problem": answer} if answer else {}
    response = await new_case(patient, kind=kind, questionnaire=questionnaire)
    assert response.status_code == 201, response.text
    assert response.json()["problem"] == recorded
    case = await db.get_one(Case, uuid.UUID(response.json()["id"]))
    assert case.problem == recorded


async def test_a_wrong_problem_answer_is_refused(patient: Client):
    response = await new_case(patient, kind="question", questionnaire={"problem": "old"})
    assert response.status_code == 400, response.text
