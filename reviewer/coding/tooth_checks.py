"""The tooth and surface checks of one claim line (``reviewer.coding.validation`` runs them
with the others). Pure."""

from __future__ import annotations

from reviewer.coding.catalog import CdtCode
from reviewer.coding.claim_model import ClaimLine, Rule, RuleViolation, Severity
from reviewer.coding.teeth import (
    dentition_of,
    region_of,
    surfaces_refusal,
    tooth_age_refusal,
    tooth_refusal,
)


def violation(
    rule: Rule, message: str, index: int | None = None, *, warning: bool = False
) -> RuleViolation:
    """A rule's violation (an error unless ``warning``), of line ``index`` if given."""
    return RuleViolation(
        rule=str(rule),
        message=message,
        severity=Severity.WARNING if warning else Severity.ERROR,
        line_index=index,
    )


def check_tooth_and_surfaces(
    index: int, line: ClaimLine, entry: CdtCode, patient_age_years: int | None
) -> list[RuleViolation]:
    """The line's tooth and surfaces against its code (per tooth, dentition, region, surface
    count) and the patient's age."""
    out: list[RuleViolation] = []
    code = line.code
    if line.tooth is None:
        if entry.needs_tooth:
            out.append(
                violation(Rule.TOOTH_REQUIRED, f"{code} is reported per tooth: give the tooth",
                          index)
            )
    elif not entry.needs_tooth:
        out.append(
            violation(
                Rule.TOOTH_NOT_APPLICABLE,
                f"{code} is not reported per tooth: remove tooth {line.tooth}",
                index,
            )
        )
    else:
        reason = tooth_refusal(line.tooth)
        if reason is not None:
            out.append(violation(Rule.TOOTH_VALID, reason, index))
        else:
            age = patient_age_years
            if age is not None:
                age_reason = tooth_age_refusal(line.tooth, age)
                if age_reason is not None:
                    out.append(violation(Rule.TOOTH_VALID_FOR_AGE, age_reason, index))
            if entry.dentition is not None and dentition_of(line.tooth) is not entry.dentition:
                out.append(
                    violation(
                        Rule.TOOTH_FITS_CODE,
                        f"{code} is for {entry.dentition} teeth; tooth {line.tooth} is "
                        f"{dentition_of(line.tooth)}",
                        index,
                    )
                )
            if entry.region is not None and region_of(line.tooth) is not entry.region:
                out.append(
                    violation(
                        Rule.TOOTH_FITS_CODE,
                        f"{code} is for {entry.region} teeth; tooth {line.tooth} is "
                        f"{region_of(line.tooth)}",
                        index,
                    )
                )

    if line.surfaces is None:
        if entry.needs_surface:
            out.append(
                violation(Rule.SURFACES_REQUIRED, f"{code} needs the surfaces treated (MODBFLI)",
                          index)
            )
    elif not entry.needs_surface:
        out.append(
            violation(
                Rule.SURFACES_NOT_APPLICABLE,
                f"{code} is not reported per surface: remove surfaces {line.surfaces}",
                index,
            )
        )
    else:
        tooth = line.tooth if line.tooth is not None and tooth_refusal(line.tooth) is None else None
        reason = surfaces_refusal(line.surfaces, tooth)
        if reason is not None:
            out.append(violation(Rule.SURFACES_VALID, reason, index))
        elif entry.surface_count is not None and len(line.surfaces) != entry.surface_count:
            out.append(
                violation(
                    Rule.SURFACE_COUNT,
                    f"{code} covers exactly {entry.surface_count} surface(s); "
                    f"{line.surfaces} has {len(line.surfaces)}",
                    index,
                )
            )
    return out
