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


PUBLISHED_TEXT_SHA256 = {
    ("teledentistry", 1): "7f18bc5f110bf20cc7617d6ef0211606b49c886ef216729a0a7eb9b2e00a9d0a",
    ("teledentistry", 2): "0463093e020d2372f4d6813885abe1b375feae5ab691745e2e185e34d2bd9b8d",
    ("information_sharing", 1):
        "2bfdca27ece7c8730dcbf44cedb95732b11d47e5ccb8bd6110f81d4793a5b5c8",
    ("records_release", 1): "5d8075d5ee6eadab053b259b72a8657d142583317bfd32af9419614659af001b",
}

PUBLISHED_TRANSLATION_SHA256 = {
    ("teledentistry", 2, "es"):
        "86b478023253eaaf39eeb66259b42bd5f5c30c75e6cd4b5729085ab175300047",
    ("information_sharing", 1, "es"):
        "406b98988762b15b6eb6801e14a1160aa6e09521a5df1c8b9dcc89dea2ac7f91",
    ("records_release", 1, "es"):
        "06db546da4820a0f3f268885b38157ae85e4f1d985f5c2267d17e071e8a9424b",
}


def test_a_published_consent_text_never_changes() -> None:
    """Patients accepted these exact words: a change is a new version, never an edit (add
    the new version's hash here when you publish one)."""
    import hashlib

    from reviewer.consent_forms import form_version

    for (form, version), digest in PUBLISHED_TEXT_SHA256.items():
        text = form_version(form, version).text
        assert hashlib.sha256(text.encode()).hexdigest() == digest, (form, version)


def test_a_published_translation_never_changes_and_every_current_form_has_one() -> None:
    """A translation is a published text of its own: pinned like a version (add its hash
    when you publish one). Every current form can be read in Spanish."""
    import hashlib

    from reviewer.consent_forms import languages_of

    for (form, version, language), digest in PUBLISHED_TRANSLATION_SHA256.items():
        translated = form_version(form, version, language)
        assert translated.language == language and translated.version == version
        assert hashlib.sha256(translated.text.encode()).hexdigest() == digest, (form, language)
    for name, form in FORMS.items():
        assert languages_of(name, form.version) == ("en", "es")
        spanish = current_form(name, "es")
        assert spanish.language == "es" and spanish.title != form.title
        assert len(spanish.paragraphs) == len(form.paragraphs)
        assert bool(spanish.disclosure) == bool(form.disclosure)
        assert spanish.disclosure in spanish.paragraphs if spanish.disclosure else True
    # an old version without a translation is shown in English; an unknown language too
    assert form_version("teledentistry", 1, "es").language == "en"
    assert current_form("teledentistry", "fr").language == "en"
