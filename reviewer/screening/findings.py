"""The ASTDD Basic Screening Survey findings and the services delivered at school. Pure.

What a school-screening case stores in ``Case.screening``::

    {"event_id": "…", "caries_experience": true, "untreated_decay": false,
     "sealants_present": true, "treatment_urgency": "early",
     "services": [{"code": "D1206"}, {"code": "D1351", "tooth": "3"}]}

``treatment_urgency`` is the BSS scale: ``none`` (no obvious problem), ``early`` (early dental
care) or ``urgent`` (urgent care). It becomes the case urgency through
``reviewer.cases.state.screening_urgency_to_case_urgency`` (none → routine, early → soon,
urgent → urgent). Services are CDT codes a hygienist delivers on site
(``reviewer.coding.catalog.ONSITE_HYGIENIST_CODES``: D0191, D1206, D1208, D1351); a code
reported per tooth (a sealant) needs a tooth that fits the child's age.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from reviewer.cases.enums import Urgency
from reviewer.cases.state import screening_urgency_to_case_urgency
from reviewer.coding.catalog import ONSITE_HYGIENIST_CODES, get_code
from reviewer.coding.teeth import normalize_tooth, tooth_age_refusal
from reviewer.errors import Invalid, Unprocessable
from reviewer.vocabulary import FLUORIDE_VARNISH, SEALANT

__all__ = [
    "BSS_URGENCY_CODE",
    "FINDINGS",
    "MAX_SERVICES",
    "NOT_SCREENED_REASONS",
    "SCHOOL_SERVICES",
    "TREATMENT_URGENCIES",
    "Findings",
    "Service",
    "clean_not_screened_reason",
    "parse_findings",
    "reason_label",
]

FINDINGS: Final = ("caries_experience", "untreated_decay", "sealants_present")
"""The BSS yes/no indicators, in the order of the paper form."""
TREATMENT_URGENCIES: Final = MappingProxyType(
    {"none": "No obvious problem", "early": "Early dental care", "urgent": "Urgent care"}
)
BSS_URGENCY_CODE: Final = MappingProxyType({"none": 0, "early": 1, "urgent": 2})
"""How the BSS data sheet codes treatment urgency."""
SCHOOL_SERVICES: Final = (FLUORIDE_VARNISH, SEALANT)
"""What the screening form offers: fluoride varnish and sealants (the API takes any
on-site hygienist code)."""
MAX_SERVICES: Final = 40
NOT_SCREENED_REASONS: Final = MappingProxyType(
    {
        "absent": "Absent",
        "no_consent": "No consent",
        "refused": "Child declined",
        "uncooperative": "Could not be screened",
        "other": "Other",
    }
)
MAX_REASON_NOTE: Final = 500


class InvalidScreening(Invalid):
    code = "invalid_screening"


@dataclass(frozen=True, slots=True)
class Service:
    code: str
    tooth: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "tooth": self.tooth} if self.tooth else {"code": self.code}


@dataclass(frozen=True, slots=True)
class Findings:
    caries_experience: bool
    untreated_decay: bool
    sealants_present: bool
    treatment_urgency: str
    services: tuple[Service, ...] = ()

    @property
    def case_urgency(self) -> Urgency:
        return screening_urgency_to_case_urgency(self.treatment_urgency)

    def as_json(self, event_id: str) -> dict[str, Any]:
        """What ``Case.screening`` holds."""
        return {
            "event_id": event_id,
            "caries_experience": self.caries_experience,
            "untreated_decay": self.untreated_decay,
            "sealants_present": self.sealants_present,
            "treatment_urgency": self.treatment_urgency,
            "services": [service.as_dict() for service in self.services],
        }


def _flag(raw: Mapping[str, Any], name: str) -> bool:
    value = raw.get(name)
    if not isinstance(value, bool):
        raise InvalidScreening(f"{name} is true or false.")
    return value


def _service(index: int, raw: Any, age_years: int | None) -> Service:
    if not isinstance(raw, Mapping):
        raise InvalidScreening(f"services[{index}] is an object with a code.")
    unknown = set(raw) - {"code", "tooth"}
    if unknown:
        names = ", ".join(sorted(str(name) for name in unknown))
        raise InvalidScreening(f"services[{index}] has unknown fields: {names}.")
    code_text = raw.get("code")
    if not isinstance(code_text, str) or not code_text.strip():
        raise InvalidScreening(f"services[{index}] needs a code, like D1206.")
    entry = get_code(code_text.strip().upper())  # UnknownCode (422) for a code we do not know
    if entry.code not in ONSITE_HYGIENIST_CODES:
        raise Unprocessable(
            f"{entry.code} is not a service delivered at school; on site: "
            f"{', '.join(sorted(ONSITE_HYGIENIST_CODES))}.",
            code="not_a_school_service",
        )
    tooth_raw = raw.get("tooth")
    if tooth_raw is not None and not isinstance(tooth_raw, str | int):
        raise InvalidScreening(f"services[{index}].tooth is a tooth number, like \"3\".")
    tooth_text = "" if tooth_raw is None else str(tooth_raw).strip()
    if entry.needs_tooth and not tooth_text:
        raise InvalidScreening(f"{entry.code} is reported per tooth: give the tooth.",
                               code="tooth_required")
    if not entry.needs_tooth:
        if tooth_text:
            raise InvalidScreening(f"{entry.code} is not reported per tooth: leave the tooth out.",
                                   code="tooth_not_applicable")
        return Service(entry.code)
    tooth = normalize_tooth(tooth_text)  # InvalidTooth (400) with the reason
    if age_years is not None:
        reason = tooth_age_refusal(tooth, age_years)
        if reason is not None:
            raise InvalidScreening(reason, code="invalid_tooth")
    return Service(entry.code, tooth)


def parse_findings(raw: Mapping[str, Any], *, age_years: int | None = None) -> Findings:
    """Check the findings and services sent for one child (``event_id`` is read elsewhere).

    Raises :class:`reviewer.errors.Invalid` (400) for a missing or wrong value and
    :class:`reviewer.errors.Unprocessable` (422) for a code unknown or not delivered on site.
    Untreated decay is part of caries experience, so ``untreated_decay`` without
    ``caries_experience`` is refused; a service repeated (same code and tooth) is refused.
    """
    values = {name: _flag(raw, name) for name in FINDINGS}
    if values["untreated_decay"] and not values["caries_experience"]:
        raise InvalidScreening(
            "Untreated decay counts as caries experience: tick caries experience too."
        )
    urgency = raw.get("treatment_urgency")
    if not isinstance(urgency, str) or urgency not in TREATMENT_URGENCIES:
        raise InvalidScreening(
            f"treatment_urgency is one of: {', '.join(TREATMENT_URGENCIES)}."
        )
    services_raw = raw.get("services") or []
    if not isinstance(services_raw, Sequence) or isinstance(services_raw, str | bytes):
        raise InvalidScreening("services is a list of {\"code\", \"tooth\"} objects.")
    if len(services_raw) > MAX_SERVICES:
        raise InvalidScreening(f"At most {MAX_SERVICES} services per child.")
    services: list[Service] = []
    for index, item in enumerate(services_raw):
        service = _service(index, item, age_years)
        if service in services:
            what = f"{service.code} on tooth {service.tooth}" if service.tooth else service.code
            raise InvalidScreening(f"{what} is listed twice.", code="duplicate_service")
        services.append(service)
    return Findings(
        caries_experience=values["caries_experience"],
        untreated_decay=values["untreated_decay"],
        sealants_present=values["sealants_present"],
        treatment_urgency=urgency,
        services=tuple(services),
    )


def clean_not_screened_reason(reason: str | None, note: str | None = None) -> str:
    """``"absent"`` or ``"other: moved school"``: a known reason, with an optional note."""
    key = (reason or "").strip()
    if key not in NOT_SCREENED_REASONS:
        raise Invalid(
            f"reason is one of: {', '.join(NOT_SCREENED_REASONS)}.", code="invalid_reason"
        )
    text = " ".join((note or "").split())
    if len(text) > MAX_REASON_NOTE:
        raise Invalid(f"The note is at most {MAX_REASON_NOTE} characters.", code="invalid_reason")
    if key == "other" and not text:
        raise Invalid("Say why the child was not screened.", code="invalid_reason")
    return f"{key}: {text}" if text else key


def reason_label(stored: str) -> str:
    """A stored reason in words (``"absent"`` → ``"Absent"``, keeping any note)."""
    key, _, note = stored.partition(": ")
    label = NOT_SCREENED_REASONS.get(key, key)
    return f"{label} — {note}" if note else label
