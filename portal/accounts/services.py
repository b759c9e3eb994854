"""Account verbs: authenticate with throttling, set a password from an access link. Used by
the sign-in page, the token API and the CLI alike.

Throttling (after warehouse): failed sign-ins are rows in ``login_failure``, counted per
account key (sha256 of the normalized email — the same for known and unknown addresses) and
per client address within the lock window. Only failures count; while locked, attempts are
not checked at all (so a locked account's password cannot be guessed) and not recorded (so
the lock ends when the window has passed over the failures that caused it).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from portal.accounts.passwords import (
    WeakPassword,
    check_password_policy,
    hash_password_async,
    needs_rehash,
    verify_password_async,
)
from reviewer.accounts.links import RESET, consume_link, find_valid_link
from reviewer.accounts.validation import normalize_email
from reviewer.errors import NotFound, Unprocessable
from reviewer.i18n import N_
from storage.audit import AuditContext, record_event
from storage.models import AccessLink, ApiToken, LoginFailure, User

__all__ = [
    "SignInResult",
    "ThrottleLimits",
    "account_key",
    "authenticate",
    "lock_remaining",
    "normalize_email",
    "set_password_from_link",
    "sign_in",
    "throttle_address",
]

WRONG_CREDENTIALS = N_("The email or password is not right.")
LOCKED = N_("Too many failed sign-ins. Please wait a few minutes and try again.")


def account_key(email: str) -> str:
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()


def throttle_address(context: AuditContext) -> str:
    """The client address failures are counted under (as ``login_failure`` stores it)."""
    return (context.client_address or "unknown")[:64]


@dataclass(frozen=True)
class ThrottleLimits:
    max_failures: int = 10
    max_failures_per_address: int = 50
    lock_minutes: int = 15

    @classmethod
    def from_settings(cls, session_settings: object) -> ThrottleLimits:
        return cls(
            max_failures=getattr(session_settings, "login_max_failures", cls.max_failures),
            max_failures_per_address=getattr(
                session_settings, "login_max_failures_per_address", cls.max_failures_per_address
            ),
            lock_minutes=getattr(session_settings, "login_lock_minutes", cls.lock_minutes),
        )


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    retry_after: int | None = None
    """Seconds until the account or address may try again, when locked."""

    @property
    def ok(self) -> bool:
        return self.user is not None

    @property
    def locked(self) -> bool:
        return self.retry_after is not None


async def authenticate(db: AsyncSession, email: str, password: str) -> SignInResult:
    """Check credentials; upgrade the hash when the parameters changed. Same cost and the
    same answer whether the email is unknown or the password wrong."""
    user = await db.scalar(select(User).where(User.email == normalize_email(email)))
    hash_ = user.password_hash if user is not None and user.is_active else None
    if not await verify_password_async(hash_, password) or user is None:
        return SignInResult(None)
    if hash_ and needs_rehash(hash_):
        user.password_hash = await hash_password_async(password)
    user.last_login_at = datetime.now(UTC)
    return SignInResult(user)


async def _seconds_locked(
    db: AsyncSession, column: InstrumentedAttribute[str], value: str, limit: int,
    window: timedelta, now: datetime,
) -> int | None:
    """Locked while ``limit`` failures lie inside the window: until the ``limit``-th most
    recent one leaves it."""
    oldest_counted = await db.scalar(
        select(LoginFailure.created_at)
        .where(column == value, LoginFailure.created_at > now - window)
        .order_by(LoginFailure.created_at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    if oldest_counted is None:
        return None
    if oldest_counted.tzinfo is None:
        oldest_counted = oldest_counted.replace(tzinfo=UTC)
    return max(1, math.ceil((oldest_counted + window - now).total_seconds()))


async def lock_remaining(
    db: AsyncSession, *, key: str, address: str, limits: ThrottleLimits
) -> int | None:
    now = datetime.now(UTC)
    window = timedelta(minutes=limits.lock_minutes)
    waits = [
        await _seconds_locked(db, LoginFailure.account_key, key, limits.max_failures, window, now),
        await _seconds_locked(
            db, LoginFailure.client_address, address, limits.max_failures_per_address, window, now
        ),
    ]
    found = [w for w in waits if w is not None]
    return max(found) if found else None


async def sign_in(
    db: AsyncSession,
    email: str,
    password: str,
    *,
    limits: ThrottleLimits,
    context: AuditContext,
) -> SignInResult:
    """Throttled, audited sign-in. A failure is committed here: the request answers 401 or
    429, and the request's own transaction is rolled back on any answer of 400 or more."""
    key = account_key(email)
    address = throttle_address(context)
    retry_after = await lock_remaining(db, key=key, address=address, limits=limits)
    if retry_after is not None:
        await record_event(db, "session.sign_in_locked", context,
                           details={"account_key": key, "retry_after": retry_after})
        await db.commit()
        return SignInResult(None, retry_after=retry_after)
    result = await authenticate(db, email, password)
    if result.user is None:
        db.add(LoginFailure(account_key=key, client_address=address))
        await record_event(db, "session.sign_in_failed", context, details={"account_key": key})
        await db.commit()
        return result
    user = result.user
    # A success ends the run of failures for the account (the address keeps its count).
    await db.execute(delete(LoginFailure).where(LoginFailure.account_key == key))
    org = user.organizations[0].id if user.organizations else None
    await record_event(
        db, "session.signed_in", replace(context, actor_id=user.id, actor_role=user.role),
        organization_id=org, subject_type="user", subject_id=user.id,
    )
    return result


async def set_password_from_link(
    db: AsyncSession, token: str, password: str, context: AuditContext
) -> User:
    """Redeem an invitation or reset link: set the password, end every session of the
    account (a reset also revokes its API tokens), and use the link up."""
    link = await find_valid_link(db, token)
    if link is None:
        raise NotFound("This link is not valid any more. Ask for a new one.", code="link_invalid")
    try:
        check_password_policy(password)
    except WeakPassword as exc:
        raise Unprocessable(str(exc), code="weak_password") from None
    user = await db.get(User, link.user_id)
    if user is None or not user.is_active:
        raise NotFound("This link is not valid any more. Ask for a new one.", code="link_invalid")
    if not await consume_link(db, link):
        raise NotFound("This link is not valid any more. Ask for a new one.", code="link_invalid")
    now = datetime.now(UTC)
    user.password_hash = await hash_password_async(password)
    user.password_changed_at = now
    user.session_epoch += 1
    if link.purpose == RESET:
        await db.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    # Any other outstanding link of the account is worthless now.
    await db.execute(
        delete(AccessLink).where(AccessLink.user_id == user.id, AccessLink.used_at.is_(None))
    )
    org = user.organizations[0].id if user.organizations else None
    await record_event(
        db, "password.set", replace(context, actor_id=user.id, actor_role=user.role),
        organization_id=org, subject_type="user", subject_id=user.id,
        details={"purpose": link.purpose},
    )
    return user


async def link_is_valid(db: AsyncSession, token: str) -> bool:
    return await find_valid_link(db, token) is not None
