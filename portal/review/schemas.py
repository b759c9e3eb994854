"""JSON bodies of the review API (msgspec structs: wrong types answer 400) and the helpers that
turn models into answers and forms into drafts."""

from __future__ import annotations

from typing import Any

import msgspec

from reviewer.evaluation.draft import MAX_ROWS, EvaluationDraft, Problem
from reviewer.queue.scope import urgency_of_rank
from storage.models import Addendum, Case, Evaluation, InfoRequest


class ToothFindingIn(msgspec.Struct, forbid_unknown_fields=True):
    tooth: str
    condition: str


class ProcedureIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    tooth: str | int | None = None
    surfaces: str | None = None


class ReferralIn(msgspec.Struct, forbid_unknown_fields=True):
    specialty: str
    reason: str = ""


class EvaluationIn(msgspec.Struct, forbid_unknown_fields=True):
    """The whole draft: every field a save does not send is emptied."""

    findings: str = ""
    teeth_findings: list[ToothFindingIn] = []
    diagnosis: str = ""
    advice: str = ""
    urgency: str | None = None
    procedures: list[ProcedureIn] = []
    referral: ReferralIn | None = None
    follow_up_days: int | None = None
    internal_notes: str = ""

    def draft(self) -> EvaluationDraft:
        return EvaluationDraft.build(
            findings=self.findings,
            teeth_findings=[(t.tooth, t.condition) for t in self.teeth_findings],
            diagnosis=self.diagnosis,
            advice=self.advice,
            urgency=self.urgency,
            procedures=[
                (p.code, None if p.tooth is None else str(p.tooth), p.surfaces)
                for p in self.procedures
            ],
            referral=(self.referral.specialty, self.referral.reason) if self.referral else None,
            follow_up_days=self.follow_up_days,
            internal_notes=self.internal_notes,
        )


class SignIn(msgspec.Struct, forbid_unknown_fields=True):
    password: str
    attest: bool = False
    unviewed_reasons: dict[str, str] = msgspec.field(default_factory=dict)
    """``{attachment_id: reason}`` for each image you did not open (e.g. "duplicate")."""


UNVIEWED_REASON_FIELD = "unviewed_reason_"
"""The sign form's field per image: ``unviewed_reason_<attachment_id>``."""


def unviewed_reasons_from_form(form: Any) -> dict[str, str]:
    """The sign form's reasons, keyed by attachment id."""
    return {
        key[len(UNVIEWED_REASON_FIELD):]: value
        for key, value in form.items()
        if key.startswith(UNVIEWED_REASON_FIELD) and isinstance(value, str)
    }


class AddendumIn(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    password: str


class InfoRequestIn(msgspec.Struct, forbid_unknown_fields=True):
    message: str


class RetakeIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def case_json(case: Case) -> dict[str, Any]:
    """A case as the review API answers it (ids and workflow fields; no patient details)."""
    return {
        "id": str(case.id),
        "organization_id": str(case.organization_id),
        "patient_id": str(case.patient_id),
        "kind": case.kind,
        "status": case.status,
        "urgency": str(urgency_of_rank(case.urgency_rank)),
        "location_state": case.location_state,
        "location_site": case.location_site,
        "submitted_at": _iso(case.submitted_at),
        "due_at": _iso(case.due_at),
        "claimed_by_id": str(case.claimed_by_id) if case.claimed_by_id else None,
        "lease_expires_at": _iso(case.lease_expires_at),
        "reviewed_at": _iso(case.reviewed_at),
    }


def evaluation_json(evaluation: Evaluation, problems: list[Problem] | None = None
                    ) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(evaluation.id),
        "case_id": str(evaluation.case_id),
        "dentist_id": str(evaluation.dentist_id),
        "status": evaluation.status,
        "findings": evaluation.findings,
        "teeth_findings": evaluation.teeth_findings,
        "diagnosis": evaluation.diagnosis,
        "advice": evaluation.advice,
        "urgency": evaluation.urgency,
        "procedures": evaluation.procedures,
        "referral": evaluation.referral,
        "follow_up_days": evaluation.follow_up_days,
        "internal_notes": evaluation.internal_notes,
        "signed_at": _iso(evaluation.signed_at),
        "attestation": evaluation.attestation,
        "content_sha256": evaluation.content_sha256,
        "updated_at": _iso(evaluation.updated_at),
    }
    if problems is not None:
        body["problems"] = [p.as_dict() for p in problems]
    return body


def addendum_json(addendum: Addendum) -> dict[str, Any]:
    return {
        "id": str(addendum.id),
        "evaluation_id": str(addendum.evaluation_id),
        "author_id": str(addendum.author_id),
        "text": addendum.text,
        "signed_at": _iso(addendum.signed_at),
    }


def info_request_json(request: InfoRequest) -> dict[str, Any]:
    return {
        "id": str(request.id),
        "case_id": str(request.case_id),
        "message": request.message,
        "requested_at": _iso(request.created_at),
        "response": request.response,
        "answered_at": _iso(request.answered_at),
    }


def draft_from_form(form: Any) -> EvaluationDraft:
    """The evaluation form (parallel lists for the rows) as a draft."""

    def one(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    def many(name: str) -> list[str]:
        return [v if isinstance(v, str) else "" for v in form.getall(name, [])][: MAX_ROWS * 2]

    teeth = list(zip(many("tooth"), many("condition"), strict=False))
    codes, proc_teeth, surfaces = many("proc_code"), many("proc_tooth"), many("proc_surfaces")
    procedures = [
        (code, proc_teeth[i] if i < len(proc_teeth) else "", surfaces[i] if i < len(surfaces)
         else "")
        for i, code in enumerate(codes)
    ]
    follow_raw = one("follow_up_days").strip()
    try:
        follow = int(follow_raw) if follow_raw else None
    except ValueError:
        follow = None
    specialty, reason = one("referral_specialty"), one("referral_reason")
    return EvaluationDraft.build(
        findings=one("findings"),
        teeth_findings=teeth,
        diagnosis=one("diagnosis"),
        advice=one("advice"),
        urgency=one("urgency") or None,
        procedures=procedures,
        referral=(specialty, reason) if (specialty or reason.strip()) else None,
        follow_up_days=follow if follow is None or 0 <= follow <= 730 else None,
        internal_notes=one("internal_notes"),
    )
