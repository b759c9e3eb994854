"""School screening results letters: one letter to the guardian of each screened child, one
PDF per class (the children of one grade at an event), in each guardian's language.

The letter says what the hygienist found in plain words (decay, sealants already there), the
treatment urgency with what to do and by when, the services delivered that day (fluoride
varnish, sealants) and how to find a dentist. It is built from the child's findings
(``Case.screening``, see :mod:`reviewer.screening.findings`), never from free text.

``reviewer`` does not know the portal's catalogs: the caller passes ``translations``, a function
from a language code (``en``/``es``) to an object with ``gettext`` (the portal gives
``portal.i18n.translations``). The texts live in :mod:`reviewer.screening.letters_pdf`, marked
with ``N_`` so Babel extracts them. Rendering is CPU work: it runs in a worker thread, never
on the event loop. Printing is audited with the children whose letters were printed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import NotFound
from reviewer.screening.children import Child, load_children
from reviewer.screening.events import get_event
from reviewer.screening.letters_pdf import Translator, render_letters
from reviewer.screening.progress import ChildState
from storage.audit import AuditContext, record_event
from storage.models import Organization, Role, ScreeningEvent

__all__ = [
    "LETTER_PRINTERS",
    "NO_CLASS",
    "Letter",
    "class_letters_pdf",
    "letter_classes",
    "letter_for",
    "letter_language",
]

LETTER_PRINTERS = frozenset({Role.HYGIENIST, Role.COORDINATOR})
"""The hygienists and coordinators of the program print the letters (docs/access.md)."""
NO_CLASS = ""
"""The class of the children the roster gave no grade."""
LANGUAGES = ("en", "es")


@dataclass(frozen=True, slots=True)
class Letter:
    """What one results letter says (PHI: it goes only to the child's guardian)."""

    language: str
    school: str
    event_date: date
    child_name: str
    guardian_name: str
    caries_experience: bool
    untreated_decay: bool
    sealants_present: bool
    urgency: str
    """The BSS treatment urgency: ``none``, ``early`` or ``urgent``."""
    services: tuple[str, ...]
    """The CDT codes delivered at school, each once, in the order recorded."""
    organization: str
    phone: str
    address: str
    find_dentist: str = ""
    """The program's own line on finding a dentist (a clinic list, a help line)."""


def letter_language(preferred: str | None) -> str:
    """The guardian's language (the roster's ``language`` column); English otherwise."""
    return preferred if preferred in LANGUAGES else "en"


def _address(org: Organization) -> str:
    place = " ".join(part for part in (org.state, org.postal_code) if part)
    return ", ".join(part for part in (org.address_line, org.city, place) if part)


def letter_for(child: Child, event: ScreeningEvent, org: Organization,
               find_dentist: str = "") -> Letter:
    """The letter of one screened child (its findings must be recorded)."""
    f = child.findings
    codes: list[str] = []
    for service in f.get("services") or ():
        code = str(service.get("code", ""))
        if code and code not in codes:
            codes.append(code)
    patient = child.patient
    return Letter(
        language=letter_language(patient.preferred_language),
        school=event.site,
        event_date=event.event_date,
        child_name=f"{patient.first_name} {patient.last_name}".strip(),
        guardian_name=patient.guardian_name or "",
        caries_experience=bool(f.get("caries_experience")),
        untreated_decay=bool(f.get("untreated_decay")),
        sealants_present=bool(f.get("sealants_present")),
        urgency=str(f.get("treatment_urgency") or "none"),
        services=tuple(codes),
        organization=org.name,
        phone=org.phone,
        address=_address(org),
        find_dentist=find_dentist,
    )


def _screened(child: Child) -> bool:
    return child.state not in {ChildState.PENDING, ChildState.NOT_SCREENED} and bool(
        child.findings
    )


def letter_classes(children: Sequence[Child]) -> list[str]:
    """The classes (grades) with at least one screened child: one letters PDF each."""
    return sorted({child.patient.grade or NO_CLASS for child in children if _screened(child)})


def _in_class(child: Child, class_name: str) -> bool:
    return (child.patient.grade or NO_CLASS) == class_name


async def class_letters_pdf(
    db: AsyncSession, actor: Actor, ctx: AuditContext, event_id: uuid.UUID, class_name: str,
    translations: Callable[[str], Translator], *, find_dentist: str = "",
) -> tuple[ScreeningEvent, bytes]:
    """The letters of every screened child of one class of the event, one per page, as one
    PDF (NotFound when the class has no screened child). Audited with the children's ids."""
    event = await get_event(db, actor, event_id, LETTER_PRINTERS)
    org = await db.get_one(Organization, event.organization_id)
    children = [c for c in await load_children(db, event)
                if _screened(c) and _in_class(c, class_name.strip())]
    if not children:
        raise NotFound("No screened child in this class.")
    letters: Sequence[Letter] = [letter_for(c, event, org, find_dentist) for c in children]
    pdf = await anyio.to_thread.run_sync(
        render_letters, letters, translations, datetime.now(UTC)
    )
    await record_event(
        db, "screening_letters.printed", ctx, organization_id=event.organization_id,
        subject_type="screening_event", subject_id=event.id,
        details={"class": class_name.strip(),
                 "patient_ids": [str(c.patient.id) for c in children],
                 "languages": sorted({letter.language for letter in letters})},
    )
    return event, pdf
