"""The BSS findings and school services rules, and the class progress (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from reviewer.cases.enums import Urgency
from reviewer.errors import DomainError, Invalid, Unprocessable
from reviewer.screening.findings import (
    clean_not_screened_reason,
    parse_findings,
    reason_label,
)
from reviewer.screening.progress import ChildState, child_state, progress

BASE: dict[str, Any] = {
    "caries_experience": True,
    "untreated_decay": False,
    "sealants_present": True,
    "treatment_urgency": "none",
    "services": [],
}


def test_findings_and_services_are_normalised() -> None:
    findings = parse_findings(
        {**BASE, "services": [{"code": "d1206"}, {"code": "D1351", "tooth": "03"},
                              {"code": "D1351", "tooth": 14}]},
        age_years=9,
    )
    assert findings.as_json("e1") == {
        "event_id": "e1", "caries_experience": True, "untreated_decay": False,
        "sealants_present": True, "treatment_urgency": "none",
        "services": [{"code": "D1206"}, {"code": "D1351", "tooth": "3"},
                     {"code": "D1351", "tooth": "14"}],
    }


@pytest.mark.parametrize(("screening", "urgency"), [
    ("none", Urgency.ROUTINE), ("early", Urgency.SOON), ("urgent", Urgency.URGENT)])
def test_treatment_urgency_maps_to_the_case_urgency(screening: str, urgency: Urgency) -> None:
    assert parse_findings({**BASE, "treatment_urgency": screening}).case_urgency is urgency


@pytest.mark.parametrize(("change", "error", "code"), [
    ({"caries_experience": "yes"}, Invalid, "invalid_screening"),
    ({"untreated_decay": True, "caries_experience": False}, Invalid, "invalid_screening"),
    ({"treatment_urgency": "soon"}, Invalid, "invalid_screening"),
    ({"services": [{"code": "D9999"}]}, Unprocessable, "unknown_code"),
    ({"services": [{"code": "D2391", "tooth": "3"}]}, Unprocessable, "not_a_school_service"),
    ({"services": [{"code": "D1351"}]}, Invalid, "tooth_required"),
    ({"services": [{"code": "D1206", "tooth": "3"}]}, Invalid, "tooth_not_applicable"),
    ({"services": [{"code": "D1351", "tooth": "33"}]}, Invalid, "invalid_tooth"),
    ({"services": [{"code": "D1206"}, {"code": "D1206"}]}, Invalid, "duplicate_service"),
    ({"services": [{"code": "D1206", "colour": "x"}]}, Invalid, "invalid_screening"),
    ({"services": "D1206"}, Invalid, "invalid_screening"),
])
def test_wrong_findings_are_refused(
    change: dict[str, Any], error: type[DomainError], code: str
) -> None:
    with pytest.raises(error) as caught:
        parse_findings({**BASE, **change}, age_years=9)
    assert caught.value.code == code


def test_sealant_tooth_must_fit_the_age() -> None:
    with pytest.raises(Invalid, match="permanent tooth 3 does not fit"):
        parse_findings({**BASE, "services": [{"code": "D1351", "tooth": "3"}]}, age_years=3)


def test_not_screened_reasons() -> None:
    assert clean_not_screened_reason("absent") == "absent"
    assert clean_not_screened_reason("other", "  moved   school ") == "other: moved school"
    assert reason_label("other: moved school") == "Other — moved school"
    for bad in (("bored", None), ("other", ""), ("absent", "x" * 501)):
        with pytest.raises(Invalid):
            clean_not_screened_reason(*bad)


def test_child_state_and_progress() -> None:
    assert child_state("pending", None) is ChildState.PENDING
    assert child_state("not_screened", "draft") is ChildState.NOT_SCREENED
    assert child_state("screened", "draft") is ChildState.SCREENED
    assert child_state("screened", "in_review") is ChildState.SUBMITTED
    assert child_state("submitted", "needs_info") is ChildState.NEEDS_INFO
    assert child_state("submitted", "closed") is ChildState.REVIEWED
    counted = progress([ChildState.PENDING, ChildState.NOT_SCREENED, ChildState.SCREENED,
                        ChildState.SUBMITTED, ChildState.REVIEWED])
    assert (counted.total, counted.pending, counted.not_screened) == (5, 1, 1)
    assert (counted.screened, counted.submitted, counted.reviewed) == (3, 2, 1)
    assert counted.done == 4 and counted.percent_done == 80
    assert progress([]).percent_done == 0
