"""The intake questionnaire: which answers exist and what they may hold. Pure.

Urgency and emergency signals are decided by ``reviewer.cases.state`` from these answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Final

from reviewer.errors import Invalid
from reviewer.i18n import N_
from reviewer.vocabulary import CaseKind, ProblemStatus

BOOLEAN_KEYS: Final = (
    "swelling",
    "bleeding",
    "fever",
    "difficulty_swallowing",
    "difficulty_breathing",
    "history_changed",
)
TEXT_LIMITS: Final = {"area": 200, "notes": 2000}
PROBLEM_KEY: Final = "problem"
"""new | established | post_op_check: is this a new problem, one already looked at, or a
check after treatment (picks D0140 / D0170 / D0171)."""
KEYS: Final = frozenset({"pain", "procedure_date", PROBLEM_KEY, *BOOLEAN_KEYS, *TEXT_LIMITS})

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0", ""})


def _boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise Invalid(f"'{key}' is yes or no (true or false).", code="invalid_questionnaire")


def _pain(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        raise Invalid("'pain' is a whole number from 0 to 10.", code="invalid_questionnaire")
    return value


def _procedure_date(value: Any, today: date | None) -> str:
    try:
        day = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        raise Invalid("'procedure_date' is a date like 2026-11-20.", code="invalid_questionnaire")
    if today is not None and day > today:
        raise Invalid(N_("The procedure date cannot be in the future."),
                      code="invalid_questionnaire")
    return day.isoformat()


def _problem(value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in set(ProblemStatus):
        raise Invalid("'problem' is new, established or post_op_check.",
                      code="invalid_questionnaire")
    return str(text)


def problem_of(kind: CaseKind | str, answers: Mapping[str, Any]) -> ProblemStatus:
    """The case's problem status at intake: the patient's answer; without one, a post-op
    check for a post-op case, else a new problem."""
    answer = answers.get(PROBLEM_KEY)
    if answer is not None:
        return ProblemStatus(answer)
    return ProblemStatus.POST_OP_CHECK if kind == CaseKind.POST_OP else ProblemStatus.NEW


def clean_questionnaire(raw: Mapping[str, Any] | None, today: date | None = None) -> dict[str, Any]:
    """The answers with their proper types; empty answers are left out.

    Raises Invalid (code ``invalid_questionnaire``) for an unknown question or a wrong answer.
    """
    if raw is None:
        return {}
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise Invalid(f"Unknown question(s): {', '.join(unknown)}.", code="invalid_questionnaire")
    answers: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if key == "pain":
            answers[key] = _pain(value)
        elif key in BOOLEAN_KEYS:
            answers[key] = _boolean(key, value)
        elif key == "procedure_date":
            answers[key] = _procedure_date(value, today)
        elif key == PROBLEM_KEY:
            answers[key] = _problem(value)
        else:
            if not isinstance(value, str):
                raise Invalid(f"'{key}' is text.", code="invalid_questionnaire")
            text = value.strip()
            if len(text) > TEXT_LIMITS[key]:
                raise Invalid(f"'{key}' is at most {TEXT_LIMITS[key]} characters.",
                              code="invalid_questionnaire")
            answers[key] = text
    return answers
