"""Claim-line rules for teledentistry encounters: propose lines, validate edited ones. Pure.

Sources: the CDT entries for D9995/D9996 ("reported in addition to other procedures delivered
to the patient on the date of service"), the ADA's guide to documenting teledentistry events,
and the payer profile (``reviewer.coding.payer``).

Proposal (:func:`propose_async_lines`, :func:`propose_live_lines`), in this order:

1. the hygienist's on-site services, each on the hygienist who delivered it and on the day it
   was delivered — for a school screening, D0191 (the assessment) on the visit's day;
2. radiograph image capture only (D0705-D0709, see :data:`CAPTURE_CODE_BY_KIND`) for whoever
   took images that the dentist read, on the day they were taken;
3. the dentist's evaluation code (:func:`evaluation_code_for`) — left out for a school
   screening when the profile says the program's dentist may not report it;
4. D0391 (reading with a report) for the dentist when they read images someone else took;
5. the teledentistry code: D9996 for an asynchronous review, D9995 for a live session.

The dentist's lines carry the date the dentist signed (asynchronous) or the session's date
(live). Every line of one encounter carries the encounter's place of service from the payer
profile. The dentist's recommended procedures are a treatment plan and never become lines.

Validation (:func:`validate_lines`) returns :class:`RuleViolation` s; each names its rule
(:class:`Rule`) and says why. ``severity="warning"`` ones do not stop billing.

The code lives in ``claim_model`` (plain data, rule ids), ``proposal`` and ``validation``;
this module is the one name the rest of the code imports.
"""

from __future__ import annotations

from reviewer.coding.catalog import UnknownCode
from reviewer.coding.claim_model import (
    DENTIST_CODES,
    EVALUATION_OR_ASSESSMENT_CODES,
    AsyncReviewFacts,
    ClaimLine,
    Encounter,
    EncounterType,
    InvalidClaimLine,
    LiveSessionFacts,
    OnSiteVisit,
    ProblemStatus,
    Provider,
    ProviderRole,
    RadiographSet,
    RecommendedProcedure,
    Rule,
    RuleViolation,
    ServiceDelivered,
    Severity,
    blocking,
)
from reviewer.coding.proposal import (
    evaluation_code_for,
    propose_async_lines,
    propose_live_lines,
)
from reviewer.coding.validation import (
    ValidationContext,
    context_for_async,
    context_for_live,
    referenced_codes,
    validate_lines,
)
from reviewer.vocabulary import CAPTURE_CODE_BY_KIND, RadiographKind

__all__ = [
    "CAPTURE_CODE_BY_KIND",
    "DENTIST_CODES",
    "EVALUATION_OR_ASSESSMENT_CODES",
    "AsyncReviewFacts",
    "ClaimLine",
    "Encounter",
    "EncounterType",
    "InvalidClaimLine",
    "LiveSessionFacts",
    "OnSiteVisit",
    "ProblemStatus",
    "Provider",
    "ProviderRole",
    "RadiographKind",
    "RadiographSet",
    "RecommendedProcedure",
    "Rule",
    "RuleViolation",
    "ServiceDelivered",
    "Severity",
    "UnknownCode",
    "ValidationContext",
    "blocking",
    "context_for_async",
    "context_for_live",
    "evaluation_code_for",
    "propose_async_lines",
    "propose_live_lines",
    "referenced_codes",
    "validate_lines",
]
