"""Universal numbering, surfaces and the age rule (reviewer.coding.teeth)."""

from __future__ import annotations

import pytest

from reviewer.coding.teeth import (
    PERMANENT_TEETH,
    PRIMARY_TEETH,
    Dentition,
    InvalidSurfaces,
    InvalidTooth,
    Region,
    dentition_of,
    is_valid_tooth,
    normalize_surfaces,
    normalize_tooth,
    region_of,
    surface_names,
    surfaces_refusal,
    tooth_age_refusal,
    tooth_refusal,
    tooth_valid_for_age,
)


def test_the_two_dentitions() -> None:
    assert tuple(str(n) for n in range(1, 33)) == PERMANENT_TEETH
    assert tuple("ABCDEFGHIJKLMNOPQRST") == PRIMARY_TEETH
    assert all(dentition_of(t) is Dentition.PERMANENT for t in PERMANENT_TEETH)
    assert all(dentition_of(t) is Dentition.PRIMARY for t in PRIMARY_TEETH)


@pytest.mark.parametrize("tooth", ["1", "8", "16", "17", "32", "A", "J", "K", "T"])
def test_valid_teeth(tooth: str) -> None:
    assert is_valid_tooth(tooth)
    assert tooth_refusal(tooth) is None


@pytest.mark.parametrize("tooth", ["0", "33", "-1", "U", "Z", "a", "03", " 3", "", "3.0", "AB"])
def test_invalid_teeth_say_why(tooth: str) -> None:
    assert not is_valid_tooth(tooth)
    reason = tooth_refusal(tooth)
    assert reason is not None and "Universal numbering" in reason


@pytest.mark.parametrize(("raw", "tooth"), [(" 03 ", "3"), ("k", "K"), ("32", "32"), ("t ", "T")])
def test_normalize_tooth(raw: str, tooth: str) -> None:
    assert normalize_tooth(raw) == tooth


@pytest.mark.parametrize("raw", ["0", "33", "u", "", "x1"])
def test_normalize_tooth_refuses(raw: str) -> None:
    with pytest.raises(InvalidTooth) as caught:
        normalize_tooth(raw)
    assert caught.value.code == "invalid_tooth"


def test_dentition_of_refuses_a_non_tooth() -> None:
    with pytest.raises(InvalidTooth):
        dentition_of("40")


@pytest.mark.parametrize(
    ("tooth", "region"),
    [
        ("1", Region.POSTERIOR),
        ("5", Region.POSTERIOR),
        ("6", Region.ANTERIOR),
        ("11", Region.ANTERIOR),
        ("12", Region.POSTERIOR),
        ("21", Region.POSTERIOR),
        ("22", Region.ANTERIOR),
        ("27", Region.ANTERIOR),
        ("28", Region.POSTERIOR),
        ("A", Region.POSTERIOR),
        ("B", Region.POSTERIOR),
        ("C", Region.ANTERIOR),
        ("H", Region.ANTERIOR),
        ("I", Region.POSTERIOR),
        ("L", Region.POSTERIOR),
        ("M", Region.ANTERIOR),
        ("R", Region.ANTERIOR),
        ("S", Region.POSTERIOR),
    ],
)
def test_region_of(tooth: str, region: Region) -> None:
    assert region_of(tooth) is region


# --- age: primary A-T up to 13, permanent 1-32 from 5, both in between --------------------


@pytest.mark.parametrize(
    ("age", "primary_ok", "permanent_ok"),
    [
        (0, True, False),
        (4, True, False),
        (5, True, True),
        (9, True, True),
        (13, True, True),
        (14, False, True),
        (40, False, True),
    ],
)
def test_tooth_valid_for_age_boundaries(age: int, primary_ok: bool, permanent_ok: bool) -> None:
    assert tooth_valid_for_age("A", age) is primary_ok
    assert tooth_valid_for_age("T", age) is primary_ok
    assert tooth_valid_for_age("1", age) is permanent_ok
    assert tooth_valid_for_age("32", age) is permanent_ok


def test_age_refusals_say_why() -> None:
    too_young = tooth_age_refusal("19", 4)
    assert too_young is not None and "from age 5" in too_young and "aged 4" in too_young
    too_old = tooth_age_refusal("K", 14)
    assert too_old is not None and "up to age 13" in too_old and "aged 14" in too_old
    assert tooth_age_refusal("19", 5) is None
    assert tooth_age_refusal("K", 13) is None


def test_age_rule_refuses_non_teeth_and_negative_ages() -> None:
    assert not tooth_valid_for_age("33", 30)
    with pytest.raises(ValueError, match="negative"):
        tooth_valid_for_age("3", -1)


# --- surfaces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("surfaces", "tooth"),
    [
        ("M", None),
        ("MOD", "3"),
        ("MODBL", "30"),
        ("DI", "8"),
        ("F", "8"),
        ("MIFL", "E"),
        ("O", "A"),
    ],
)
def test_valid_surfaces(surfaces: str, tooth: str | None) -> None:
    assert surfaces_refusal(surfaces, tooth) is None


@pytest.mark.parametrize(
    ("surfaces", "tooth", "why"),
    [
        ("", None, "no surface"),
        ("MX", None, "not a surface"),
        ("mod", None, "not a surface"),
        ("MOM", None, "twice"),
        ("MBF", None, "same side"),
        ("OI", None, "not both"),
        ("MO", "8", "front tooth"),
        ("I", "30", "back tooth"),
        ("DO", "E", "front tooth"),
    ],
)
def test_invalid_surfaces_say_why(surfaces: str, tooth: str | None, why: str) -> None:
    reason = surfaces_refusal(surfaces, tooth)
    assert reason is not None and why in reason


def test_normalize_surfaces() -> None:
    assert normalize_surfaces(" dom ") == "MOD"
    assert normalize_surfaces("lb", "3") == "BL"
    with pytest.raises(InvalidSurfaces) as caught:
        normalize_surfaces("MM")
    assert caught.value.code == "invalid_surfaces"


def test_surface_names() -> None:
    assert surface_names("MOD") == ("mesial", "occlusal", "distal")
