"""Universal tooth numbering and surfaces. Pure.

* Permanent teeth are ``"1"``-``"32"`` (upper right third molar = 1, round the upper arch to 16,
  down to lower left third molar 17 and round to 32).
* Primary teeth are ``"A"``-``"T"`` (A-J upper, K-T lower).
* Surfaces are letters from ``MODBFLI``: mesial, occlusal, distal, buccal, facial, lingual,
  incisal. Occlusal belongs to back teeth, incisal to front teeth; buccal and facial name the
  same side, so at most one of them.

Functions come in pairs: ``*_refusal`` returns ``None`` when fine or the reason in words, and
a boolean or normalizing helper built on it.
"""

from __future__ import annotations

from enum import StrEnum

from reviewer.errors import Invalid

__all__ = [
    "PERMANENT_FROM_AGE",
    "PERMANENT_TEETH",
    "PRIMARY_TEETH",
    "PRIMARY_UNTIL_AGE",
    "SURFACE_LETTERS",
    "Dentition",
    "InvalidSurfaces",
    "InvalidTooth",
    "Region",
    "dentition_of",
    "is_valid_tooth",
    "normalize_surfaces",
    "normalize_tooth",
    "region_of",
    "surface_names",
    "surfaces_refusal",
    "tooth_age_refusal",
    "tooth_refusal",
    "tooth_valid_for_age",
]

PERMANENT_TEETH: tuple[str, ...] = tuple(str(n) for n in range(1, 33))
PRIMARY_TEETH: tuple[str, ...] = tuple("ABCDEFGHIJKLMNOPQRST")

_PERMANENT_ANTERIOR = frozenset(str(n) for n in (*range(6, 12), *range(22, 28)))
_PRIMARY_ANTERIOR = frozenset("CDEFGHMNOPQR")

SURFACE_LETTERS = "MODBFLI"
_SURFACE_NAMES = {
    "M": "mesial",
    "O": "occlusal",
    "D": "distal",
    "B": "buccal",
    "F": "facial",
    "L": "lingual",
    "I": "incisal",
}

PRIMARY_UNTIL_AGE = 13
"""Primary teeth (A-T) are accepted up to and including this age in years."""
PERMANENT_FROM_AGE = 5
"""Permanent teeth (1-32) are accepted from this age in years."""


class Dentition(StrEnum):
    PRIMARY = "primary"
    PERMANENT = "permanent"


class Region(StrEnum):
    ANTERIOR = "anterior"
    POSTERIOR = "posterior"


class InvalidTooth(Invalid):
    code = "invalid_tooth"


class InvalidSurfaces(Invalid):
    code = "invalid_surfaces"


def tooth_refusal(tooth: str) -> str | None:
    """``None`` for a valid Universal designation (exact: ``"3"``, ``"K"``), else why not."""
    if tooth in PERMANENT_TEETH or tooth in PRIMARY_TEETH:
        return None
    return (
        f"{tooth!r} is not a tooth in Universal numbering: permanent teeth are 1 to 32, "
        "primary teeth A to T"
    )


def is_valid_tooth(tooth: str) -> bool:
    return tooth_refusal(tooth) is None


def normalize_tooth(raw: str) -> str:
    """Trim, upper-case and drop leading zeros (``" 03 "`` → ``"3"``, ``"k"`` → ``"K"``).

    Raises :class:`InvalidTooth` with the reason when it is not a tooth.
    """
    text = raw.strip().upper()
    if text.isdigit() and text.isascii():
        text = str(int(text))
    reason = tooth_refusal(text)
    if reason is not None:
        raise InvalidTooth(reason)
    return text


def dentition_of(tooth: str) -> Dentition:
    """Primary or permanent; raises :class:`InvalidTooth` for something that is not a tooth."""
    if tooth in PERMANENT_TEETH:
        return Dentition.PERMANENT
    if tooth in PRIMARY_TEETH:
        return Dentition.PRIMARY
    raise InvalidTooth(tooth_refusal(tooth) or f"{tooth!r} is not a tooth")


