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
    "LANGUAGES",
    "RECORDS_RELEASE",
    "TELEDENTISTRY",
    "ConsentForm",
    "current_form",
    "form_version",
    "languages_of",
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

    language: str = "en"
    """The language of this text. A version's translation is a published text of its own
    (pinned by its hash like the English one); accepting it accepts the same version."""

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

_ES_TELEDENTISTRY_2_DISCLOSURE: Final = (
    "Esta es una revisión diferida: el dentista ve lo que usted envía más tarde, no mientras "
    "usted está conectado. En cualquier momento puede pedir en su lugar una consulta en vivo "
    "(por video o en persona), y el consultorio la organizará."
)

_TRANSLATIONS: dict[tuple[str, int], tuple[ConsentForm, ...]] = {
    (TELEDENTISTRY, 2): (
        ConsentForm(
            form=TELEDENTISTRY,
            version=2,
            language="es",
            title="Consentimiento para teleodontología",
            summary="Un dentista revisa sus fotos y respuestas más tarde, no en una llamada en "
                    "vivo.",
            paragraphs=(
                "Usted envía fotos, radiografías y respuestas por medio de Toothline. Un "
                "dentista con licencia en su estado las revisa más tarde —por lo general en un "
                "plazo de unas horas a tres días— y le responde por escrito. Esta no es una "
                "consulta por video en vivo y nadie le observa mientras las envía.",
                "Las fotos no pueden mostrarlo todo. El dentista puede pedirle más fotos, o "
                "decirle que necesita venir a un examen en persona. En ese caso, esta revisión "
                "no reemplaza esa visita.",
                "Quién ve sus imágenes: el dentista que hace la revisión, el personal clínico "
                "del consultorio y el personal de facturación que envía la reclamación a su "
                "plan dental. Nunca se las mostramos a nadie más sin su permiso por escrito, "
                "salvo cuando la ley lo exige.",
                "Cuánto cuesta: el consultorio le informa el costo antes de la revisión y lo "
                "que se espera que pague su plan dental. No se le cobrará nada que no se le "
                "haya informado antes.",
                _ES_TELEDENTISTRY_2_DISCLOSURE,
                "Puede retirar este consentimiento en cualquier momento avisando al "
                "consultorio. Retirarlo no afecta las revisiones ya hechas.",
                "En una emergencia —hinchazón con fiebre, un sangrado que no se detiene, "
                "dificultad para tragar o para respirar— no espere una respuesta: llame de "
                "inmediato al consultorio o a los servicios de emergencia (911).",
            ),
            disclosure=_ES_TELEDENTISTRY_2_DISCLOSURE,
        ),
    ),
    (INFORMATION_SHARING, 1): (
        ConsentForm(
            form=INFORMATION_SHARING,
            version=1,
            language="es",
            title="Consentimiento para compartir información",
            summary="El consultorio puede compartir sus expedientes dentales con quienes le "
                    "atienden.",
            paragraphs=(
                "El consultorio puede compartir sus expedientes dentales —fotos, radiografías, "
                "los hallazgos y consejos del dentista— con los dentistas y especialistas a "
                "quienes se le remita, y con el programa dental de su escuela cuando le "
                "revisaron allí.",
                "Solo se comparte lo necesario para su atención. Cada vez que alguien abre sus "
                "expedientes, queda registrado.",
                "Puede retirar este consentimiento en cualquier momento avisando al "
                "consultorio; los expedientes ya compartidos no se pueden recuperar.",
            ),
        ),
    ),
    (RECORDS_RELEASE, 1): (
        ConsentForm(
            form=RECORDS_RELEASE,
            version=1,
            language="es",
            title="Autorización para entregar expedientes",
            summary="Las copias de sus expedientes van a la persona u oficina que usted "
                    "indique.",
            paragraphs=(
                "Usted pide al consultorio que envíe copias de sus expedientes dentales a la "
                "persona u oficina que indique en su solicitud.",
                "El consultorio verifica su identidad antes de enviar nada, le informa antes "
                "cualquier costo y envía las copias en un plazo de 30 días.",
                "Esta autorización termina una vez enviadas las copias. Puede cancelarla antes "
                "avisando al consultorio.",
            ),
        ),
    ),
}
"""Published translations, by (form, version): each is its own text, pinned by its hash in
tests/unit/intake/test_questionnaire_and_forms.py like every English version. A version
without a translation is shown in English."""

LANGUAGES: Final = ("en", "es")

FORMS: Final = MappingProxyType({name: versions[-1] for name, versions in _VERSIONS.items()})
"""The current version of each form, by name (English)."""


def _translated(published: ConsentForm, language: str) -> ConsentForm:
    for translation in _TRANSLATIONS.get((published.form, published.version), ()):
        if translation.language == language:
            return translation
    return published


def languages_of(form: str, version: int) -> tuple[str, ...]:
    """The languages a published version can be read (and accepted) in, English first."""
    return ("en", *(t.language for t in _TRANSLATIONS.get((form, version), ())))


def current_form(form: str, language: str = "en") -> ConsentForm:
    """The current version of ``form``, in ``language`` where it has that translation (else
    English); :class:`NotFound` for an unknown form name."""
    try:
        published = FORMS[form]
    except KeyError:
        raise NotFound(f"There is no consent form called {form!r}.", code="unknown_form") from None
    return _translated(published, language)


def form_version(form: str, version: int, language: str = "en") -> ConsentForm:
    """A published version of ``form`` (current or older), in ``language`` where it has
    that translation (else English)."""
    for published in _VERSIONS.get(form, ()):
        if published.version == version:
            return _translated(published, language)
    raise NotFound(f"Version {version} of the {form} form does not exist.", code="unknown_form")
