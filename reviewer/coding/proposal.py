"""Proposing claim lines from an encounter's facts (the order is told in
``reviewer.coding.rules``). Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from reviewer.cases.enums import CaseKind, OriginatingSite
from reviewer.coding.catalog import (
    ASSESSMENT_CODE,
    INTERPRETATION_CODE,
    get_code,
)
from reviewer.coding.claim_model import (
    TELEDENTISTRY_FOR,
    AsyncReviewFacts,
    ClaimLine,
    Encounter,
    EncounterType,
    LiveSessionFacts,
    OnSiteVisit,
    ProblemStatus,
    Provider,
    RadiographSet,
    ServiceDelivered,
)
from reviewer.coding.payer import DEFAULT_PROFILE, PayerProfile
from reviewer.vocabulary import (
    CAPTURE_CODE_BY_KIND,
    ESTABLISHED_PROBLEM_EVALUATION,
    NEW_PROBLEM_EVALUATION,
    PHOTO_CAPTURE_CODE,
    POST_OPERATIVE_EVALUATION,
    RadiographKind,
)


@dataclass(frozen=True)
class PhotoSet:
    """Intraoral photos taken on one day by one provider on site (a school's hygienist):
    proposed as D0703 (capture only) where the payer bills it
    (``PayerProfile.bills_photo_capture``)."""

    captured_on: dt.date
    captured_by: Provider
    images: int = 1

# --- proposal --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceOfService:
    """Where the lines of one encounter were delivered: each line's code is chosen by the
    profile (:meth:`PayerProfile.line_place_of_service`: in-person codes at the site's own)."""

    profile: PayerProfile
    site: OriginatingSite


def evaluation_code_for(case_kind: CaseKind | None, problem: ProblemStatus) -> str:
    """The dentist's evaluation code: D0171 a post-op check (the problem says so, or the case
    is a post-op one), D0170 an established problem, D0140 a new one."""
    if problem is ProblemStatus.POST_OP_CHECK or case_kind is CaseKind.POST_OP:
        return POST_OPERATIVE_EVALUATION
    if problem is ProblemStatus.ESTABLISHED:
        return ESTABLISHED_PROBLEM_EVALUATION
    return NEW_PROBLEM_EVALUATION


def _line(
    code: str,
    provider: Provider,
    when: dt.date,
    pos: PlaceOfService,
    encounter: Encounter,
    *,
    tooth: str | None = None,
    quantity: int = 1,
) -> ClaimLine:
    get_code(code)  # an unknown code is a programming or data error: raise UnknownCode
    return ClaimLine(
        code=code,
        provider=provider,
        date_of_service=when,
        tooth=tooth,
        surfaces=None,
        quantity=quantity,
        place_of_service=pos.profile.line_place_of_service(code, pos.site),
        encounter=encounter,
    )


def _propose(
    *,
    encounter: Encounter,
    case_kind: CaseKind | None,
    problem: ProblemStatus,
    dentist: Provider,
    dentist_date: dt.date,
    originating_site: OriginatingSite,
    on_site: OnSiteVisit | None,
    services: Sequence[ServiceDelivered],
    radiographs: Sequence[RadiographSet],
    profile: PayerProfile,
    photos: Sequence[PhotoSet] = (),
) -> list[ClaimLine]:
    pos = PlaceOfService(profile, originating_site)
    lines: list[ClaimLine] = []

    # 1. the on-site provider's services, on their day
    has_assessment = any(s.code == ASSESSMENT_CODE for s in services)
    if case_kind is CaseKind.SCHOOL_SCREENING and not has_assessment:
        if on_site is None:
            raise ValueError(
                "a school screening needs the hygienist's visit (on_site) for its D0191 line"
            )
        lines.append(_line(ASSESSMENT_CODE, on_site.provider, on_site.date, pos, encounter))
    for service in services:
        lines.append(
            _line(service.code, service.provider, service.date, pos, encounter, tooth=service.tooth)
        )

    # 2. image capture only, for whoever took images the dentist read
    read = [r for r in radiographs if r.interpreted]
    captures: dict[tuple[str, Provider, dt.date], int] = {}
    for r in read:
        if r.captured_by is None or r.captured_by.npi == dentist.npi:
            continue
        key = (CAPTURE_CODE_BY_KIND[r.kind], r.captured_by, r.captured_on)
        if r.kind is RadiographKind.COMPLETE_SERIES:
            captures[key] = 1  # a complete series is one unit, however many images
        else:
            captures[key] = captures.get(key, 0) + max(r.images, 1)
    for (code, provider, taken_on), quantity in captures.items():
        lines.append(_line(code, provider, taken_on, pos, encounter, quantity=quantity))
    if profile.bills_photo_capture:
        photo_counts: dict[tuple[Provider, dt.date], int] = {}
        for p in photos:
            if p.captured_by.npi != dentist.npi:
                key2 = (p.captured_by, p.captured_on)
                photo_counts[key2] = photo_counts.get(key2, 0) + max(p.images, 1)
        for (provider, taken_on), quantity in photo_counts.items():
            lines.append(
                _line(PHOTO_CAPTURE_CODE, provider, taken_on, pos, encounter, quantity=quantity)
            )

    # 3. the dentist's evaluation
    reports_evaluation = (
        case_kind is not CaseKind.SCHOOL_SCREENING or profile.allows_school_screening_evaluation
    )
    if reports_evaluation:
        lines.append(
            _line(evaluation_code_for(case_kind, problem), dentist, dentist_date, pos, encounter)
        )

    # 4. reading images someone else took
    if any(r.captured_by is None or r.captured_by.npi != dentist.npi for r in read):
        lines.append(_line(INTERPRETATION_CODE, dentist, dentist_date, pos, encounter))

    # 5. the teledentistry code of the encounter
    lines.append(_line(TELEDENTISTRY_FOR[encounter.type], dentist, dentist_date, pos, encounter))
    return lines


def propose_async_lines(
    facts: AsyncReviewFacts, profile: PayerProfile = DEFAULT_PROFILE,
    photos: Sequence[PhotoSet] = (),
) -> list[ClaimLine]:
    """The claim lines of a signed asynchronous review (D9996 encounter); ``photos``: the
    intraoral photos staff took on site (D0703 only where the payer bills capture)."""
    return _propose(
        encounter=Encounter(EncounterType.ASYNCHRONOUS, facts.encounter_id),
        case_kind=facts.case_kind,
        problem=facts.problem,
        dentist=facts.dentist,
        dentist_date=facts.signed_on,
        originating_site=facts.originating_site,
        on_site=facts.on_site,
        services=facts.services,
        radiographs=facts.radiographs,
        profile=profile,
        photos=photos,
    )


def propose_live_lines(
    facts: LiveSessionFacts, profile: PayerProfile = DEFAULT_PROFILE
) -> list[ClaimLine]:
    """The claim lines of a live session (D9995 encounter), apart from any asynchronous review."""
    return _propose(
        encounter=Encounter(EncounterType.SYNCHRONOUS, facts.encounter_id),
        case_kind=facts.case_kind,
        problem=facts.problem,
        dentist=facts.dentist,
        dentist_date=facts.session_date,
        originating_site=facts.originating_site,
        on_site=facts.on_site,
        services=facts.services,
        radiographs=facts.radiographs,
        profile=profile,
    )
