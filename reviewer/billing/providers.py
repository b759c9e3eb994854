"""Who may be the provider on a claim line: a user of the encounter's organization with a
provider role, chosen by id. Billing never types a name or an NPI: whatever a client sends for
them is replaced by the chosen user's own (the NPI was checked when the user was saved,
:func:`reviewer.accounts.validation.check_npi`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing.facts import provider_of
from reviewer.coding.rules import InvalidClaimLine
from reviewer.errors import Unprocessable
from storage.models import Role, User, user_organization

PROVIDER_ROLES = frozenset({Role.DENTIST, Role.HYGIENIST, Role.COORDINATOR})


class ProviderUnknown(Unprocessable):
    """A line's provider is not a provider of the encounter's organization."""

    code = "provider_unknown"


async def organization_providers(db: AsyncSession, organization_id: uuid.UUID) -> list[User]:
    """The organization's dentists, hygienists and coordinators (also inactive ones: a line
    keeps the provider who did the work after they leave), by name."""
    return list(
        (
            await db.scalars(
                select(User)
                .join(user_organization, user_organization.c.user_id == User.id)
                .where(
                    user_organization.c.organization_id == organization_id,
                    User.role.in_([str(r) for r in PROVIDER_ROLES]),
                )
                .order_by(User.display_name, User.email)
            )
        ).all()
    )


def _chosen(index: int, given: Any, providers: Sequence[User]) -> User:
    if not isinstance(given, Mapping):
        raise InvalidClaimLine(f"line {index + 1}: provider must be an object with a user_id")
    user_id = given.get("user_id")
    npi = str(given.get("npi") or "").strip()
    if user_id:
        try:
            wanted = uuid.UUID(str(user_id))
        except ValueError:
            raise InvalidClaimLine(f"line {index + 1}: provider.user_id is not an id") from None
        found = [u for u in providers if u.id == wanted]
    elif npi:
        # A client that sends back the lines it read from an older version (no user_id yet)
        # still names a provider of the organization by that provider's NPI.
        found = [u for u in providers if u.npi == npi]
    else:
        found = []
    if len(found) != 1:
        named = f"user {user_id}" if user_id else (f"NPI {npi}" if npi else "nobody")
        raise ProviderUnknown(
            f"line {index + 1}: the provider must be a dentist, hygienist or coordinator of "
            f"this organization, chosen by user_id ({named} is not one)"
        )
    return found[0]


async def with_chosen_providers(
    db: AsyncSession, organization_id: uuid.UUID, rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``rows`` with each ``provider`` replaced by the chosen user's id, name, NPI and role.

    Raises :class:`ProviderUnknown` (422 ``provider_unknown``) for a provider who is not a
    provider of the organization — a typed name or NPI (``"Dr. Nobody"``, ``0000000000``)
    included.
    """
    providers = await organization_providers(db, organization_id)
    out: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        user = _chosen(index, row.get("provider"), providers)
        out.append({**row, "provider": provider_of(user).as_dict()})
    return out
