"""The evaluation as the dentist writes it: plain data, normalization and the checks.

A draft is kept as typed -- auto-save must never lose words because a tooth number is half
written -- and :func:`problems` lists what still stands in the way of signing. Signing
refuses while any problem remains (and without advice).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reviewer.cases.state import Urgency
from reviewer.coding.catalog import UnknownCode, get_code
from reviewer.coding.teeth import (
    dentition_of,
    normalize_surfaces,
    normalize_tooth,
    region_of,
    tooth_age_refusal,
)
from reviewer.errors import DomainError, Invalid

MAX_TEXT = 20_000
MAX_ROWS = 64
MAX_FOLLOW_UP_DAYS = 730

TOOTH_CONDITIONS: dict[str, str] = {
    "caries": "Caries (decay)",
    "fracture": "Fracture",
    "abscess": "Abscess / swelling",
    "missing": "Missing",
    "mobility": "Mobility",
    "defective_restoration": "Defective restoration",
    "impacted": "Impacted",
    "erupting": "Erupting",
    "gingival_inflammation": "Gingival inflammation",
    "healing_normal": "Healing normally",
    "healing_delayed": "Healing delayed",
    "dry_socket": "Dry socket",
    "sensitivity": "Sensitivity",
    "other": "Other (see findings)",
}

REFERRAL_SPECIALTIES: dict[str, str] = {
    "general_dentistry": "General dentistry (in person)",
    "endodontics": "Endodontics",
    "oral_surgery": "Oral and maxillofacial surgery",
    "orthodontics": "Orthodontics",
    "pediatric_dentistry": "Pediatric dentistry",
    "periodontics": "Periodontics",
    "prosthodontics": "Prosthodontics",
    "oral_medicine": "Oral medicine / pathology",
    "physician": "Physician",
    "emergency": "Emergency department",
}

ATTESTATION = "I reviewed this case asynchronously from stored information."


@dataclass(frozen=True)
class ToothFinding:
    tooth: str
    condition: str


@dataclass(frozen=True)
class Procedure:
    code: str
    tooth: str | None = None
    surfaces: str | None = None


@dataclass(frozen=True)
class Referral:
    specialty: str
    reason: str = ""


@dataclass(frozen=True)
class EvaluationDraft:
    """The whole draft; a save replaces every field."""

    findings: str = ""
    teeth_findings: tuple[ToothFinding, ...] = ()
    diagnosis: str = ""
    advice: str = ""
    urgency: str | None = None
    procedures: tuple[Procedure, ...] = ()
    referral: Referral | None = None
    follow_up_days: int | None = None
    internal_notes: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> EvaluationDraft:
        """Read the API's JSON shape (raises :class:`Invalid` on a wrong type)."""

        def text(name: str) -> str:
            value = data.get(name) or ""
            if not isinstance(value, str):
                raise Invalid(f"{name} must be text", code="invalid_evaluation")
            return value

        def rows(name: str) -> list[Mapping[str, Any]]:
            value = data.get(name) or []
            if not isinstance(value, list) or not all(isinstance(r, Mapping) for r in value):
                raise Invalid(f"{name} must be a list of objects", code="invalid_evaluation")
            return value

        def opt(row: Mapping[str, Any], name: str) -> str | None:
            value = row.get(name)
            if value is None:
                return None
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise Invalid(f"{name} must be text", code="invalid_evaluation")
            return str(value)

        referral = data.get("referral")
        if referral is not None and not isinstance(referral, Mapping):
            raise Invalid("referral must be an object or null", code="invalid_evaluation")
        follow = data.get("follow_up_days")
        if follow is not None and (isinstance(follow, bool) or not isinstance(follow, int)):
            raise Invalid("follow_up_days must be a whole number or null",
                          code="invalid_evaluation")
        urgency = data.get("urgency")
        if urgency is not None and not isinstance(urgency, str):
            raise Invalid("urgency must be text or null", code="invalid_evaluation")
        return cls.build(
            findings=text("findings"),
            teeth_findings=[(opt(r, "tooth") or "", opt(r, "condition") or "")
                            for r in rows("teeth_findings")],
            diagnosis=text("diagnosis"),
            advice=text("advice"),
            urgency=urgency,
            procedures=[(opt(r, "code") or "", opt(r, "tooth"), opt(r, "surfaces"))
                        for r in rows("procedures")],
            referral=(
                (opt(referral, "specialty") or "", opt(referral, "reason") or "")
                if referral is not None else None
            ),
            follow_up_days=follow,
            internal_notes=text("internal_notes"),
        )

    @classmethod
    def build(
        cls,
        *,
        findings: str = "",
        teeth_findings: Sequence[tuple[str, str]] = (),
        diagnosis: str = "",
        advice: str = "",
        urgency: str | None = None,
        procedures: Sequence[tuple[str, str | None, str | None]] = (),
        referral: tuple[str, str] | None = None,
        follow_up_days: int | None = None,
        internal_notes: str = "",
    ) -> EvaluationDraft:
        """Trim and bound everything; drop empty rows; refuse only what cannot be stored."""
        for name, value in (("findings", findings), ("diagnosis", diagnosis),
                            ("advice", advice), ("internal_notes", internal_notes)):
            if len(value) > MAX_TEXT:
                raise Invalid(f"{name} is longer than {MAX_TEXT} characters",
                              code="invalid_evaluation")
        teeth = tuple(
            ToothFinding(_short(t).upper(), _short(c).lower())
            for t, c in teeth_findings if _short(t) or _short(c)
        )
        procs = tuple(
            Procedure(_short(code).upper(), _short(tooth).upper() or None,
                      "".join(_short(surfaces).split()).upper() or None)
            for code, tooth, surfaces in procedures
            if _short(code) or _short(tooth) or _short(surfaces)
        )
        if len(teeth) > MAX_ROWS or len(procs) > MAX_ROWS:
            raise Invalid(f"at most {MAX_ROWS} rows per list", code="invalid_evaluation")
        ref = None
        if referral is not None and (_short(referral[0]) or referral[1].strip()):
            ref = Referral(_short(referral[0]).lower(), referral[1].strip()[:2000])
        if follow_up_days is not None and not 0 <= follow_up_days <= MAX_FOLLOW_UP_DAYS:
            raise Invalid(f"follow_up_days must be between 0 and {MAX_FOLLOW_UP_DAYS}",
                          code="invalid_evaluation")
        return cls(
            findings=findings.strip(),
            teeth_findings=teeth,
            diagnosis=diagnosis.strip(),
            advice=advice.strip(),
            urgency=(urgency or "").strip().lower() or None,
            procedures=procs,
            referral=ref,
            follow_up_days=follow_up_days,
            internal_notes=internal_notes.strip(),
        )

    def columns(self) -> dict[str, Any]:
        """The Evaluation columns this draft sets."""
        return {
            "findings": self.findings,
            "teeth_findings": [{"tooth": t.tooth, "condition": t.condition}
                               for t in self.teeth_findings],
            "diagnosis": self.diagnosis,
            "advice": self.advice,
            "urgency": self.urgency,
            "procedures": [{"code": p.code, "tooth": p.tooth, "surfaces": p.surfaces}
                           for p in self.procedures],
            "referral": (
                {"specialty": self.referral.specialty, "reason": self.referral.reason}
                if self.referral else None
            ),
            "follow_up_days": self.follow_up_days,
            "internal_notes": self.internal_notes,
        }


