"""Payer profiles: a payer's rules as data (editable by an admin, stored as JSON). Pure.

A case takes the profile of the patient's payer, or the organization's default profile;
:data:`DEFAULT_PROFILE` is what applies when nobody configured anything.

Place of service
    ``telehealth`` (default): ``"02"`` (telehealth, patient not at home), ``"10"`` when the
    patient was at home. ``originating_site``: the originating site's own code instead —
    ``"03"`` school, ``"11"`` office, ``"12"`` home, ``"99"`` other (the table is editable per
    profile). The teledentistry lines of one encounter share that code.
In-person codes
    ``in_person_codes`` (none by default) names services delivered in person at the
    originating site, e.g. sealants (D1351) and varnish (D1206) a hygienist places at a school:
    their lines carry the originating site's own code from ``originating_site_codes`` (``"03"``
    school) whatever the rule, while the teledentistry lines stay on 02/10
    (:meth:`PayerProfile.line_place_of_service`).
Evaluation codes
    Default D0140 (problem-focused look), D0170 and D0171 (re-evaluation, post-operative
    check). D0120/D0150/D0180 only where a profile lists them; D0120 then still carries a
    warning.
Case-management codes (D9991-D9994, D9997)
    Billed only when ``bills_case_management_codes`` and the code is in
    ``case_management_codes`` (default D9991, D9992, D9997; D9993/D9994 where a program uses
    them).
Image capture of photos (D0703)
    Intraoral photos taken by staff on site are proposed as D0703 (capture only) only when
    ``bills_photo_capture`` (default off: most payers bundle photos into the evaluation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from reviewer.cases.enums import OriginatingSite
from reviewer.coding.catalog import (
    CASE_MANAGEMENT_CODES,
    EVALUATION_CODES,
    TELEDENTISTRY_CODES,
    is_known_code,
)
from reviewer.errors import Invalid

__all__ = [
    "ATTACHMENT_FORMATS",
    "DEFAULT_ACCEPTED_EVALUATION_CODES",
    "DEFAULT_CASE_MANAGEMENT_CODES",
    "DEFAULT_ORIGINATING_SITE_POS",
    "DEFAULT_PROFILE",
    "POS_TELEHEALTH",
    "POS_TELEHEALTH_HOME",
    "PayerProfile",
    "PlaceOfServiceRule",
    "ProfileError",
]


class PlaceOfServiceRule(StrEnum):
    TELEHEALTH = "telehealth"
    """02 telehealth, or 10 telehealth in the patient's home."""
    ORIGINATING_SITE = "originating_site"
    """The originating site's own place-of-service code (03 school, 11 office, ...)."""


POS_TELEHEALTH = "02"
POS_TELEHEALTH_HOME = "10"

DEFAULT_ORIGINATING_SITE_POS: tuple[tuple[OriginatingSite, str], ...] = (
    (OriginatingSite.HOME, "12"),
    (OriginatingSite.SCHOOL, "03"),
    (OriginatingSite.OFFICE, "11"),
    (OriginatingSite.OTHER, "99"),
)

DEFAULT_ACCEPTED_EVALUATION_CODES = frozenset({"D0140", "D0170", "D0171"})
DEFAULT_CASE_MANAGEMENT_CODES = frozenset({"D9991", "D9992", "D9997"})
ATTACHMENT_FORMATS = frozenset({"image/jpeg", "image/png", "image/tiff", "application/pdf"})

D0120_WARNING = (
    "D0120 is a periodic evaluation of an established patient; this payer profile accepts it, "
    "but check that the teledentistry review meets what the payer requires for it"
)


class ProfileError(Invalid, ValueError):
    """A payer profile that cannot be used (bad code, bad limit, unknown field)."""

    code = "invalid_payer_profile"

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]
        """Each thing wrong, one a sentence (the API answers them as ``problems``)."""


def _is_pos(code: object) -> bool:
    return isinstance(code, str) and len(code) == 2 and code.isdigit()


