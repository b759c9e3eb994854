"""The signed-in user as a plain snapshot, put on ``request.user`` by the auth middleware."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from reviewer.actor import Actor


@dataclass(frozen=True)
class OrgRef:
    id: uuid.UUID
    name: str
    time_zone: str = "UTC"
    """What the pages' ``local_time`` filter shows times in (``Organization.time_zone``)."""


@dataclass(frozen=True)
class CurrentUser:
    id: uuid.UUID
    email: str
    role: str
    display_name: str
    organizations: tuple[OrgRef, ...]
    patient_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    auth_method: str = "session"  # or "token"
    scopes: frozenset[str] = frozenset({"read", "write"})
    """What the request may do: a session everything, a token what it was issued for."""
    preferred_language: str | None = None
    """``en``/``es`` or None (then the cookie or the browser decides; portal/i18n.py)."""

    @property
    def current_org(self) -> OrgRef | None:
        return self.organizations[0] if self.organizations else None

    @property
    def organization_ids(self) -> frozenset[uuid.UUID]:
        return frozenset(org.id for org in self.organizations)

    def actor(self, client_address: str | None = None) -> Actor:
        return Actor(
            user_id=self.id,
            role=self.role,
            organization_ids=self.organization_ids,
            email=self.email,
            display_name=self.display_name,
            patient_ids=self.patient_ids,
            client_address=client_address,
        )
