"""Pure records-desk and referral rules, both ways: the state machine, the clock, the fees,
the package index, the referral moves and the no-news reminder."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile

import pytest

from reviewer.records import lifecycle
from reviewer.records.lifecycle import InvalidTransition, transition
from reviewer.records.package import PackageItem, PackageLabel, build_records_package
from reviewer.records.policy import PolicyError, RecordsPolicy, quote_fee
from reviewer.referrals import lifecycle as referral

LA = "America/Los_Angeles"


@pytest.mark.parametrize(("status", "action", "target"), [
    ("received", "verify", "verified"), ("verified", "quote", "fee_quoted"),
    ("fee_quoted", "pay", "paid"), ("fee_quoted", "waive", "waived"),
    ("paid", "prepare", "prepared"), ("waived", "prepare", "prepared"),
    ("prepared", "deliver", "delivered"), ("received", "refuse", "refused"),
    ("prepared", "refuse", "refused"),
])
def test_allowed_moves(status: str, action: str, target: str) -> None:
    assert transition(status, action) == target


@pytest.mark.parametrize(("status", "action"), [
    ("received", "deliver"), ("received", "quote"), ("verified", "prepare"),
    ("fee_quoted", "deliver"), ("paid", "deliver"), ("delivered", "refuse"),
    ("refused", "verify"), ("delivered", "deliver"), ("prepared", "check"),
])
def test_refused_moves(status: str, action: str) -> None:
    with pytest.raises(InvalidTransition) as exc:
        transition(status, action)
    assert exc.value.code == "invalid_transition"


def test_second_check() -> None:
    with pytest.raises(InvalidTransition):
        transition("prepared", "deliver", second_check=True)
    assert transition("prepared", "check", second_check=True) == "checked"
    assert transition("checked", "deliver", second_check=True) == "delivered"
    assert "check" not in lifecycle.allowed_actions("prepared")


def test_clock_across_daylight_saving_and_zones() -> None:
    received = dt.datetime(2026, 3, 8, 6, 0, tzinfo=dt.UTC)  # 22:00 PST on March 7
    assert lifecycle.due_on(received, LA) == dt.date(2026, 4, 6)
    assert lifecycle.due_on(received, "America/New_York") == dt.date(2026, 4, 7)
    end = lifecycle.deadline(dt.date(2026, 4, 6), LA)
    assert end == dt.datetime(2026, 4, 7, 7, 0, tzinfo=dt.UTC)  # midnight PDT
    assert not lifecycle.is_overdue("verified", dt.date(2026, 4, 6), None, LA,
                                    end - dt.timedelta(microseconds=1))
    assert lifecycle.is_overdue("verified", dt.date(2026, 4, 6), None, LA, end)
    assert not lifecycle.is_overdue("delivered", dt.date(2026, 4, 6), None, LA, end)
    assert lifecycle.extended_due_on(dt.date(2026, 4, 6)) == dt.date(2026, 5, 6)
    assert lifecycle.can_extend("received", dt.date(2026, 4, 6), None, LA, received) is None
    assert lifecycle.can_extend("received", dt.date(2026, 4, 6), dt.date(2026, 5, 6), LA,
                                received)
    assert lifecycle.can_extend("received", dt.date(2026, 4, 6), None, LA, end)
    assert lifecycle.can_extend("refused", dt.date(2026, 4, 6), None, LA, received)


def test_fees() -> None:
    flat = RecordsPolicy()
    assert quote_fee(flat, "patient", "electronic", 9).cents == 650
    assert quote_fee(flat, "representative", "electronic", 9).cents == 650
    assert quote_fee(flat, "provider", "electronic", 9).cents == 0
    assert quote_fee(flat, "patient", "electronic", 9, own_use=True).cents == 0
    paper = quote_fee(flat, "patient", "paper", 3)
    assert paper.cents == 3 * 100 + 6 * 10 + 150 and "cost-based" in paper.basis
    assert quote_fee(RecordsPolicy.from_dict({"fee_method": "none"}), "payer", "paper", 3).cents \
        == 0
    third = RecordsPolicy.from_dict({"third_party_fee_cents": 2500})
    assert quote_fee(third, "legal", "electronic", 3).cents == 2500
    assert quote_fee(third, "patient", "electronic", 3).cents == 650
    lower = RecordsPolicy.from_dict({"flat_electronic_fee_cents": 300})
    assert quote_fee(lower, "patient", "electronic", 3).cents == 300
    with pytest.raises(PolicyError):
        RecordsPolicy.from_dict({"flat_electronic_fee_cents": 651})
    with pytest.raises(PolicyError):
        RecordsPolicy.from_dict({"fee": 1})
    with pytest.raises(PolicyError):
        RecordsPolicy.from_dict({"link_uses": 0})


def test_package_index_matches_files() -> None:
    label = PackageLabel(
        organization="Demo Dental Clinic", organization_address="100 Main Street",
        time_zone=LA, request_id="r-1", patient_name="Zoë Nguyễn 李雷",
        patient_date_of_birth=dt.date(2017, 3, 2), requester="patient", requester_name="Zoë",
        received_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        prepared_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC), scope="all records",
        format="electronic",
    )
    items = [PackageItem("cases/01/a.jpg", "photo", "image/jpeg", b"\xff\xd8jpeg", "c1"),
             PackageItem("cases/01/D9996-record.pdf", "record", "application/pdf", b"%PDF-x",
                         "c1")]
    built = build_records_package(label, items)
    again = build_records_package(label, items)
    assert built.zip_bytes == again.zip_bytes
    with zipfile.ZipFile(io.BytesIO(built.zip_bytes)) as archive:
        names = archive.namelist()
        index = json.loads(archive.read("index.json"))
        assert names[0] == "cover-sheet.pdf" and names[-1] == "index.json"
        assert [f["name"] for f in index["files"]] == names[:-1]
        for entry in index["files"]:
            assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"]
    with pytest.raises(ValueError):
        build_records_package(label, [*items, items[0]])


def test_referral_moves_and_reminder() -> None:
    assert referral.transition("sent", "scheduled") == "scheduled"
    assert referral.transition("seen", "report_received") == "report_received"
    assert referral.transition("lost_to_follow_up", "seen") == "seen"
    for current, target in (("report_received", "sent"), ("closed", "seen"),
                            ("sent", "unknown")):
        with pytest.raises(referral.InvalidReferralTransition):
            referral.transition(current, target)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert not referral.needs_news("sent", "urgent", start, start + dt.timedelta(days=2))
    assert referral.needs_news("sent", "urgent", start, start + dt.timedelta(days=3))
    assert not referral.needs_news("sent", "routine", start, start + dt.timedelta(days=13))
    assert referral.needs_news("scheduled", "routine", start, start + dt.timedelta(days=14))
    assert not referral.needs_news("report_received", "urgent", start,
                                   start + dt.timedelta(days=30))