def region_of(tooth: str) -> Region:
    """Anterior (incisors and canines) or posterior (premolars and molars)."""
    dentition = dentition_of(tooth)
    anterior = _PRIMARY_ANTERIOR if dentition is Dentition.PRIMARY else _PERMANENT_ANTERIOR
    return Region.ANTERIOR if tooth in anterior else Region.POSTERIOR


def tooth_age_refusal(tooth: str, age_years: int) -> str | None:
    """``None`` when ``tooth`` fits a patient of ``age_years``, else why not.

    Primary teeth (A-T) up to age 13, permanent teeth (1-32) from age 5; between 5 and 13 both.
    """
    if age_years < 0:
        raise ValueError("age cannot be negative")
    reason = tooth_refusal(tooth)
    if reason is not None:
        return reason
    if dentition_of(tooth) is Dentition.PRIMARY and age_years > PRIMARY_UNTIL_AGE:
        return (
            f"primary tooth {tooth} does not fit a patient aged {age_years}: primary teeth "
            f"(A-T) are accepted up to age {PRIMARY_UNTIL_AGE}"
        )
    if dentition_of(tooth) is Dentition.PERMANENT and age_years < PERMANENT_FROM_AGE:
        return (
            f"permanent tooth {tooth} does not fit a patient aged {age_years}: permanent teeth "
            f"(1-32) are accepted from age {PERMANENT_FROM_AGE}"
        )
    return None


def tooth_valid_for_age(tooth: str, age_years: int) -> bool:
    """Whether ``tooth`` is a valid tooth for a patient of ``age_years`` (whole years)."""
    return tooth_age_refusal(tooth, age_years) is None


def surfaces_refusal(surfaces: str, tooth: str | None = None) -> str | None:
    """``None`` for valid surfaces (upper-case letters of ``MODBFLI``), else why not.

    Refused: empty, a letter outside MODBFLI, a letter twice, both B and F, both O and I; and,
    when ``tooth`` is given, occlusal on a front tooth or incisal on a back tooth.
    """
    if not surfaces:
        return "no surface given: use letters from MODBFLI"
    unknown = sorted({c for c in surfaces if c not in SURFACE_LETTERS})
    if unknown:
        return (
            f"{''.join(unknown)!r} in {surfaces!r} is not a surface: use letters from "
            "MODBFLI (mesial, occlusal, distal, buccal, facial, lingual, incisal)"
        )
    repeated = sorted({c for c in surfaces if surfaces.count(c) > 1})
    if repeated:
        return f"surface {''.join(repeated)} is given twice in {surfaces!r}"
    if "B" in surfaces and "F" in surfaces:
        return "buccal (B) and facial (F) name the same side of a tooth: give one of them"
    if "O" in surfaces and "I" in surfaces:
        return "a tooth has an occlusal (O) or an incisal (I) edge, not both"
    if tooth is not None and is_valid_tooth(tooth):
        region = region_of(tooth)
        if region is Region.ANTERIOR and "O" in surfaces:
            return f"tooth {tooth} is a front tooth: it has an incisal (I) edge, not occlusal (O)"
        if region is Region.POSTERIOR and "I" in surfaces:
            return f"tooth {tooth} is a back tooth: it has an occlusal (O) surface, not incisal (I)"
    return None


def normalize_surfaces(raw: str, tooth: str | None = None) -> str:
    """Trim and upper-case, validate, and put the letters in MODBFLI order (``"dom"`` → ``"MOD"``).

    Raises :class:`InvalidSurfaces` with the reason.
    """
    text = "".join(raw.split()).upper()
    reason = surfaces_refusal(text, tooth)
    if reason is not None:
        raise InvalidSurfaces(reason)
    return "".join(c for c in SURFACE_LETTERS if c in text)


def surface_names(surfaces: str) -> tuple[str, ...]:
    """The surfaces in words (``"MO"`` → ``("mesial", "occlusal")``), for documents."""
    return tuple(_SURFACE_NAMES[c] for c in surfaces if c in _SURFACE_NAMES)
