"""The consent forms the portal asks for: their current version and plain-language text.

Data, not code: to change a text, add a new version below (never edit a published one) and
make it current. A patient who accepted an older version is asked again, because a consent
counts only for the version that is current (``reviewer.intake.consents``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from reviewer.errors import NotFound

__all__ = [
    "FORMS",
    "INFORMATION_SHARING",
    "RECORDS_RELEASE",
    "TELEDENTISTRY",
    "ConsentForm",
    "current_form",
    "form_version",
]

TELEDENTISTRY: Final = "teledentistry"
INFORMATION_SHARING: Final = "information_sharing"
RECORDS_RELEASE: Final = "records_release"


@dataclass(frozen=True, slots=True)
class ConsentForm:
    form: str
    version: int
    title: str
    summary: str
    """One sentence for the page heading."""
    paragraphs: tuple[str, ...]
    """The text the person accepts, in plain language, one paragraph each."""

    disclosure: str = ""
    """The store-and-forward disclosure (California: the patient may ask for a live
    consultation instead), one of ``paragraphs``; the record prints it with the consent."""

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


_TELEDENTISTRY_DISCLOSURE: Final = (
    "This is a store-and-forward review: the dentist looks at what you send later, not while "
    "you are connected. At any time you may ask for a live consultation (video or in person) "
    "instead, and the practice will arrange it."
)
"""Version 2's store-and-forward disclosure: as California requires, a patient of an
asynchronous review is told they may ask for a live (synchronous) consultation instead."""

_TELEDENTISTRY_COMMON: Final = (
    "You send photos, X-rays and answers through Toothline. A dentist licensed "
    "in your state looks at them later — usually within a few hours to three days "
    "— and writes back. This is not a live video visit and nobody watches as you "
    "send them.",
    "Photos cannot show everything. The dentist may ask for more photos, or tell "
    "you that you need to come in for an examination in person. If so, this review "
    "does not replace that visit.",
    "Who sees your images: the reviewing dentist, the practice's clinical staff, "
    "and the billing staff who send the claim to your dental plan. We never show "
    "them to anyone else without your written permission, except where the law "
    "requires it.",
    "What it costs: the practice tells you the fee before the review, and what "
    "your dental plan is expected to pay. You will not be charged for anything "
    "you were not told about first.",
)
"""The paragraphs versions 1 and 2 of the teledentistry consent share, word for word (a
published version's text never changes: tests/unit pins each version's text hash)."""

_VERSIONS: dict[str, tuple[ConsentForm, ...]] = {
    TELEDENTISTRY: (
        ConsentForm(
            form=TELEDENTISTRY,
            version=1,
            title="Consent to teledentistry",
            summary="A dentist looks at your photos and answers later, not in a live call.",
            paragraphs=(
                *_TELEDENTISTRY_COMMON,
                "You may ask for a live visit (a video call or an appointment in the office) "
                "instead at any time, and you may withdraw this consent by telling the "
                "practice. Withdrawing does not affect reviews already done.",
                "In an emergency — swelling with fever, bleeding that does not stop, trouble "
                "swallowing or breathing — do not wait for a reply: call the practice or "
                "emergency services (911) at once.",
            ),
        ),
        ConsentForm(
            form=TELEDENTISTRY,
            version=2,
            title="Consent to teledentistry",
            summary="A dentist looks at your photos and answers later, not in a live call.",
            paragraphs=(
                *_TELEDENTISTRY_COMMON,
                _TELEDENTISTRY_DISCLOSURE,
                "You may withdraw this consent at any time by telling the practice. "
                "Withdrawing does not affect reviews already done.",
                "In an emergency — swelling with fever, bleeding that does not stop, trouble "
                "swallowing or breathing — do not wait for a reply: call the practice or "
                "emergency services (911) at once.",
            ),
            disclosure=_TELEDENTISTRY_DISCLOSURE,
        ),
    ),
    INFORMATION_SHARING: (
        ConsentForm(
            form=INFORMATION_SHARING,
            version=1,
            title="Consent to share information",
            summary="The practice may share your dental records with the people who treat you.",
            paragraphs=(
                "The practice may share your dental records — photos, X-rays, the dentist's "
                "findings and advice — with the dentists and specialists you are referred to, "
                "and with your school's dental program when you were screened there.",
                "Only what is needed for your care is shared. Every time someone opens your "
                "records it is logged.",
                "You may withdraw this consent at any time by telling the practice; records "
                "already shared cannot be called back.",
            ),
        ),
    ),
    RECORDS_RELEASE: (
        ConsentForm(
            form=RECORDS_RELEASE,
            version=1,
            title="Authorization to release records",
            summary="Copies of your records go to the person or office you name.",
            paragraphs=(
                "You ask the practice to send copies of your dental records to the person or "
                "office you name in your request.",
                "The practice checks who you are before it sends anything, tells you any fee "
                "first, and sends the copies within 30 days.",
                "This authorization ends once the copies are sent. You may cancel it before "
                "then by telling the practice.",
            ),
        ),
    ),
}

FORMS: Final = MappingProxyType({name: versions[-1] for name, versions in _VERSIONS.items()})
"""The current version of each form, by name."""


def current_form(form: str) -> ConsentForm:
    """The current version of ``form``; :class:`NotFound` for an unknown form name."""
    try:
        return FORMS[form]
    except KeyError:
        raise NotFound(f"There is no consent form called {form!r}.", code="unknown_form") from None


def form_version(form: str, version: int) -> ConsentForm:
    """A published version of ``form`` (current or older)."""
    for published in _VERSIONS.get(form, ()):
        if published.version == version:
            return published
    raise NotFound(f"Version {version} of the {form} form does not exist.", code="unknown_form")
