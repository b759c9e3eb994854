"""Review that really happened, pure: which images block signing, what signing stores, the
hashed part, and the record's "Review" lines (incl. records signed before reviews existed)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import uuid
from typing import Any

import pytest
from pypdf import PdfReader

from reviewer.documents.pdf import format_moment, render_async_record
from reviewer.documents.review_section import review_lines, review_of_item
from reviewer.evaluation.image_review import (
    ImageCheck,
    ImagesNotReviewed,
    clean_reasons,
    hashed_review,
    settle_review,
)
from storage.models import Attachment
from tests.unit.documents.test_package import record

NOW = dt.datetime(2026, 11, 21, 22, 10, tzinfo=dt.UTC)
TZ = "America/Los_Angeles"


def _check(opened: dt.datetime | None) -> ImageCheck:
    return ImageCheck(Attachment(id=uuid.uuid4(), kind="photo", view="left", teeth=""), opened)


def test_unopened_without_reason_blocks_and_lists_the_ids():
    checks = [_check(NOW - dt.timedelta(minutes=8)), _check(None), _check(None)]
    with pytest.raises(ImagesNotReviewed) as refused:
        settle_review(checks, {checks[1].id: "   "}, NOW)
    assert refused.value.code == "images_not_reviewed"
    assert refused.value.attachment_ids == [checks[1].id, checks[2].id]
    assert refused.value.body_extra == {"attachment_ids": [checks[1].id, checks[2].id]}


def test_reasons_settle_and_the_span_runs_from_the_first_opening():
    first, later = NOW - dt.timedelta(minutes=12), NOW - dt.timedelta(minutes=3)
    checks = [_check(later), _check(first), _check(None)]
    settled = settle_review(
        checks, {checks[2].id.upper(): " duplicate  of image 1 ", checks[0].id: "ignored"}, NOW)
    assert settled.started_at == first and settled.ended_at == NOW
    assert settled.items == [
        {"attachment_id": checks[0].id, "opened_at": later.isoformat(), "reason": None},
        {"attachment_id": checks[1].id, "opened_at": first.isoformat(), "reason": None},
        {"attachment_id": checks[2].id, "opened_at": None, "reason": "duplicate of image 1"},
    ]
    assert settled.waived == [checks[2].id]


def test_no_opening_at_all_starts_the_review_at_the_signature():
    check = _check(None)
    settled = settle_review([check], {check.id: "unreadable"}, NOW)
    assert settled.started_at == settled.ended_at == NOW
    empty = settle_review([], None, NOW)  # a case without images signs as before
    assert empty.items == [] and empty.started_at == NOW


def test_reasons_are_cut_and_blank_ones_dropped():
    assert clean_reasons({"A": "x" * 900, "b": " ", "c": ""}) == {"a": "x" * 500}
    assert clean_reasons(None) == {}


def test_hashed_part_is_empty_for_evaluations_signed_before_reviews():
    assert hashed_review(None, None, None) == {}
    items: list[dict[str, Any]] = [{"attachment_id": "a", "opened_at": None, "reason": "dup"}]
    assert hashed_review(items, NOW, NOW) == {
        "image_review": items, "review_started_at": NOW.isoformat(),
        "review_ended_at": NOW.isoformat()}


def _text(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf))
                                        .pages))


def test_the_record_prints_the_review():
    base = record(images=2)
    opened = NOW - dt.timedelta(minutes=9)
    items = (
        dataclasses.replace(base.items[0], **review_of_item(
            {"attachment_id": "att-0", "opened_at": opened.isoformat(), "reason": None})),
        dataclasses.replace(base.items[1], **review_of_item(
            {"attachment_id": "att-1", "opened_at": None, "reason": "duplicate of image 1"})),
    )
    reviewed = dataclasses.replace(base, items=items, review_started_at=opened,
                                   review_ended_at=NOW)
    text = _text(render_async_record(reviewed))
    assert "Images reviewed: 1 of 2" in text
    assert (f"1. Radiograph Periapical; teeth: 3; opened {format_moment(opened, TZ)}") in text
    assert "2. Photo Periapical; teeth: 3; not opened: duplicate of image 1" in text
    assert (f"Review started {format_moment(opened, TZ)}, ended {format_moment(NOW, TZ)} "
            "(first view to signature).") in text


def test_a_record_signed_before_reviews_says_so():
    lines = review_lines(record(images=1), lambda m: str(m))
    assert lines == [("", "Review not recorded (signed before image reviews were recorded).")]
    assert review_of_item(None) == {}
