"""Payer profiles: place of service, accepted codes, limits, as data (reviewer.coding.payer)."""

from __future__ import annotations

import dataclasses

import pytest

from reviewer.cases.enums import OriginatingSite
from reviewer.coding.payer import (
    DEFAULT_PROFILE,
    PayerProfile,
    PlaceOfServiceRule,
    ProfileError,
)


def test_default_profile_values() -> None:
    p = DEFAULT_PROFILE
    assert p.place_of_service_rule is PlaceOfServiceRule.TELEHEALTH
    assert p.accepted_evaluation_codes == {"D0140", "D0170", "D0171"}
    assert p.allows_school_screening_evaluation
    assert p.bills_case_management_codes
    assert p.case_management_codes == {"D9991", "D9992", "D9997"}
    assert p.narrative_limit == 2000
    assert p.attachment_max_files == 10
    assert p.attachment_max_bytes == 5_000_000
    assert p.attachment_formats == {"image/jpeg", "image/png", "image/tiff", "application/pdf"}
    assert not p.wants_separate_images
    assert p.problems() == []
    hash(p)  # frozen and hashable


def test_profile_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_PROFILE.narrative_limit = 10  # type: ignore[misc]


@pytest.mark.parametrize(
    ("site", "pos"),
    [
        (OriginatingSite.HOME, "10"),
        (OriginatingSite.SCHOOL, "02"),
        (OriginatingSite.OFFICE, "02"),
        (OriginatingSite.OTHER, "02"),
    ],
)
def test_telehealth_place_of_service(site: OriginatingSite, pos: str) -> None:
    assert DEFAULT_PROFILE.place_of_service(site) == pos
    assert DEFAULT_PROFILE.place_of_service(str(site)) == pos


@pytest.mark.parametrize(
    ("site", "pos"),
    [
        (OriginatingSite.HOME, "12"),
        (OriginatingSite.SCHOOL, "03"),
        (OriginatingSite.OFFICE, "11"),
        (OriginatingSite.OTHER, "99"),
    ],
)
def test_originating_site_place_of_service(site: OriginatingSite, pos: str) -> None:
    profile = PayerProfile(
        name="Site payer", place_of_service_rule=PlaceOfServiceRule.ORIGINATING_SITE
    )
    assert profile.place_of_service(site) == pos


def test_evaluation_codes_and_the_d0120_warning() -> None:
    assert DEFAULT_PROFILE.accepts_evaluation_code("D0140")
    assert not DEFAULT_PROFILE.accepts_evaluation_code("D0120")
    assert DEFAULT_PROFILE.evaluation_code_warning("D0120") is None
    lenient = PayerProfile(
        name="Program", accepted_evaluation_codes=frozenset({"D0120", "D0140", "D0150"})
    )
    assert lenient.accepts_evaluation_code("D0120")
    warning = lenient.evaluation_code_warning("D0120")
    assert warning is not None and "periodic" in warning
    assert lenient.evaluation_code_warning("D0150") is None


def test_case_management_billing_switches() -> None:
    assert DEFAULT_PROFILE.bills_case_management("D9992")
    assert not DEFAULT_PROFILE.bills_case_management("D9993")
    off = PayerProfile(name="No CM", bills_case_management_codes=False)
    assert not off.bills_case_management("D9992")
    program = PayerProfile(
        name="MI program",
        case_management_codes=frozenset({"D9991", "D9992", "D9993", "D9994", "D9997"}),
    )
    assert program.bills_case_management("D9994")


def test_attachment_formats() -> None:
    assert DEFAULT_PROFILE.attachment_format_accepted("image/tiff")
    assert not DEFAULT_PROFILE.attachment_format_accepted("image/heic")


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"name": " "}, "needs a name"),
        ({"accepted_evaluation_codes": frozenset({"D9996"})}, "not evaluation codes"),
        ({"case_management_codes": frozenset({"D0140"})}, "not case-management codes"),
        ({"narrative_limit": 0}, "narrative limit"),
        ({"attachment_max_files": -1}, "file count"),
        ({"attachment_max_bytes": 0}, "attachment size"),
        ({"attachment_formats": frozenset({"image/heic"})}, "not supported"),
        ({"attachment_formats": frozenset()}, "at least one"),
        ({"case_management_place_of_service": "office"}, "two-digit"),
        (
            {"originating_site_codes": ((OriginatingSite.HOME, "12"),)},
            "no place-of-service code",
        ),
        (
            {
                "originating_site_codes": (
                    (OriginatingSite.HOME, "12"),
                    (OriginatingSite.SCHOOL, "3"),
                    (OriginatingSite.OFFICE, "11"),
                    (OriginatingSite.OTHER, "99"),
                )
            },
            "two-digit",
        ),
    ],
)
def test_unusable_profiles_are_refused(changes: dict[str, object], why: str) -> None:
    with pytest.raises(ProfileError, match=why):
        dataclasses.replace(DEFAULT_PROFILE, **changes)  # type: ignore[arg-type]


def test_profile_round_trips_as_data() -> None:
    profile = PayerProfile(
        name="State Medicaid",
        place_of_service_rule=PlaceOfServiceRule.ORIGINATING_SITE,
        accepted_evaluation_codes=frozenset({"D0120", "D0140"}),
        allows_school_screening_evaluation=False,
        wants_separate_images=True,
    )
    data = profile.as_dict()
    assert data["originating_site_codes"] == {
        "home": "12",
        "school": "03",
        "office": "11",
        "other": "99",
    }
    assert data["accepted_evaluation_codes"] == ["D0120", "D0140"]
    assert PayerProfile.from_dict(data) == profile
    assert PayerProfile.from_dict({}) == DEFAULT_PROFILE


def test_from_dict_overrides_part_of_the_site_table() -> None:
    profile = PayerProfile.from_dict(
        {"place_of_service_rule": "originating_site", "originating_site_codes": {"other": "15"}}
    )
    assert profile.place_of_service(OriginatingSite.OTHER) == "15"
    assert profile.place_of_service(OriginatingSite.SCHOOL) == "03"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"colour": "blue"}, "unknown payer profile field"),
        ({"place_of_service_rule": "psychic"}, "does not fit"),
        ({"originating_site_codes": {"moon": "01"}}, "does not fit"),
        ({"accepted_evaluation_codes": "D0140"}, "list of strings"),
        ({"accepted_evaluation_codes": ["D0999"]}, "not evaluation codes"),
        ({"wants_separate_images": "yes"}, "true or false"),
        ({"name": 5}, "must be text"),
        ({"narrative_limit": "2000"}, "narrative limit"),
    ],
)
def test_from_dict_refuses_bad_data(data: dict[str, object], why: str) -> None:
    with pytest.raises(ProfileError, match=why):
        PayerProfile.from_dict(data)
