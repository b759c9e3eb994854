"""JSON bodies of the billing API (msgspec structs: unknown keys, missing fields and wrong types
answer 400 ``invalid`` with ``errors``; what only the coding rules or the service can judge keeps
its own answer: 422 ``claim_lines_refused``, 400 ``invalid_live_session``, ...).

The structs hand the services the plain dicts they always read (``rows()``, ``fields()``), so the
services stay the same for the pages' forms and for the API.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from reviewer.cases.enums import OriginatingSite
from reviewer.coding.rules import EncounterType, ProviderRole

StatusName = Literal["ready", "billed", "nothing_to_bill"]
"""The statuses a client may ask for (``proposed`` comes back by editing the lines)."""


class ClaimProviderIn(msgspec.Struct, forbid_unknown_fields=True):
    """The provider, chosen by ``user_id`` among the organization's dentists, hygienists and
    coordinators (422 ``provider_unknown`` otherwise). ``npi``, ``name`` and ``role`` may be
    sent back as ``GET`` answered them but are never taken: the line gets the chosen user's
    own. A line without ``user_id`` names the provider by ``npi`` (lines read before
    providers had ids)."""

    user_id: uuid.UUID | None = None
    npi: str | None = None
    name: str | None = None
    role: ProviderRole | None = None


class ClaimEncounterIn(msgspec.Struct, forbid_unknown_fields=True):
    type: EncounterType
    """asynchronous (a case review) | synchronous (a live session); a line of another
    encounter than the one in the URL is refused (422, rule ``line_encounter``)."""
    id: str
    """The case id or the live session id."""


class ClaimLineIn(msgspec.Struct, forbid_unknown_fields=True):
    """One claim line, in the shape ``GET …/claim-lines`` answers it."""

    code: str
    """A CDT code, e.g. D0171, D9996."""
    provider: ClaimProviderIn
    date_of_service: dt.date
    place_of_service: str
    """The CMS place-of-service code, e.g. 02 (telehealth), 10 (the patient's home)."""
    encounter: ClaimEncounterIn
    tooth: str | None = None
    surfaces: str | None = None
    quantity: int = 1
    fee: str | None = None
    """As ``GET`` answered it; never taken: a line's fee comes from the fee schedule."""


class ClaimLinesIn(msgspec.Struct, forbid_unknown_fields=True):
    """Billing's edit: the encounter's whole list of lines (PUT replaces it)."""

    lines: list[ClaimLineIn]
    reason: str | None = None
    """Why the lines change (required when they do: the encounter is signed; 422
    ``correction_reason_required``). Printed in the next package's "claim lines corrected"."""

    def rows(self) -> list[dict[str, Any]]:
        """The lines as ``ClaimLine.from_dict`` reads them (dates as ISO text)."""
        rows: list[dict[str, Any]] = msgspec.to_builtins(self.lines)
        return rows


SameDayRule = Literal["teledentistry_once_per_day", "evaluation_once_per_day"]


class SameDayOverrideIn(msgspec.Struct, forbid_unknown_fields=True):
    """Bill a same-day line anyway: the problem stays, as a warning quoting the reason."""

    rule: SameDayRule
    reason: str
    """Why (e.g. the payer's approval reference); 1 to 500 characters."""


class BillingStatusIn(msgspec.Struct, forbid_unknown_fields=True):
    status: StatusName
    """ready (proposed → ready, no rule broken) | billed (ready → billed; a case review closes
    its case) | nothing_to_bill (from proposed or ready; closes the case)."""


class LiveParticipantIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: str
    """Not empty."""
    role: str = ""
    """e.g. patient, guardian, interpreter."""


class LiveProcedureIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    code: str
    """A recommended CDT code (treatment plan: never claimed)."""
    tooth: str | None = None
    surfaces: str | None = None
    rationale: str = ""


class LiveEvaluationIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    findings: str = ""
    diagnosis: str = ""
    advice: str = ""
    problem_status: Literal["new", "established"] | None = None
    """established picks the evaluation code of an established problem; default new."""
    procedures: list[LiveProcedureIn] = []


class LiveSessionIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A live (D9995) session the acting dentist held, recorded after it ended."""

    patient_id: uuid.UUID
    scheduled_at: dt.datetime
    """ISO 8601 with a time zone (Z or +00:00), as are started_at and ended_at."""
    started_at: dt.datetime
    ended_at: dt.datetime
    """After started_at, and not in the future."""
    platform: str
    """What the session ran on, e.g. Doxy.me."""
    case_id: uuid.UUID | None = None
    """The case it escalates (of this patient); that case keeps its asynchronous review."""
    participants: list[LiveParticipantIn] = []
    notes: str = ""
    patient_site: OriginatingSite | None = None
    """Where the patient was: home | school | office | other (a linked case's site is never
    taken). Without it the session is recorded but undocumented: it cannot be signed."""
    patient_state: Annotated[str, msgspec.Meta(pattern="^[A-Za-z]{2}$")] | None = None
    """The state the patient was in during the session (2 letters, e.g. CA); the license
    check uses it. Default the patient's own state, never a linked case's."""
    evaluation: LiveEvaluationIn | None = None
    """Its ``findings`` are required before the session can be signed."""

    def fields(self) -> dict[str, Any]:
        """What was sent, as ``reviewer.billing.live_sessions.create_live_session`` reads it."""
        fields: dict[str, Any] = msgspec.to_builtins(self)
        return fields


class LiveSessionSignIn(msgspec.Struct, forbid_unknown_fields=True):
    """The dentist who held the session signs its record (as an evaluation is signed)."""

    password: str
    """The dentist's password, re-checked (403 ``bad_password``; counts as a sign-in attempt)."""
    attest: bool = False
    """Must be true (422 ``attestation_required``)."""
