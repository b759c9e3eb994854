"""The results letter PDF: texts per urgency, English and Spanish (accents read back), one
page per child."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace

import pytest
from pypdf import PdfReader

from portal.i18n import translations
from reviewer.screening.letters import Letter, letter_language
from reviewer.screening.letters_pdf import render_letters

MOMENT = dt.datetime(2026, 12, 4, 17, 0, tzinfo=dt.UTC)
LETTER = Letter(
    language="en", school="Lincoln Elementary", event_date=dt.date(2026, 12, 3),
    child_name="Zoë Nguyễn", guardian_name="Ana Peña", caries_experience=True,
    untreated_decay=True, sealants_present=False, urgency="urgent",
    services=("D1206", "D1351"), organization="Smiles Program", phone="555-0100",
    address="1 Main St, Fresno, CA 93701", find_dentist="Medi-Cal dentists: 1-800-322-6384",
)


def _pages(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


def test_english_letter_says_findings_urgency_services_and_where_to_go() -> None:
    (text,) = _pages(render_letters([LETTER], translations, MOMENT))
    for expected in (
        "School dental screening results", "Lincoln Elementary", "December 3, 2026",
        "Dear Ana Peña,", "Zoë Nguyễn had a dental screening",
        "signs of tooth decay (cavities) that have not been treated",
        "What to do: Urgent care needed", "within the next few days",
        "Fluoride varnish", "Sealants: a thin protective coating",
        "Smiles Program can help you find one", "Phone: 555-0100",
        "Address: 1 Main St, Fresno, CA 93701", "Medi-Cal dentists: 1-800-322-6384",
    ):
        assert expected in text, expected


def test_spanish_letter_reads_back_with_accents() -> None:
    letter = replace(LETTER, language="es", urgency="early", untreated_decay=False,
                     sealants_present=True, services=())
    (text,) = _pages(render_letters([letter], translations, MOMENT))
    for expected in (
        "Resultados del examen dental escolar", "3 de diciembre de 2026",
        "Estimado/a Ana Peña:", "Zoë Nguyễn tuvo un examen dental en Lincoln Elementary",
        "Vimos empastes u otras señales de caries anteriores",
        "ya tiene selladores", "Qué hacer: Necesita atención dental pronto",
        "en las próximas semanas", "Hoy no se dio ningún tratamiento en la escuela.",
        "¿No tiene dentista? Smiles Program le puede ayudar", "Teléfono: 555-0100",
        "Dirección: 1 Main St",
    ):
        assert expected in text, expected
    assert "School dental screening" not in text


@pytest.mark.parametrize(("urgency", "name", "when"), [
    ("none", "No obvious problem", "at the next routine visit"),
    ("early", "Early dental care needed", "within the next few weeks"),
    ("urgent", "Urgent care needed", "within the next few days"),
])
def test_each_urgency_says_what_to_do_and_by_when(urgency: str, name: str, when: str) -> None:
    (text,) = _pages(render_letters([replace(LETTER, urgency=urgency)], translations, MOMENT))
    assert f"What to do: {name}" in text and when in text


def test_no_decay_and_no_service_are_said_plainly() -> None:
    letter = replace(LETTER, caries_experience=False, untreated_decay=False, urgency="none",
                     services=(), guardian_name="", phone="", address="", find_dentist="")
    (text,) = _pages(render_letters([letter], translations, MOMENT))
    assert "We did not see any tooth decay." in text
    assert "No treatment was given at school today." in text
    assert "Dear parent or guardian," in text and "Phone:" not in text


def test_a_class_pdf_has_one_page_per_child_each_in_its_language() -> None:
    letters = [replace(LETTER, child_name=f"Child {n}", language="es" if n % 2 else "en")
               for n in range(5)]
    pages = _pages(render_letters(letters, translations, MOMENT))
    assert len(pages) == 5
    for n, text in enumerate(pages):
        assert f"Child {n}" in text
        title = "Resultados del examen" if n % 2 else "School dental screening results"
        assert title in text


def test_letter_language_defaults_to_english() -> None:
    assert [letter_language(v) for v in ("es", "en", None, "fr")] == ["es", "en", "en", "en"]
