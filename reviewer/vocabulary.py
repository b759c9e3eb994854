"""The portal's vocabulary, defined once: case kinds, attachment kinds and views, radiograph
kinds with their capture codes, and the CDT codes the code speaks of by name.

Intake accepts exactly :data:`ATTACHMENT_VIEWS`, billing codes a radiograph by the same
entries (:func:`radiograph_kind_by_view`), the pages label them, and the test fixtures seed
through intake, so a view that billing codes but intake refuses cannot exist. The photo views
take photos only, the radiograph views (bitewing, periapical, occlusal, panoramic,
cephalometric) radiographs only, ``other`` either. To add a view, add one
:class:`AttachmentView` to :data:`ATTACHMENT_VIEWS` with the kinds it fits and, for a
radiograph, its :class:`RadiographKind`; then its labels in ``portal/intake/pages.py`` (and,
for a radiograph, ``portal/screening/pages.py``).

Values are ``StrEnum``s or plain strings: they are what the database stores and the JSON API
speaks. Nothing here imports the rest of the portal (``storage`` must not import
``reviewer``; the one value it needs, the default view ``"other"``, is checked against
:data:`DEFAULT_VIEW` by a unit test).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

__all__ = [
    "ANY_KIND",
    "ASSESSMENT_CODE",
    "ASYNC_TELEDENTISTRY",
    "ATTACHMENT_VIEWS",
    "CAPTURE_CODE_BY_KIND",
    "DEFAULT_KIND",
    "DEFAULT_VIEW",
    "ESTABLISHED_PROBLEM_EVALUATION",
    "FLUORIDE_VARNISH",
    "INTERPRETATION_CODE",
    "NEW_PROBLEM_EVALUATION",
    "PHOTO_CAPTURE_CODE",
    "POST_OPERATIVE_EVALUATION",
    "RECORDS_COPY_CODE",
    "SEALANT",
    "SYNC_TELEDENTISTRY",
    "AttachmentKind",
    "AttachmentView",
    "CaseKind",
    "ProblemStatus",
    "RadiographKind",
    "attachment_view",
    "photo_views",
    "radiograph_kind_by_view",
    "radiograph_views",
    "view_names",
]


# --- cases ------------------------------------------------------------------------------------


class CaseKind(StrEnum):
    """Why the case was sent."""

    POST_OP = "post_op"
    EMERGENCY = "emergency"
    QUESTION = "question"
    SCHOOL_SCREENING = "school_screening"


class ProblemStatus(StrEnum):
    """Whether the problem is new to this practice, a known one looked at again, or a check
    after treatment: the patient answers (questionnaire ``problem``), the dentist may correct
    it (``Case.problem``); it picks the evaluation code."""

    NEW = "new"
    """A problem this practice has not evaluated before → D0140."""
    ESTABLISHED = "established"
    """A problem evaluated before, looked at again → D0170."""
    POST_OP_CHECK = "post_op_check"
    """A check after treatment → D0171."""


# --- attachments ------------------------------------------------------------------------------


class AttachmentKind(StrEnum):
    """What a stored picture is: a photo (phone, intraoral camera) or a radiograph."""

    PHOTO = "photo"
    RADIOGRAPH = "radiograph"


ANY_KIND: Final = frozenset(AttachmentKind)


class RadiographKind(StrEnum):
    """The radiograph kinds the image-capture codes distinguish (D0701-D0709)."""

    PANORAMIC = "panoramic"
    CEPHALOMETRIC = "cephalometric"
    EXTRAORAL_POSTERIOR = "extraoral_posterior"
    OCCLUSAL = "occlusal"
    PERIAPICAL = "periapical"
    BITEWING = "bitewing"
    COMPLETE_SERIES = "complete_series"


CAPTURE_CODE_BY_KIND: Mapping[RadiographKind, str] = MappingProxyType(
    {
        RadiographKind.PANORAMIC: "D0701",
        RadiographKind.CEPHALOMETRIC: "D0702",
        RadiographKind.EXTRAORAL_POSTERIOR: "D0705",
        RadiographKind.OCCLUSAL: "D0706",
        RadiographKind.PERIAPICAL: "D0707",
        RadiographKind.BITEWING: "D0708",
        RadiographKind.COMPLETE_SERIES: "D0709",
    }
)
"""Image capture only, by kind. Quantity is the number of images; a complete series is one."""

PHOTO_CAPTURE_CODE: Final = "D0703"
"""2-D oral/facial photographic image, capture only: proposed for intraoral photos taken by
staff on site only where the payer bills it (``PayerProfile.bills_photo_capture``)."""


@dataclass(frozen=True, slots=True)
class AttachmentView:
    """One view an attachment may be labelled with."""

    name: str
    """The stored and spoken value (``Attachment.view``, the upload form's ``view`` field)."""
    kinds: frozenset[AttachmentKind]
    """The attachment kinds intake accepts with this view."""
    radiograph: RadiographKind | None = None
    """How billing codes a radiograph with this view; ``None`` (only ``other``): as a
    periapical (the default of :func:`reviewer.billing.facts`)."""

    @property
    def is_photo_view(self) -> bool:
        """Offered on the photo slots of the intake and screening pages."""
        return AttachmentKind.PHOTO in self.kinds and self.name != DEFAULT_VIEW

    @property
    def is_radiograph_view(self) -> bool:
        """Offered on the X-ray slots of the intake and screening pages."""
        return self.radiograph is not None


DEFAULT_VIEW: Final = "other"
DEFAULT_KIND: Final = AttachmentKind.PHOTO
PHOTO_ONLY: Final = frozenset({AttachmentKind.PHOTO})
RADIOGRAPH_ONLY: Final = frozenset({AttachmentKind.RADIOGRAPH})

ATTACHMENT_VIEWS: Final[tuple[AttachmentView, ...]] = (
    # The photo views: photos only (an occlusal X-ray is the radiograph view "occlusal").
    AttachmentView("upper_occlusal", PHOTO_ONLY),
    AttachmentView("lower_occlusal", PHOTO_ONLY),
    AttachmentView("anterior", PHOTO_ONLY),
    AttachmentView("left", PHOTO_ONLY),
    AttachmentView("right", PHOTO_ONLY),
    # The radiograph views, each with the kind its capture code names.
    AttachmentView("bitewing", RADIOGRAPH_ONLY, RadiographKind.BITEWING),
    AttachmentView("periapical", RADIOGRAPH_ONLY, RadiographKind.PERIAPICAL),
    AttachmentView("occlusal", RADIOGRAPH_ONLY, RadiographKind.OCCLUSAL),
    AttachmentView("panoramic", RADIOGRAPH_ONLY, RadiographKind.PANORAMIC),
    AttachmentView("cephalometric", RADIOGRAPH_ONLY, RadiographKind.CEPHALOMETRIC),
    # Either kind: the sore spot close up, an X-ray whose kind nobody said (a periapical).
    AttachmentView(DEFAULT_VIEW, ANY_KIND),
)
"""Every view intake accepts, in the order the forms list them."""

_BY_NAME: Final[Mapping[str, AttachmentView]] = MappingProxyType(
    {view.name: view for view in ATTACHMENT_VIEWS}
)


def view_names() -> tuple[str, ...]:
    """The names of :data:`ATTACHMENT_VIEWS`, in order."""
    return tuple(view.name for view in ATTACHMENT_VIEWS)


def photo_views() -> tuple[str, ...]:
    """The views a photo slot offers (every photo view but the catch-all ``other``)."""
    return tuple(view.name for view in ATTACHMENT_VIEWS if view.is_photo_view)


def radiograph_views() -> tuple[str, ...]:
    """The views an X-ray slot offers (those that name a radiograph kind)."""
    return tuple(view.name for view in ATTACHMENT_VIEWS if view.is_radiograph_view)


def attachment_view(name: str) -> AttachmentView | None:
    """The view called ``name``, or ``None`` when intake does not know it."""
    return _BY_NAME.get(name)


def radiograph_kind_by_view() -> Mapping[str, RadiographKind]:
    """View name → radiograph kind, for the views that name one (only intake's views)."""
    return MappingProxyType(
        {view.name: view.radiograph for view in ATTACHMENT_VIEWS if view.radiograph is not None}
    )


# --- CDT codes spoken of by name (the catalog, reviewer/coding/catalog.json, has them all) ----

NEW_PROBLEM_EVALUATION: Final = "D0140"
"""Limited evaluation, problem focused: a problem this practice has not evaluated before."""
ESTABLISHED_PROBLEM_EVALUATION: Final = "D0170"
"""Re-evaluation, limited, problem focused: an established problem looked at again."""
POST_OPERATIVE_EVALUATION: Final = "D0171"
"""Re-evaluation, post-operative office visit."""
ASSESSMENT_CODE: Final = "D0191"
"""A (hygienist's) assessment: counts as the diagnostic service beside a teledentistry code."""
INTERPRETATION_CODE: Final = "D0391"
"""Reading images someone else took, with a report."""
FLUORIDE_VARNISH: Final = "D1206"
SEALANT: Final = "D1351"
"""Sealant, per tooth."""
RECORDS_COPY_CODE: Final = "D9961"
"""Duplicate/copy of patient records (the records desk's fee)."""
ASYNC_TELEDENTISTRY: Final = "D9996"
"""Teledentistry, asynchronous (store and forward)."""
SYNC_TELEDENTISTRY: Final = "D9995"
"""Teledentistry, synchronous (a live session)."""
