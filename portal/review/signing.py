"""Signing steps whose password re-check counts as a sign-in attempt.

Signing an evaluation or an addendum re-checks the dentist's password, the same password that
signs in. Unthrottled, the sign endpoints would let whoever holds a session (a laptop left
open) try passwords without the sign-in throttle. So a wrong signing password is a failed
sign-in of the account: recorded in ``login_failure`` and audited, and committed although the
request's own changes are rolled back. While the account (or the client address) is locked,
signing is refused with 429 before the password is looked at, and so is signing in.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from litestar.exceptions import TooManyRequestsException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.passwords import verify_password_async
from portal.accounts.services import (
    ThrottleLimits,
    account_key,
    lock_remaining,
    throttle_address,
)
from portal.requests import AnyRequest
from reviewer.actor import Actor
from reviewer.errors import Forbidden
from reviewer.evaluation.services import BadPassword
from storage.audit import AuditContext, record_event
from storage.models import Case, LoginFailure, User

T = TypeVar("T")

SIGNING_LOCKED = (
    "Too many wrong passwords. Signing (and signing in) is paused for this account; please "
    "wait a few minutes and try again."
)


class SigningLocked(TooManyRequestsException):
    code = "locked"

    def __init__(self, retry_after: int) -> None:
        super().__init__(detail=SIGNING_LOCKED, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


async def password_checked(
    request: AnyRequest,
    db: AsyncSession,
    who: Actor,
    audit: AuditContext,
    case_id: uuid.UUID,
    step: Callable[..., Awaitable[T]],
    **fields: Any,
) -> T:
    """Run ``step`` (``sign_evaluation``, ``add_addendum``: a service that re-checks the
    password) on the case under the sign-in throttle, with the portal's password check, the
    time now and ``fields`` (the password and what the step needs besides).

    Raises :class:`SigningLocked` while locked; re-raises ``BadPassword`` once the failure
    is committed.
    """
    user = await db.get(User, who.user_id)
    if user is None:
        raise Forbidden("Sign in again.")
    key = account_key(user.email)
    address = throttle_address(audit)
    limits = ThrottleLimits.from_settings(request.app.state.settings.session)
    retry_after = await lock_remaining(db, key=key, address=address, limits=limits)
    if retry_after is not None:
        raise SigningLocked(retry_after)
    try:
        return await step(db, who, audit, case_id, check_password=verify_password_async,
                          now=datetime.now(UTC), **fields)
    except BadPassword:
        await db.rollback()  # nothing of the refused step is kept (a draft saved with it)
        db.add(LoginFailure(account_key=key, client_address=address))
        # The services check access before the password: the case is the caller's to see.
        organization_id = await db.scalar(select(Case.organization_id).where(Case.id == case_id))
        await record_event(
            db, "evaluation.password_failed", audit, organization_id=organization_id,
            subject_type="case", subject_id=case_id, details={"account_key": key},
        )
        await db.commit()
        raise
