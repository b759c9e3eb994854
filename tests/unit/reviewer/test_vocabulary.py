"""The one vocabulary: what billing codes, intake accepts; what the pages label, exists."""

from __future__ import annotations

import pytest

from portal.intake.pages import VIEW_HINTS
from portal.intake.pages import XRAY_VIEWS as INTAKE_XRAY_VIEWS
from portal.screening.pages import PHOTO_VIEWS, XRAY_VIEWS
from reviewer import vocabulary
from reviewer.billing.facts import RADIOGRAPH_KIND_BY_VIEW
from reviewer.coding.catalog import IMAGE_CAPTURE_CODES, is_known_code
from reviewer.errors import Invalid
from reviewer.intake.attachments import KINDS, VIEWS, attachment_meta
from reviewer.vocabulary import (
    ATTACHMENT_VIEWS,
    CAPTURE_CODE_BY_KIND,
    DEFAULT_VIEW,
    AttachmentKind,
    RadiographKind,
)
from storage.models import Attachment


def test_every_view_billing_codes_is_a_view_intake_accepts_for_a_radiograph() -> None:
    assert set(RADIOGRAPH_KIND_BY_VIEW) <= set(VIEWS)
    for name in RADIOGRAPH_KIND_BY_VIEW:
        meta = attachment_meta(AttachmentKind.RADIOGRAPH, name, None)
        assert meta.view == name


def test_intake_accepts_exactly_the_vocabulary() -> None:
    assert tuple(view.name for view in ATTACHMENT_VIEWS) == VIEWS
    assert set(KINDS) == set(AttachmentKind)
    for view in ATTACHMENT_VIEWS:
        for kind in view.kinds:
            assert attachment_meta(kind, view.name, "3").view == view.name


@pytest.mark.parametrize("view", ["front", "fmx", "ceph", "pano"])
def test_a_view_outside_the_vocabulary_is_refused(view: str) -> None:
    with pytest.raises(Invalid) as refused:
        attachment_meta("radiograph", view, None)
    assert refused.value.code == "invalid_view"


@pytest.mark.parametrize(
    ("kind", "view"),
    [
        ("photo", "bitewing"), ("photo", "periapical"), ("photo", "occlusal"),
        ("photo", "panoramic"), ("photo", "cephalometric"),
        ("radiograph", "upper_occlusal"), ("radiograph", "anterior"), ("radiograph", "left"),
    ],
)
def test_a_view_of_the_other_kind_is_refused(kind: str, view: str) -> None:
    with pytest.raises(Invalid) as refused:
        attachment_meta(kind, view, None)
    assert refused.value.code == "invalid_view"
    assert view not in refused.value.message.split(": ", 1)[1].rstrip(".").split(", ")


@pytest.mark.parametrize(
    ("view", "code"),
    [
        ("bitewing", "D0708"), ("periapical", "D0707"), ("occlusal", "D0706"),
        ("panoramic", "D0701"), ("cephalometric", "D0702"), ("other", None),
    ],
)
def test_each_radiograph_view_names_its_capture_code(view: str, code: str | None) -> None:
    assert attachment_meta("radiograph", view, None).view == view
    kind = RADIOGRAPH_KIND_BY_VIEW.get(view)
    assert (CAPTURE_CODE_BY_KIND[kind] if kind else None) == code


def test_the_x_ray_slots_offer_every_radiograph_view() -> None:
    assert tuple(XRAY_VIEWS) == vocabulary.radiograph_views() == tuple(INTAKE_XRAY_VIEWS)
    assert set(vocabulary.radiograph_views()) == set(RADIOGRAPH_KIND_BY_VIEW)
    assert not set(vocabulary.radiograph_views()) & set(vocabulary.photo_views())


def test_view_names_are_unique_and_the_default_is_one_of_them() -> None:
    names = [view.name for view in ATTACHMENT_VIEWS]
    assert len(names) == len(set(names))
    assert DEFAULT_VIEW in names
    column_default = Attachment.__table__.c.view.default
    assert column_default is not None and column_default.arg == DEFAULT_VIEW


def test_every_radiograph_kind_has_a_capture_code_in_the_catalog() -> None:
    assert set(CAPTURE_CODE_BY_KIND) == set(RadiographKind)
    assert set(CAPTURE_CODE_BY_KIND.values()) == IMAGE_CAPTURE_CODES
    assert all(is_known_code(code) for code in IMAGE_CAPTURE_CODES)


def test_a_view_that_names_a_radiograph_kind_takes_radiographs() -> None:
    for view in ATTACHMENT_VIEWS:
        if view.radiograph is not None:
            assert AttachmentKind.RADIOGRAPH in view.kinds, view.name


def test_every_named_code_is_in_the_catalog() -> None:
    named = [
        value for name, value in vars(vocabulary).items()
        if name.isupper() and isinstance(value, str) and value.startswith("D")
    ]
    assert len(named) >= 10
    assert all(is_known_code(code) for code in named), named


def test_the_pages_label_every_view_they_offer() -> None:
    assert set(VIEW_HINTS) == set(VIEWS)
    assert tuple(PHOTO_VIEWS) == vocabulary.photo_views()
