"""The CDT catalog is data, loads from the package, and holds every code the rules use."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from reviewer.coding import case_management, rules
from reviewer.coding.catalog import (
    ASSESSMENT_CODE,
    CASE_MANAGEMENT_CODES,
    EVALUATION_CODES,
    IMAGE_CAPTURE_CODES,
    ONSITE_HYGIENIST_CODES,
    RECORDS_COPY_CODE,
    TELEDENTISTRY_CODES,
    CatalogError,
    CodeCategory,
    UnknownCode,
    all_codes,
    get_code,
    is_known_code,
    load_catalog,
    parse_catalog,
)
from reviewer.coding.payer import (
    DEFAULT_ACCEPTED_EVALUATION_CODES,
    DEFAULT_CASE_MANAGEMENT_CODES,
)
from reviewer.coding.teeth import Dentition, Region

PRODUCT_CODES = {
    "D0120", "D0140", "D0150", "D0170", "D0171", "D0180", "D0191", "D0391",
    "D0705", "D0706", "D0707", "D0708", "D0709", "D1206", "D1208", "D1351",
    "D9961", "D9991", "D9992", "D9993", "D9994", "D9995", "D9996", "D9997",
}  # fmt: skip
RECOMMENDED_CODES = {
    "D1110", "D2140", "D2150", "D2160", "D2330", "D2391", "D2392", "D2740",
    "D3310", "D3220", "D4341", "D4355", "D7140", "D7210", "D8080", "D0210",
    "D0220", "D0272", "D0274", "D0330", "D2930", "D2931", "D3230", "D9110",
}  # fmt: skip


def test_catalog_loads_from_package_data() -> None:
    raw = resources.files("reviewer.coding").joinpath("catalog.json").read_text("utf-8")
    data = json.loads(raw)
    catalog = load_catalog()
    assert catalog.version == data["cdt_version"] == "CDT 2026"
    assert len(catalog) == len(data["codes"])
    assert load_catalog() is catalog  # cached


def test_catalog_holds_the_products_codes() -> None:
    codes = {c.code for c in all_codes()}
    assert codes >= PRODUCT_CODES | RECOMMENDED_CODES


def test_every_code_the_rules_reference_exists() -> None:
    referenced = (
        rules.referenced_codes()
        | set(rules.CAPTURE_CODE_BY_KIND.values())
        | EVALUATION_CODES
        | TELEDENTISTRY_CODES
        | IMAGE_CAPTURE_CODES
        | ONSITE_HYGIENIST_CODES
        | CASE_MANAGEMENT_CODES
        | {ASSESSMENT_CODE, RECORDS_COPY_CODE}
        | DEFAULT_ACCEPTED_EVALUATION_CODES
        | DEFAULT_CASE_MANAGEMENT_CODES
        | set(case_management.CODE_FOR_KIND.values())
        | set(case_management.CODE_RULES)
    )
    missing = sorted(code for code in referenced if not is_known_code(code))
    assert missing == []


def test_case_management_rules_cover_every_case_management_code() -> None:
    assert set(case_management.CODE_RULES) == CASE_MANAGEMENT_CODES
    assert set(case_management.CODE_FOR_KIND.values()) == CASE_MANAGEMENT_CODES


@pytest.mark.parametrize("entry", all_codes(), ids=lambda e: e.code)
def test_every_entry_is_complete(entry: object) -> None:
    from reviewer.coding.catalog import CdtCode

    assert isinstance(entry, CdtCode)
    assert entry.cdt_version == "CDT 2026"
    assert 10 <= len(entry.descriptor) <= 120
    assert isinstance(entry.category, CodeCategory)
    if entry.needs_surface:
        assert entry.needs_tooth
    assert entry.as_dict()["code"] == entry.code


def test_categories_and_tooth_needs_of_key_codes() -> None:
    assert get_code("D9996").category is CodeCategory.TELEDENTISTRY
    assert get_code("D9995").category is CodeCategory.TELEDENTISTRY
    assert get_code("D9997").category is CodeCategory.CASE_MANAGEMENT
    assert get_code("D0171").category is CodeCategory.DIAGNOSTIC
    assert get_code("D1351").needs_tooth and not get_code("D1351").needs_surface
    assert not get_code("D1206").needs_tooth
    d2150 = get_code("D2150")
    assert d2150.needs_tooth and d2150.needs_surface and d2150.surface_count == 2
    assert get_code("D2930").dentition is Dentition.PRIMARY
    assert get_code("D2931").dentition is Dentition.PERMANENT
    assert get_code("D2330").region is Region.ANTERIOR
    assert get_code("D7140").is_treatment and not get_code("D0140").is_treatment
    assert {c.code for c in load_catalog().in_category("teledentistry")} == TELEDENTISTRY_CODES


def test_descriptors_are_our_own_words_not_the_nomenclature() -> None:
    # The ADA's own nomenclature for these is well known; ours must not reproduce it.
    ada_nomenclature = {
        "D9996": "teledentistry - asynchronous; information stored and forwarded to dentist "
        "for subsequent review",
        "D9995": "teledentistry - synchronous; real-time encounter",
        "D0140": "limited oral evaluation - problem focused",
        "D0171": "re-evaluation - post-operative office visit",
        "D1206": "topical application of fluoride varnish",
    }
    for code, text in ada_nomenclature.items():
        assert get_code(code).descriptor.casefold() != text.casefold()


def test_unknown_code() -> None:
    with pytest.raises(UnknownCode) as caught:
        get_code("D9999")
    assert caught.value.code == "unknown_code"
    assert isinstance(caught.value, LookupError)
    assert "D9999" in caught.value.message
    assert not is_known_code("D9999")
    assert "D9999" not in load_catalog()


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"codes": []},
        {"cdt_version": "CDT 2026"},
        {"cdt_version": "CDT 2026", "codes": [{"code": "X1"}]},
        {
            "cdt_version": "CDT 2026",
            "codes": [
                {
                    "code": "D0140",
                    "descriptor": "x" * 20,
                    "category": "diagnostic",
                    "needs_tooth": False,
                    "needs_surface": False,
                }
            ]
            * 2,
        },
        {
            "cdt_version": "CDT 2026",
            "codes": [
                {
                    "code": "D0140",
                    "descriptor": "x" * 20,
                    "category": "magic",
                    "needs_tooth": False,
                    "needs_surface": False,
                }
            ],
        },
        {
            "cdt_version": "CDT 2026",
            "codes": [
                {
                    "code": "D2150",
                    "descriptor": "x" * 20,
                    "category": "restorative",
                    "needs_tooth": False,
                    "needs_surface": True,
                }
            ],
        },
    ],
)
def test_malformed_catalogs_are_refused(data: object) -> None:
    with pytest.raises(CatalogError):
        parse_catalog(data)
