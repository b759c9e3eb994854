"""reviewer.labels: every stored value has a label people can read, and the pages' ``label``
and ``local_time`` filters print labels and the organization's time with its zone."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from jinja2 import Environment

from portal.accounts.current_user import CurrentUser, OrgRef
from portal.rendering import FILTERS
from reviewer.billing.status import BillingStatus
from reviewer.cases.enums import CaseStatus, OriginatingSite, Urgency
from reviewer.coding.claim_model import EncounterType, ProviderRole, Rule
from reviewer.evaluation.draft import TOOTH_CONDITIONS
from reviewer.labels import GROUPS, label
from reviewer.records.lifecycle import RecordsAction, RecordsStatus
from reviewer.records.policy import Format, Requester
from reviewer.records.request import RECEIVED_VIA
from reviewer.vocabulary import AttachmentKind, CaseKind, view_names
from storage.models.user import Role

COVERED = {
    "case_kind": set(CaseKind),
    "case_status": set(CaseStatus),
    "urgency": set(Urgency),
    "site": set(OriginatingSite),
    "encounter_type": set(EncounterType),
    "billing_status": set(BillingStatus.ALL),
    "role": set(Role),
    "provider_role": set(ProviderRole),
    "attachment_kind": set(AttachmentKind),
    "view": set(view_names()),
    "records_status": set(RecordsStatus),
    "records_action": set(RecordsAction),
    "requester": set(Requester),
    "received_via": set(RECEIVED_VIA),
    "records_format": set(Format),
    "rule": set(Rule),
    "tooth_condition": set(TOOTH_CONDITIONS),
}


@pytest.mark.parametrize("group", sorted(COVERED))
def test_every_stored_value_has_a_label(group: str):
    assert {str(v) for v in COVERED[group]} <= set(GROUPS[group])
    for value, text in GROUPS[group].items():
        assert text and "_" not in text and text != value, (group, value, text)


def test_examples_from_the_issue():
    assert label("post_op", "case_kind") == "Post-operative check"
    assert label("healing_normal", "tooth_condition") == "Healing normally"
    assert label("asynchronous", "encounter_type") == "Asynchronous review"
    assert label("nothing_to_bill", "billing_status") == "Nothing to bill"
    assert label("front_desk", "role") == "Front desk"
    assert label("teledentistry_once_per_day", "rule") == "Teledentistry once per patient per day"


def test_unknown_values_read_as_words_and_empty_as_a_dash():
    assert label("some_new_value", "case_status") == "Some new value"
    assert label(None, "urgency") == "—" and label("", "urgency") == "—"
    assert label(CaseKind.EMERGENCY, "case_kind") == "Emergency"  # enum members too
    with pytest.raises(KeyError):
        label("x", "no_such_group")


def _render(source: str, **context: object) -> str:
    env = Environment(autoescape=True)
    env.filters.update(FILTERS)
    return env.from_string(source).render(**context)


def _user(time_zone: str) -> CurrentUser:
    org = OrgRef(uuid.uuid4(), "Clinic", time_zone)
    return CurrentUser(uuid.uuid4(), "a@b.test", "front_desk", "A", (org,))


WINTER = dt.datetime(2026, 11, 21, 17, 30, tzinfo=dt.UTC)


def test_local_time_in_the_signed_in_users_organization():
    out = _render("{{ t|local_time }}", t=WINTER, current_user=_user("America/New_York"))
    assert out == "2026-11-21 12:30 EST"


def test_local_time_prefers_an_explicit_zone_then_the_pages_tz():
    user = _user("America/New_York")
    assert _render("{{ t|local_time('Europe/Berlin') }}", t=WINTER, current_user=user,
                   tz="America/Los_Angeles") == "2026-11-21 18:30 CET"
    assert _render("{{ t|local_time }}", t=WINTER, current_user=user,
                   tz="America/Los_Angeles") == "2026-11-21 09:30 PST"


def test_local_time_reads_iso_text_naive_as_utc_and_takes_a_format():
    user = _user("America/Los_Angeles")
    assert _render("{{ t|local_time }}", t=WINTER.isoformat(), current_user=user) \
        == "2026-11-21 09:30 PST"
    naive = WINTER.replace(tzinfo=None)
    assert _render("{{ t|local_time(fmt='%H:%M:%S') }}", t=naive, current_user=user) \
        == "09:30:00 PST"
    assert _render("{{ t|local_time }}", t=None, current_user=user) == "—"
    assert _render("{{ t|local_time }}", t=WINTER) == "2026-11-21 17:30 UTC"  # signed out
