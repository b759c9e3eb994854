"""JSON bodies of the records-desk API and the answers it builds.

The bodies are msgspec structs: an unknown key or a value of the wrong JSON type answers 400
(``invalid``, with the refused fields). Every field may be left out (or sent as null): the
services check what a step needs and answer their own codes (``invalid_requester``,
``verification_incomplete``, ``reason_required``…), the same for the API and the desk's forms,
so the fields below say "required" where the service refuses a request without them.
"""

from __future__ import annotations

from typing import Any

import msgspec

from reviewer.actor import Actor
from reviewer.records.services import Delivery, NewRequest, RequestView, Verification
from storage.models import RecordsDocument, Role


class RecordsSelectionIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Some of the records: a date range (the day the data was collected), named cases, or
    both; at least one of them."""

    from_: str | None = msgspec.field(default=None, name="from")
    """First day, YYYY-MM-DD."""
    to: str | None = None
    """Last day, YYYY-MM-DD."""
    case_ids: list[str] | None = None
    """Case ids of this patient."""
    include_originals: bool | None = None
    """Add the cleaned original image files (DICOM included)."""


class NewRequestIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """POST /records-requests: a patient asks for their own records, the desk logs anyone's."""

    requester: str | None = None
    """Required: patient | representative | provider | payer | legal."""
    records: str | RecordsSelectionIn | None = None
    """"all" (the default) or a selection."""
    format: str | None = None
    """Required: electronic | paper | media."""
    patient_id: str | None = None
    """The patient's id: required from the desk; a patient with one chart leaves it out."""
    deliver_to: str | None = None
    """Where the copy goes (an address, "portal")."""
    requester_name: str | None = None
    """Staff: the person or office asking (required unless the patient asks)."""
    requester_contact: str | None = None
    received_via: str | None = None
    """Staff: in_person (default) | phone | letter | portal."""
    received_at: str | None = None
    """Staff: when the request came in, an ISO date and time (default: now)."""
    purpose: str | None = None
    """Staff: "own_use" for copies for the practice's own use (free, never billed)."""

    def new_request(self) -> NewRequest:
        return NewRequest.from_dict(msgspec.to_builtins(self))


class VerificationIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """POST /records-requests/{id}/verify: the identity check and the requester's authority."""

    identity_method: str | None = None
    """Required: how identity was checked (no copy of the ID is kept)."""
    id_document_type: str | None = None
    """Required: drivers_license | state_id | passport | military_id | tribal_id | school_id |
    other (422 ``id_document_type_invalid``)."""
    id_document_last4: str | None = None
    """Required: exactly the last four letters or digits of the document's number, never the
    whole number (422 ``id_document_last4_invalid``)."""
    document_type: str | None = None
    """Replaced by ``id_document_type`` and ``id_document_last4``: sending it answers 422
    ``id_document_type_invalid``."""
    authority: str | None = None
    """Required: why the requester may have the records ("self", "parent of a minor"…)."""
    authorization_document_id: str | None = None
    """The signed authorization kept with the request (required for a provider, payer or
    lawyer)."""

    def verification(self) -> Verification:
        return Verification.from_dict(msgspec.to_builtins(self))


class DeliverIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """POST /records-requests/{id}/deliver (the body is optional)."""

    delivery_method: str | None = None
    """Required: one of the organization's ``delivery_methods`` (portal | email | mail |
    pickup | fax by default): 422 ``delivery_method_required`` / ``delivery_method_invalid``."""
    method: str | None = None
    """Paper and media: a note on how the copy was handed over or sent."""


class StepNoteIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The written text of a step: waive (optional), check (optional), refuse and extend
    (required: ``reason_required``). The body is optional."""

    reason: str | None = None
    """Why: told to the requester in writing for refuse and extend."""
    note: str | None = None
    """A note (the second check's); taken when no reason is sent."""

    @property
    def text(self) -> str:
        return self.reason or self.note or ""


# --- answers -------------------------------------------------------------------------------


def request_json(who: Actor, view: RequestView) -> dict[str, Any]:
    """A request as ``who`` may see it (staff also see identity, documents, links, history)."""
    return view.as_dict(staff=who.role != Role.PATIENT)


def desk_row(view: RequestView) -> dict[str, Any]:
    r = view.request
    return {"id": str(r.id), "patient_id": str(r.patient_id), "status": r.status,
            "requester": r.requester_type, "effective_due_on": view.effective_due_on.isoformat(),
            "overdue": view.overdue, "days_left": view.days_left}


def document_json(document: RecordsDocument) -> dict[str, Any]:
    return {"id": str(document.id), "kind": document.kind,
            "content_type": document.content_type, "sha256": document.sha256,
            "size": document.size,
            "expires_on": document.expires_on.isoformat() if document.expires_on else None}


def delivery_json(download_url: str | None, delivery: Delivery) -> dict[str, Any]:
    return {
        "download_url": download_url,
        "expires_at": delivery.expires_at.isoformat() if delivery.expires_at else None,
        "uses_left": delivery.uses_left,
        "request": delivery.view.as_dict(),
    }
