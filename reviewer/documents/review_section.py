"""The record's "Review" section: which images the signing dentist opened and when, why any
was not opened, and the review's span (first view to signature).

Everything printed here was stored on the evaluation at signing (``image_review``,
``review_started_at``, ``review_ended_at``; see :mod:`reviewer.evaluation.image_review`):
the record never reads the view log again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from reviewer import labels
from reviewer.documents.model import AsyncRecord, GatheredItem


class _Doc(Protocol):
    def section(self, heading: str) -> None: ...
    def field(self, label: str, value: str) -> None: ...
    def paragraph(self, text: str) -> None: ...
    def small(self, text: str) -> None: ...


def _moment(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def review_of_item(entry: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``GatheredItem`` fields for one stored ``image_review`` entry (none: not listed)."""
    if entry is None:
        return {}
    return {
        "reviewed_at": _moment(entry.get("opened_at")),
        "not_reviewed_reason": str(entry.get("reason") or ""),
        "review_listed": True,
    }


def item_review_text(item: GatheredItem, moment: Any) -> str:
    """``opened 2026-11-21 14:02 PST`` / ``not opened: duplicate`` / ``not recorded``."""
    if item.reviewed_at is not None:
        return f"opened {moment(item.reviewed_at)}"
    if item.not_reviewed_reason:
        return f"not opened: {item.not_reviewed_reason}"
    return "not recorded"


def review_lines(record: AsyncRecord, moment: Any) -> list[tuple[str, str]]:
    """The section's lines: ``("", text)`` for a sentence, ``(label, value)`` for an image;
    ``moment`` formats an instant for the practice."""
    items: Sequence[GatheredItem] = record.items
    if record.review_ended_at is None:
        return [("", "Review not recorded (signed before image reviews were recorded).")]
    opened = sum(1 for i in items if i.reviewed_at is not None)
    out = [("", f"Images reviewed: {opened} of {len(items)}")]
    for index, item in enumerate(items, start=1):
        kind = labels.label(item.kind, "attachment_kind")
        view = labels.label(item.view, "view") if item.view else "view not given"
        out.append((
            f"{index}. {kind}",
            f"{view}; teeth: {item.teeth or 'not given'}; {item_review_text(item, moment)}",
        ))
    out.append((
        "",
        f"Review started {moment(record.review_started_at)}, ended "
        f"{moment(record.review_ended_at)} (first view to signature).",
    ))
    return out


def review_section(doc: _Doc, record: AsyncRecord, moment: Any) -> None:
    """Print the "Review" section on ``doc`` (the record PDF and the claim attachment)."""
    doc.section("Review")
    for label, value in review_lines(record, moment):
        if label:
            doc.field(label, value)
        else:
            doc.paragraph(value)