def _short(value: str | None, limit: int = 200) -> str:
    return (value or "").strip()[:limit]


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    row: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "row": self.row, "message": self.message}


@dataclass
class Checked:
    """Normalized values (tooth ``03`` → ``3``, surfaces ``dom`` → ``MOD``) and problems."""

    draft: EvaluationDraft
    problems: list[Problem] = field(default_factory=list)


def check(draft: EvaluationDraft, patient_age: int | None = None) -> Checked:
    """Normalize what can be normalized and list what is wrong (pure)."""
    problems: list[Problem] = []
    teeth: list[ToothFinding] = []
    for index, finding in enumerate(draft.teeth_findings):
        tooth = _tooth(finding.tooth, patient_age, "teeth_findings", index, problems)
        if finding.condition not in TOOTH_CONDITIONS:
            problems.append(Problem("teeth_findings", f"choose a condition for tooth "
                                    f"{finding.tooth or '?'}", index))
        teeth.append(ToothFinding(tooth or finding.tooth, finding.condition))
    procedures: list[Procedure] = []
    for index, proc in enumerate(draft.procedures):
        procedures.append(_procedure(proc, patient_age, index, problems))
    if draft.urgency is not None and draft.urgency not in {u.value for u in Urgency}:
        problems.append(Problem("urgency", "urgency is urgent, soon or routine"))
    if draft.referral is not None:
        if draft.referral.specialty not in REFERRAL_SPECIALTIES:
            problems.append(Problem("referral", "choose the specialty to refer to"))
        if not draft.referral.reason:
            problems.append(Problem("referral", "say why you refer"))
    normalized = EvaluationDraft(
        findings=draft.findings,
        teeth_findings=tuple(teeth),
        diagnosis=draft.diagnosis,
        advice=draft.advice,
        urgency=draft.urgency,
        procedures=tuple(procedures),
        referral=draft.referral,
        follow_up_days=draft.follow_up_days,
        internal_notes=draft.internal_notes,
    )
    return Checked(normalized, problems)


