"""The questionnaire's answers and the consent form data. Pure."""

from __future__ import annotations

from datetime import date

import pytest

from reviewer.cases.state import Urgency, questionnaire_urgency
from reviewer.consent_forms import FORMS, current_form, form_version
from reviewer.errors import Invalid, NotFound
from reviewer.intake.questionnaire import clean_questionnaire


def test_answers_get_their_types_and_empty_ones_are_dropped():
    answers = clean_questionnaire(
        {"pain": "7", "fever": "yes", "swelling": True, "bleeding": "no", "area": " lower left ",
         "procedure_date": "2026-11-19", "notes": ""},
        today=date(2026, 11, 25),
    )
    assert answers == {"pain": 7, "fever": True, "swelling": True, "bleeding": False,
                       "area": "lower left", "procedure_date": "2026-11-19"}
    assert questionnaire_urgency(answers) is Urgency.URGENT


@pytest.mark.parametrize(
    "raw",
    [{"pain": 11}, {"pain": -1}, {"pain": True}, {"fever": "maybe"}, {"mood": "ok"},
     {"procedure_date": "yesterday"}, {"procedure_date": "2030-01-01"}, {"notes": "x" * 2001},
     {"area": 5}],
)
def test_wrong_answers_are_refused(raw: dict[str, object]):
    with pytest.raises(Invalid):
        clean_questionnaire(raw, today=date(2026, 11, 25))


def test_every_form_has_a_current_version_and_plain_text():
    assert set(FORMS) == {"teledentistry", "information_sharing", "records_release"}
    for name, form in FORMS.items():
        assert form.version >= 1 and form.paragraphs and form.title
        assert current_form(name) is form
        assert form_version(name, form.version) is form
    with pytest.raises(NotFound):
        current_form("nope")
    with pytest.raises(NotFound):
        form_version("teledentistry", 99)
