"""Who is acting: the portal builds an Actor from the signed-in user and passes it to services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID
    role: str
    organization_ids: frozenset[uuid.UUID]
    email: str = ""
    display_name: str = ""
    patient_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    """For the patient role: the patients this login may see (self and linked children)."""
    client_address: str | None = None

    def in_org(self, organization_id: uuid.UUID) -> bool:
        return organization_id in self.organization_ids
