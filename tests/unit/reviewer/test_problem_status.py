"""The problem status (new / established / post-op check): asked at intake, picks D0140 /
D0170 / D0171."""

from __future__ import annotations

import pytest

from reviewer.coding.rules import evaluation_code_for
from reviewer.errors import Invalid
from reviewer.intake.questionnaire import clean_questionnaire, problem_of
from reviewer.vocabulary import CaseKind, ProblemStatus

REACHES = {
    ProblemStatus.NEW: "D0140",
    ProblemStatus.ESTABLISHED: "D0170",
    ProblemStatus.POST_OP_CHECK: "D0171",
}


@pytest.mark.parametrize("problem", list(ProblemStatus))
def test_each_status_reaches_its_evaluation_code(problem: ProblemStatus) -> None:
    for kind in (CaseKind.QUESTION, CaseKind.EMERGENCY, CaseKind.SCHOOL_SCREENING, None):
        assert evaluation_code_for(kind, problem) == REACHES[problem], kind
    assert evaluation_code_for(CaseKind.POST_OP, problem) == "D0171"  # a post-op case, always


@pytest.mark.parametrize("answer", ["new", "established", "post_op_check", " Established "])
def test_the_questionnaire_takes_the_problem_answer(answer: str) -> None:
    answers = clean_questionnaire({"problem": answer})
    assert answers == {"problem": answer.strip().lower()}
    assert problem_of(CaseKind.QUESTION, answers) is ProblemStatus(answer.strip().lower())


@pytest.mark.parametrize("answer", ["old", "post_op", 3, True])
def test_a_wrong_problem_answer_is_refused(answer: object) -> None:
    with pytest.raises(Invalid) as refused:
        clean_questionnaire({"problem": answer})
    assert refused.value.code == "invalid_questionnaire"


def test_without_an_answer_a_post_op_case_is_a_post_op_check_and_others_new() -> None:
    assert problem_of(CaseKind.POST_OP, {}) is ProblemStatus.POST_OP_CHECK
    assert problem_of(CaseKind.EMERGENCY, {}) is ProblemStatus.NEW
    assert problem_of(CaseKind.SCHOOL_SCREENING, {}) is ProblemStatus.NEW
    assert problem_of(CaseKind.POST_OP, {"problem": "established"}) is ProblemStatus.ESTABLISHED


# --- capture codes of the new radiograph kinds, and D0703 for photos --------------------------


def test_panoramic_and_cephalometric_captures_are_d0701_and_d0702() -> None:
    from reviewer.coding.rules import RadiographKind, RadiographSet, propose_async_lines
    from tests.unit.reviewer.claim_builders import HYGIENIST, VISIT, school_facts

    facts = school_facts(radiographs=(
        RadiographSet(RadiographKind.PANORAMIC, VISIT, HYGIENIST),
        RadiographSet(RadiographKind.CEPHALOMETRIC, VISIT, HYGIENIST),
        RadiographSet(RadiographKind.BITEWING, VISIT, HYGIENIST, images=2),
    ))
    quantities = {ln.code: ln.quantity for ln in propose_async_lines(facts)}
    assert quantities["D0701"] == 1 and quantities["D0702"] == 1 and quantities["D0708"] == 2
    assert "D0707" not in quantities


def test_photo_capture_d0703_only_where_the_payer_bills_it() -> None:
    from reviewer.coding.payer import PayerProfile
    from reviewer.coding.proposal import PhotoSet
    from reviewer.coding.rules import propose_async_lines
    from tests.unit.reviewer.claim_builders import DENTIST, HYGIENIST, VISIT, school_facts

    photos = (PhotoSet(VISIT, HYGIENIST, images=3), PhotoSet(VISIT, DENTIST))
    default = [ln.code for ln in propose_async_lines(school_facts(), photos=photos)]
    assert "D0703" not in default
    billed = propose_async_lines(
        school_facts(), PayerProfile(name="Photos", bills_photo_capture=True), photos
    )
    d0703 = [ln for ln in billed if ln.code == "D0703"]
    assert [(ln.provider, ln.quantity, ln.date_of_service) for ln in d0703] == [
        (HYGIENIST, 3, VISIT)
    ]
    assert PayerProfile.from_dict({"bills_photo_capture": True}).bills_photo_capture
    assert PayerProfile().as_dict()["bills_photo_capture"] is False