def _tooth(raw: str, age: int | None, where: str, index: int,
           problems: list[Problem]) -> str | None:
    try:
        tooth = normalize_tooth(raw)
    except DomainError as exc:
        problems.append(Problem(where, exc.message, index))
        return None
    if age is not None:
        reason = tooth_age_refusal(tooth, age)
        if reason:
            problems.append(Problem(where, reason, index))
    return tooth


def _procedure(proc: Procedure, age: int | None, index: int,
               problems: list[Problem]) -> Procedure:
    where = "procedures"
    try:
        entry = get_code(proc.code)
    except UnknownCode as exc:
        problems.append(Problem(where, exc.message, index))
        return proc
    tooth = proc.tooth
    if proc.tooth is None:
        if entry.needs_tooth:
            problems.append(Problem(where, f"{entry.code} needs a tooth", index))
    elif not entry.needs_tooth:
        problems.append(Problem(where, f"{entry.code} is not per tooth: remove the tooth", index))
    else:
        valid = _tooth(proc.tooth, age, where, index, problems)
        if valid is not None:
            tooth = valid
            if entry.dentition is not None and dentition_of(valid) is not entry.dentition:
                problems.append(Problem(where, f"{entry.code} is for {entry.dentition} teeth; "
                                        f"{valid} is not", index))
            if entry.region is not None and region_of(valid) is not entry.region:
                problems.append(Problem(where, f"{entry.code} is for {entry.region} teeth; "
                                        f"{valid} is not", index))
    surfaces = proc.surfaces
    if proc.surfaces is None:
        if entry.needs_surface:
            problems.append(Problem(where, f"{entry.code} needs the surfaces (MODBFLI)", index))
    elif not entry.needs_surface:
        problems.append(Problem(where, f"{entry.code} is not per surface: remove the surfaces",
                                index))
    else:
        try:
            surfaces = normalize_surfaces(proc.surfaces, tooth)
            if entry.surface_count is not None and len(surfaces) != entry.surface_count:
                problems.append(Problem(where, f"{entry.code} covers exactly "
                                        f"{entry.surface_count} surface(s)", index))
        except DomainError as exc:
            problems.append(Problem(where, exc.message, index))
    return Procedure(entry.code, tooth, surfaces)


def content_sha256(case_id: str, dentist_id: str, signed_at: str,
                   columns: Mapping[str, Any]) -> str:
    """The hash a signature covers: the content, who signed, which case, when."""
    payload = {"case_id": case_id, "dentist_id": dentist_id, "signed_at": signed_at,
               "attestation": ATTESTATION, **columns}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
