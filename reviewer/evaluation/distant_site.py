"""The distant site of a review (where the dentist was), recorded on the evaluation at
signing: the dentist's own practice address from their profile when they gave one, else the
organization's address. The record prints what was recorded, so a later change of the
profile or of the organization's address does not rewrite a signed record."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, Evaluation, Organization, User

__all__ = ["distant_site_of", "organization_address", "record_distant_site"]


def organization_address(org: Organization) -> str:
    """The organization's one-line address (as the documents print it)."""
    return ", ".join(
        x for x in (org.address_line, org.city, f"{org.state} {org.postal_code}".strip()) if x
    )


def distant_site_of(dentist: User, org: Organization) -> tuple[str, str]:
    """(description, state) of where ``dentist`` reviews a case of ``org`` today."""
    own = (dentist.practice_address or "").strip()
    if own:
        name = dentist.display_name or dentist.email
        return f"{name}'s practice, {own} (the reviewing dentist)", (
            dentist.practice_state or org.state or ""
        )
    return f"{org.name}, {organization_address(org)} (the reviewing dentist)", org.state or ""


async def record_distant_site(db: AsyncSession, evaluation: Evaluation, case: Case) -> None:
    """Set the evaluation's distant site from its dentist's profile, at signing."""
    dentist = await db.get_one(User, evaluation.dentist_id)
    org = await db.get_one(Organization, case.organization_id)
    evaluation.distant_site, evaluation.distant_site_state = distant_site_of(dentist, org)
