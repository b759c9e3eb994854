"""The CDT catalog: the codes this portal proposes or validates, as data (``catalog.json``).

The descriptors are our own short summaries, not the ADA's text. The file is package data,
read once through :mod:`importlib.resources` and cached. The codes the rest of the portal
names one by one are constants in :mod:`reviewer.vocabulary` (re-exported here).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from reviewer.coding.teeth import Dentition, Region
from reviewer.errors import Unprocessable
from reviewer.vocabulary import (
    ASSESSMENT_CODE,
    ASYNC_TELEDENTISTRY,
    CAPTURE_CODE_BY_KIND,
    ESTABLISHED_PROBLEM_EVALUATION,
    FLUORIDE_VARNISH,
    INTERPRETATION_CODE,
    NEW_PROBLEM_EVALUATION,
    POST_OPERATIVE_EVALUATION,
    RECORDS_COPY_CODE,
    SEALANT,
    SYNC_TELEDENTISTRY,
)

__all__ = [
    "ASSESSMENT_CODE",
    "ASYNC_TELEDENTISTRY",
    "CASE_MANAGEMENT_CODES",
    "EVALUATION_CODES",
    "IMAGE_CAPTURE_CODES",
    "INTERPRETATION_CODE",
    "ONSITE_HYGIENIST_CODES",
    "RECORDS_COPY_CODE",
    "SYNC_TELEDENTISTRY",
    "TELEDENTISTRY_CODES",
    "TREATMENT_CATEGORIES",
    "Catalog",
    "CatalogError",
    "CdtCode",
    "CodeCategory",
    "UnknownCode",
    "all_codes",
    "get_code",
    "is_known_code",
    "load_catalog",
    "parse_catalog",
]

CATALOG_RESOURCE = "catalog.json"


class CodeCategory(StrEnum):
    DIAGNOSTIC = "diagnostic"
    PREVENTIVE = "preventive"
    RESTORATIVE = "restorative"
    ENDODONTIC = "endodontic"
    PERIODONTIC = "periodontic"
    ORAL_SURGERY = "oral_surgery"
    ORTHODONTIC = "orthodontic"
    ADJUNCTIVE = "adjunctive"
    TELEDENTISTRY = "teledentistry"
    CASE_MANAGEMENT = "case_management"


TREATMENT_CATEGORIES = frozenset(
    {
        CodeCategory.RESTORATIVE,
        CodeCategory.ENDODONTIC,
        CodeCategory.PERIODONTIC,
        CodeCategory.ORAL_SURGERY,
        CodeCategory.ORTHODONTIC,
    }
)
"""Categories of hands-on treatment: recommended by a remote review, never delivered by it."""

# --- code groups the rules speak of (each is checked against the catalog by the tests) -------

EVALUATION_CODES = frozenset({
    "D0120", NEW_PROBLEM_EVALUATION, "D0150", ESTABLISHED_PROBLEM_EVALUATION,
    POST_OPERATIVE_EVALUATION, "D0180",
})
"""A dentist's oral evaluations."""
TELEDENTISTRY_CODES = frozenset({ASYNC_TELEDENTISTRY, SYNC_TELEDENTISTRY})
IMAGE_CAPTURE_CODES = frozenset(CAPTURE_CODE_BY_KIND.values())
ONSITE_HYGIENIST_CODES = frozenset({ASSESSMENT_CODE, FLUORIDE_VARNISH, "D1208", SEALANT})
"""Services a hygienist delivers at the originating site (school, home visit)."""
CASE_MANAGEMENT_CODES = frozenset({"D9991", "D9992", "D9993", "D9994", "D9997"})


class UnknownCode(Unprocessable, LookupError):
    """A code that is not in the catalog (HTTP 422, code ``unknown_code``)."""

    code = "unknown_code"

    def __init__(self, cdt_code: str) -> None:
        self.cdt_code = cdt_code
        super().__init__(f"{cdt_code!r} is not a CDT code this portal knows")


class CatalogError(ValueError):
    """The catalog data is malformed (a packaging or editing mistake)."""


