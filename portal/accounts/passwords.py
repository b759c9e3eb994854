"""Password hashing (argon2id) and the password policy (NIST SP 800-63B: length, not rules).

argon2 is deliberately slow (tens of milliseconds and 64 MiB per hash): request handlers use
the ``*_async`` forms, which run it in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import contextlib

from anyio import to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from reviewer.i18n import N_

# One place for the parameters: raising them makes old hashes upgrade at the next sign-in.
PRODUCTION_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=2,
                                   type=Type.ID)
HASHER = PRODUCTION_HASHER

MIN_LENGTH = 12
MAX_LENGTH = 256
COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890123",
        "password1234",
        "password12345",
        "passwordpassword",
        "qwertyuiopas",
        "qwerty123456",
        "iloveyou1234",
        "letmein12345",
        "welcome12345",
        "adminadmin12",
        "changeme1234",
        "aaaaaaaaaaaa",
        "abcdefghijkl",
        "abc123abc123",
        "toothline123",
        "dentist12345",
        "trustno1trustno1",
    }
)


class WeakPassword(ValueError):
    pass


def check_password_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.")
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 3:
        raise WeakPassword(N_("This password is too common; choose another one."))


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check so a missing account is not observable.
        _burn(password)
        return False
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)


DUMMY_HASH = HASHER.hash("not-a-real-password-for-timing")


def _burn(password: str) -> None:
    with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
        HASHER.verify(DUMMY_HASH, password)


async def hash_password_async(password: str) -> str:
    return await to_thread.run_sync(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    return await to_thread.run_sync(verify_password, password_hash, password)


def use_hasher(hasher: PasswordHasher) -> None:
    """Replace the parameters process-wide. For the test suite only, which signs in thousands
    of times and uses a cheap hasher (tests/conftest.py); production keeps ``HASHER``."""
    global HASHER, DUMMY_HASH
    HASHER = hasher
    DUMMY_HASH = hasher.hash("not-a-real-password-for-timing")
