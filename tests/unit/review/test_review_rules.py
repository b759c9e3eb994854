"""Pure parts of the review: the draft's checks, the content hash, the queue cursor, the
submitter's view and the page's time formatting. No database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from portal.review.views import duration, local_time, time_left_text
from reviewer.cases.state import Urgency
from reviewer.clock import age_on
from reviewer.errors import Invalid
from reviewer.evaluation.draft import EvaluationDraft, check, content_sha256
from reviewer.evaluation.services import submitter_view
from reviewer.queue.listing import InvalidCursor, QueueKey
from reviewer.queue.scope import QUEUE_RANK, queue_rank, urgency_of_rank
from storage.models import Evaluation

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_queue_rank_puts_urgent_first() -> None:
    assert [queue_rank(u) for u in ("urgent", "soon", "routine")] == [0, 1, 2]
    assert all(urgency_of_rank(rank) is urgency for urgency, rank in QUEUE_RANK.items())
    assert urgency_of_rank(queue_rank(Urgency.URGENT)) is Urgency.URGENT


def test_cursor_round_trip_and_garbage() -> None:
    key = QueueKey(1, NOW, uuid.uuid4())
    assert QueueKey.decode(key.encode()) == key
    for garbage in ("", "abc", "W1swXQ", QueueKey(0, NOW, uuid.uuid4()).encode()[:-3]):
        with pytest.raises(InvalidCursor):
            QueueKey.decode(garbage)


def test_age() -> None:
    born = datetime(2010, 6, 15).date()
    assert age_on(born, datetime(2026, 6, 14).date()) == 15
    assert age_on(born, datetime(2026, 6, 15).date()) == 16


def test_draft_is_kept_as_typed_and_problems_listed() -> None:
    draft = EvaluationDraft.build(
        teeth_findings=[(" 03 ", "caries"), ("99", "caries"), ("K", "nonsense"), ("", "")],
        procedures=[("d2391", "30", "o"), ("D2391", "8", "O"), ("D9999", None, None),
                    ("D0140", "3", None)],
        referral=("endodontics", ""),
        urgency="whenever",
    )
    assert len(draft.teeth_findings) == 3  # the empty row is dropped
    checked = check(draft, patient_age=30)
    assert checked.draft.teeth_findings[0].tooth == "3"
    assert checked.draft.procedures[0].surfaces == "O" and checked.draft.procedures[0].code == \
        "D2391"
    messages = " | ".join(p.message for p in checked.problems)
    assert "not a tooth" in messages  # 99
    assert "primary tooth K" in messages  # age 30
    assert "choose a condition" in messages
    assert "front tooth" in messages  # occlusal on tooth 8
    assert "D9999" in messages
    assert "not per tooth" in messages  # D0140 with a tooth
    assert "say why you refer" in messages and "urgency is" in messages


def test_draft_refuses_what_cannot_be_stored() -> None:
    with pytest.raises(Invalid):
        EvaluationDraft.build(findings="x" * 20_001)
    with pytest.raises(Invalid):
        EvaluationDraft.build(follow_up_days=-1)
    with pytest.raises(Invalid):
        EvaluationDraft.from_mapping({"teeth_findings": "19"})


def test_content_hash_covers_every_field() -> None:
    columns = EvaluationDraft.build(advice="Rinse.").columns()
    one = content_sha256("c", "d", NOW.isoformat(), columns)
    assert one == content_sha256("c", "d", NOW.isoformat(), dict(columns))
    assert one != content_sha256("c", "d", NOW.isoformat(), {**columns, "advice": "Rinse!"})
    assert one != content_sha256("c", "e", NOW.isoformat(), columns)


def test_submitter_view_hides_internal_notes_and_drafts() -> None:
    evaluation = Evaluation(case_id=uuid.uuid4(), dentist_id=uuid.uuid4(), status="draft",
                            advice="A", internal_notes="secret", diagnosis="dx",
                            procedures=[{"code": "D2391", "tooth": "30", "surfaces": "O"}],
                            referral={"specialty": "endodontics", "reason": "deep caries"},
                            follow_up_days=7, urgency="soon", signed_at=NOW)
    assert submitter_view(evaluation) is None
    evaluation.status = "signed"
    view = submitter_view(evaluation)
    assert view is not None
    body = view.as_dict()
    assert "secret" not in str(body) and "internal_notes" not in body and "dx" not in str(body)
    assert body["next_steps"][0]["description"]
    assert body["referral"]["specialty_label"] == "Endodontics"


def test_time_words() -> None:
    assert duration(3 * 3600 + 30 * 60) == "3 h 30 min"
    assert duration(50 * 3600) == "2 d 2 h"
    assert time_left_text(-90 * 60) == "overdue by 1 h 30 min"
    assert time_left_text(600) == "10 min left"
    assert local_time(NOW, "America/Los_Angeles") == "Nov 25, 04:00 PST"
    assert local_time(None) == "—"
    assert local_time(NOW + timedelta(hours=1), "Not/AZone").endswith("UTC")