@dataclass(frozen=True)
class PayerProfile:
    name: str = "Default"
    place_of_service_rule: PlaceOfServiceRule = PlaceOfServiceRule.TELEHEALTH
    originating_site_codes: tuple[tuple[OriginatingSite, str], ...] = DEFAULT_ORIGINATING_SITE_POS
    """Used by the ``originating_site`` rule: each originating site's place-of-service code."""
    accepted_evaluation_codes: frozenset[str] = DEFAULT_ACCEPTED_EVALUATION_CODES
    allows_school_screening_evaluation: bool = True
    """False where the program's dentist may not report an evaluation for a school screening."""
    bills_case_management_codes: bool = True
    case_management_codes: frozenset[str] = DEFAULT_CASE_MANAGEMENT_CODES
    case_management_place_of_service: str = "11"
    """Coordination is staff work from the practice (phone, letters): office by default."""
    narrative_limit: int = 2000
    """Characters in a claim attachment's narrative."""
    attachment_max_files: int = 10
    attachment_max_bytes: int = 5_000_000
    """Per file; 5 MB counted in decimal bytes, the stricter reading."""
    attachment_formats: frozenset[str] = ATTACHMENT_FORMATS
    """Media types the payer's attachment service takes."""
    wants_separate_images: bool = False
    """Add the images as separate JPEG files besides the one attachment PDF."""
    in_person_codes: frozenset[str] = frozenset()
    """Codes delivered in person at the originating site (sealants, varnish at a school): their
    lines carry the site's own place of service, not the telehealth one."""
    bills_photo_capture: bool = False
    """Propose D0703 for the intraoral photos staff took on site (capture only)."""

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ProfileError(f"payer profile {self.name!r}: " + "; ".join(problems),
                               problems=problems)

    def problems(self) -> list[str]:
        """What is wrong with this profile (empty when usable)."""
        out: list[str] = []
        if not self.name.strip():
            out.append("a profile needs a name")
        try:
            PlaceOfServiceRule(self.place_of_service_rule)
        except ValueError:
            out.append(f"unknown place-of-service rule {self.place_of_service_rule!r}")
        sites = dict(self.originating_site_codes)
        missing = [str(s) for s in OriginatingSite if s not in sites]
        if missing:
            out.append(f"no place-of-service code for site(s) {', '.join(missing)}")
        for site, code in self.originating_site_codes:
            if not _is_pos(code):
                out.append(f"place of service {code!r} for {site} is not a two-digit code")
        if not _is_pos(self.case_management_place_of_service):
            out.append("the case-management place of service must be a two-digit code")
        unknown_eval = sorted(self.accepted_evaluation_codes - EVALUATION_CODES)
        if unknown_eval:
            out.append(f"{', '.join(unknown_eval)} are not evaluation codes")
        unknown_cm = sorted(self.case_management_codes - CASE_MANAGEMENT_CODES)
        if unknown_cm:
            out.append(f"{', '.join(unknown_cm)} are not case-management codes")
        for label, value in (
            ("narrative limit", self.narrative_limit),
            ("attachment file count", self.attachment_max_files),
            ("attachment size", self.attachment_max_bytes),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                out.append(f"the {label} must be a positive whole number")
        unknown_formats = sorted(self.attachment_formats - ATTACHMENT_FORMATS)
        if unknown_formats:
            out.append(f"attachment formats {', '.join(unknown_formats)} are not supported")
        if not self.attachment_formats:
            out.append("a payer must take at least one attachment format")
        unknown_in_person = sorted(c for c in self.in_person_codes if not is_known_code(c))
        if unknown_in_person:
            out.append(f"in-person codes {', '.join(unknown_in_person)} are not CDT codes "
                       "this portal knows")
        remote = sorted(self.in_person_codes & (TELEDENTISTRY_CODES | EVALUATION_CODES))
        if remote:
            out.append(f"{', '.join(remote)} are the dentist's remote codes, not in-person "
                       "services")
        return out

    # --- the rules -------------------------------------------------------------------------

    def place_of_service(self, site: OriginatingSite | str) -> str:
        """The place-of-service code for a teledentistry encounter whose patient was at ``site``."""
        where = OriginatingSite(site)
        if self.place_of_service_rule is PlaceOfServiceRule.ORIGINATING_SITE:
            return dict(self.originating_site_codes)[where]
        return POS_TELEHEALTH_HOME if where is OriginatingSite.HOME else POS_TELEHEALTH

    def line_place_of_service(self, code: str, site: OriginatingSite | str) -> str:
        """The place of service of one line of a teledentistry encounter: an in-person code's
        is the originating site's own (``03`` at a school), every other line's is
        :meth:`place_of_service`."""
        if code in self.in_person_codes:
            return dict(self.originating_site_codes)[OriginatingSite(site)]
        return self.place_of_service(site)

    def accepts_evaluation_code(self, code: str) -> bool:
        return code in self.accepted_evaluation_codes

    def evaluation_code_warning(self, code: str) -> str | None:
        """A caution for an accepted but doubtful evaluation code (D0120)."""
        if code == "D0120" and self.accepts_evaluation_code(code):
            return D0120_WARNING
        return None

    def bills_case_management(self, code: str) -> bool:
        return self.bills_case_management_codes and code in self.case_management_codes

    def attachment_format_accepted(self, media_type: str) -> bool:
        return media_type in self.attachment_formats

    # --- as data ---------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: sets as sorted lists, the site table as an object."""
        return {
            "name": self.name,
            "place_of_service_rule": str(self.place_of_service_rule),
            "originating_site_codes": {str(s): c for s, c in self.originating_site_codes},
            "accepted_evaluation_codes": sorted(self.accepted_evaluation_codes),
            "allows_school_screening_evaluation": self.allows_school_screening_evaluation,
            "bills_case_management_codes": self.bills_case_management_codes,
            "case_management_codes": sorted(self.case_management_codes),
            "case_management_place_of_service": self.case_management_place_of_service,
            "narrative_limit": self.narrative_limit,
            "attachment_max_files": self.attachment_max_files,
            "attachment_max_bytes": self.attachment_max_bytes,
            "attachment_formats": sorted(self.attachment_formats),
            "wants_separate_images": self.wants_separate_images,
            "in_person_codes": sorted(self.in_person_codes),
            "bills_photo_capture": self.bills_photo_capture,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PayerProfile:
        """The inverse of :meth:`as_dict`; missing keys take the defaults.

        Raises :class:`ProfileError` on an unknown key or a value that does not fit.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProfileError(f"unknown payer profile field(s): {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        try:
            for key, value in data.items():
                if key == "place_of_service_rule":
                    kwargs[key] = PlaceOfServiceRule(value)
                elif key == "originating_site_codes":
                    pairs = value.items() if isinstance(value, Mapping) else value
                    table = dict(DEFAULT_ORIGINATING_SITE_POS)
                    table.update({OriginatingSite(site): code for site, code in pairs})
                    kwargs[key] = tuple((site, table[site]) for site in OriginatingSite)
                elif key in {
                    "accepted_evaluation_codes",
                    "case_management_codes",
                    "attachment_formats",
                    "in_person_codes",
                }:
                    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                        raise ProfileError(f"{key} must be a list of strings")
                    kwargs[key] = frozenset(v.strip().upper() if key == "in_person_codes" else v
                                            for v in value)
                elif key in {
                    "allows_school_screening_evaluation",
                    "bills_case_management_codes",
                    "wants_separate_images",
                    "bills_photo_capture",
                }:
                    if not isinstance(value, bool):
                        raise ProfileError(f"{key} must be true or false")
                    kwargs[key] = value
                elif key in {"name", "case_management_place_of_service"}:
                    if not isinstance(value, str):
                        raise ProfileError(f"{key} must be text")
                    kwargs[key] = value
                else:
                    kwargs[key] = value
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ProfileError):
                raise
            raise ProfileError(f"payer profile does not fit: {exc}") from None
        return cls(**kwargs)


DEFAULT_PROFILE = PayerProfile()
"""What applies without a configured payer: telehealth POS, D0140/D0170/D0171, 2000 characters,
10 files of at most 5 MB, images inside the attachment PDF only."""