@dataclass(frozen=True, slots=True)
class CdtCode:
    code: str
    descriptor: str
    category: CodeCategory
    needs_tooth: bool
    needs_surface: bool
    cdt_version: str
    surface_count: int | None = None
    """Exactly this many surfaces (a two-surface filling), when the code says so."""
    dentition: Dentition | None = None
    """Only primary or only permanent teeth, when the code says so."""
    region: Region | None = None
    """Only front or only back teeth, when the code says so."""

    @property
    def is_treatment(self) -> bool:
        return self.category in TREATMENT_CATEGORIES

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "descriptor": self.descriptor,
            "category": str(self.category),
            "needs_tooth": self.needs_tooth,
            "needs_surface": self.needs_surface,
            "surface_count": self.surface_count,
            "dentition": None if self.dentition is None else str(self.dentition),
            "region": None if self.region is None else str(self.region),
            "cdt_version": self.cdt_version,
        }


@dataclass(frozen=True)
class Catalog:
    version: str
    codes: Mapping[str, CdtCode]

    def get(self, code: str) -> CdtCode:
        try:
            return self.codes[code]
        except KeyError:
            raise UnknownCode(code) from None

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    def __iter__(self) -> Iterator[CdtCode]:
        return iter(self.codes.values())

    def __len__(self) -> int:
        return len(self.codes)

    def in_category(self, category: CodeCategory | str) -> tuple[CdtCode, ...]:
        wanted = CodeCategory(category)
        return tuple(c for c in self.codes.values() if c.category is wanted)


def _entry(raw: Any, version: str) -> CdtCode:
    if not isinstance(raw, dict):
        raise CatalogError(f"catalog entry {raw!r} is not an object")
    try:
        code = raw["code"]
        descriptor = raw["descriptor"]
        needs_tooth = raw["needs_tooth"]
        needs_surface = raw["needs_surface"]
        category = CodeCategory(raw["category"])
        dentition = None if raw.get("dentition") is None else Dentition(raw["dentition"])
        region = None if raw.get("region") is None else Region(raw["region"])
    except (KeyError, ValueError) as exc:
        raise CatalogError(f"catalog entry {raw!r} is malformed: {exc}") from None
    surface_count = raw.get("surface_count")
    if not (isinstance(code, str) and len(code) == 5 and code[0] == "D" and code[1:].isdigit()):
        raise CatalogError(f"{code!r} is not a CDT code (D and four digits)")
    if not isinstance(descriptor, str) or not descriptor.strip():
        raise CatalogError(f"{code}: descriptor missing")
    if not isinstance(needs_tooth, bool) or not isinstance(needs_surface, bool):
        raise CatalogError(f"{code}: needs_tooth and needs_surface must be true or false")
    if surface_count is not None and (
        isinstance(surface_count, bool) or not isinstance(surface_count, int) or surface_count < 1
    ):
        raise CatalogError(f"{code}: surface_count must be a positive whole number")
    if needs_surface and not needs_tooth:
        raise CatalogError(f"{code}: a code that needs surfaces needs a tooth")
    return CdtCode(
        code=code,
        descriptor=descriptor.strip(),
        category=category,
        needs_tooth=needs_tooth,
        needs_surface=needs_surface,
        cdt_version=version,
        surface_count=surface_count,
        dentition=dentition,
        region=region,
    )


def parse_catalog(data: Any) -> Catalog:
    """Build a :class:`Catalog` from the decoded JSON document (raises :class:`CatalogError`)."""
    if not isinstance(data, dict):
        raise CatalogError("the catalog must be a JSON object")
    version = data.get("cdt_version")
    if not isinstance(version, str) or not version.strip():
        raise CatalogError("the catalog must name its CDT version")
    entries = data.get("codes")
    if not isinstance(entries, list):
        raise CatalogError("the catalog must list its codes")
    codes: dict[str, CdtCode] = {}
    for raw in entries:
        entry = _entry(raw, version)
        if entry.code in codes:
            raise CatalogError(f"{entry.code} appears twice in the catalog")
        codes[entry.code] = entry
    return Catalog(version=version, codes=MappingProxyType(dict(sorted(codes.items()))))


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The packaged catalog, read once."""
    text = resources.files("reviewer.coding").joinpath(CATALOG_RESOURCE).read_text(encoding="utf-8")
    return parse_catalog(json.loads(text))


def get_code(code: str) -> CdtCode:
    """The catalog entry for ``code``; raises :class:`UnknownCode`."""
    return load_catalog().get(code)


def is_known_code(code: str) -> bool:
    return code in load_catalog()


def all_codes() -> tuple[CdtCode, ...]:
    return tuple(load_catalog())
