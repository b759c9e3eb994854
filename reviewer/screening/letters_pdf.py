"""The results letters as a PDF: one page per child, each in its guardian's language. Pure.

Every text a guardian reads is marked with ``N_`` (Babel extracts it into the catalogs; the
Spanish is in ``portal/locale/es/LC_MESSAGES/messages.po``) and translated through the
``translations`` function the caller passes. Placeholders are ``{name}`` (``str.format``), so
a translation may move them. The embedded Unicode font of the documents
(``reviewer.documents.pdf``) renders á é í ó ú ñ ¿ ¡ and pypdf reads them back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, Protocol

from babel.dates import format_date
from fpdf import FPDF

from reviewer.documents.pdf import plain_document
from reviewer.i18n import N_
from reviewer.vocabulary import FLUORIDE_VARNISH, SEALANT

if TYPE_CHECKING:
    from reviewer.screening.letters import Letter

__all__ = ["SERVICE_TEXTS", "URGENCY_TEXTS", "Translator", "letter_paragraphs", "render_letters"]

FONT: Final = "toothline"
TITLE: Final = N_("School dental screening results")

URGENCY_TEXTS: Final = {
    "none": (
        N_("No obvious problem"),
        N_("We did not see a problem that needs care soon. Take your child to a dentist for a "
           "check-up at the next routine visit (about every six months)."),
    ),
    "early": (
        N_("Early dental care needed"),
        N_("Your child needs to see a dentist soon. Please make an appointment with a dentist "
           "within the next few weeks."),
    ),
    "urgent": (
        N_("Urgent care needed"),
        N_("Your child needs dental care now. Please take your child to a dentist within the "
           "next few days. If your child has pain, swelling or fever, call a dentist today."),
    ),
}
"""BSS treatment urgency → (its name, what to do and by when)."""

SERVICE_TEXTS: Final = {
    FLUORIDE_VARNISH: N_("Fluoride varnish, which helps protect teeth from decay."),
    "D1208": N_("A fluoride treatment, which helps protect teeth from decay."),
    SEALANT: N_("Sealants: a thin protective coating on the chewing surfaces of back teeth."),
    "D0191": N_("A dental screening by a dental hygienist."),
}


class Translator(Protocol):
    def gettext(self, message: str, /) -> str: ...


def _found(letter: Letter, t: Translator) -> list[str]:
    found: list[str] = []
    if letter.untreated_decay:
        found.append(t.gettext(N_("We saw signs of tooth decay (cavities) that have not been "
                                  "treated.")))
    elif letter.caries_experience:
        found.append(t.gettext(N_("We saw fillings or other signs of past tooth decay. We did "
                                  "not see untreated decay.")))
    else:
        found.append(t.gettext(N_("We did not see any tooth decay.")))
    if letter.sealants_present:
        found.append(t.gettext(N_("Your child already has sealants (a protective coating) on "
                                  "some back teeth.")))
    return found


def _services(letter: Letter, t: Translator) -> list[str]:
    texts = [t.gettext(SERVICE_TEXTS[code]) for code in letter.services if code in SERVICE_TEXTS]
    return texts or [t.gettext(N_("No treatment was given at school today."))]


def _find_dentist(letter: Letter, t: Translator) -> list[str]:
    lines = [
        t.gettext(N_("If you do not have a dentist, {organization} can help you find one."))
        .format(organization=letter.organization)
    ]
    if letter.phone:
        lines.append(t.gettext(N_("Phone: {phone}")).format(phone=letter.phone))
    if letter.address:
        lines.append(t.gettext(N_("Address: {address}")).format(address=letter.address))
    if letter.find_dentist:
        lines.append(letter.find_dentist)
    return lines


def letter_paragraphs(letter: Letter, t: Translator) -> list[tuple[str, list[str]]]:
    """The letter as (heading, paragraphs) pairs, in reading order; the first heading is the
    title. Shared by the PDF and the tests."""
    when = format_date(letter.event_date, format="long", locale=letter.language)
    name, todo = URGENCY_TEXTS.get(letter.urgency, URGENCY_TEXTS["none"])
    greeting = (
        t.gettext(N_("Dear {guardian},")).format(guardian=letter.guardian_name)
        if letter.guardian_name else t.gettext(N_("Dear parent or guardian,"))
    )
    intro = t.gettext(N_(
        "On {date}, {child} had a dental screening at {school}. A screening is not a full "
        "dental exam: it looks for problems that can be seen."
    )).format(date=when, child=letter.child_name, school=letter.school)
    return [
        (t.gettext(TITLE), [f"{letter.school} · {when}", greeting, intro]),
        (t.gettext(N_("What we found")), _found(letter, t)),
        (t.gettext(N_("What to do: {urgency}")).format(urgency=t.gettext(name)),
         [t.gettext(todo)]),
        (t.gettext(N_("Services your child received today")), _services(letter, t)),
        (t.gettext(N_("How to find a dentist")), _find_dentist(letter, t)),
    ]


def _page(doc: FPDF, sections: list[tuple[str, list[str]]]) -> None:
    (title, opening), *rest = sections
    doc.set_font(FONT, size=16)
    doc.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    doc.set_font(FONT, size=11)
    for text in opening:
        doc.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
        doc.ln(1.5)
    for heading, paragraphs in rest:
        doc.ln(2)
        doc.set_font(FONT, size=13)
        doc.multi_cell(0, 7, heading, new_x="LMARGIN", new_y="NEXT")
        doc.set_font(FONT, size=11)
        for text in paragraphs:
            doc.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")


def render_letters(
    letters: Sequence[Letter], translations: Callable[[str], Translator], moment: dt.datetime
) -> bytes:
    """One page per letter, in the letters' order (the class list's)."""
    if not letters:
        raise ValueError("No letter to print.")
    doc = plain_document(TITLE, letters[0].organization, moment)
    doc.set_auto_page_break(auto=False)
    for index, letter in enumerate(letters):
        if index:
            doc.add_page()
        _page(doc, letter_paragraphs(letter, translations(letter.language)))
    return bytes(doc.output())
