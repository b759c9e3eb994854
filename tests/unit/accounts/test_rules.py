"""Pure rules of the accounts area: password policy, NPI check digit, CSV cell escaping."""

from __future__ import annotations

from datetime import date

import pytest

from portal.accounts.passwords import (
    WeakPassword,
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from reviewer.accounts.audit_log import safe_cell
from reviewer.accounts.validation import check_email, check_npi, check_state
from reviewer.clock import age_on
from reviewer.errors import Unprocessable


@pytest.mark.parametrize("password", ["short", "password1234", "PASSWORD1234", "aaaaaaaaaaaaaa"])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword):
        check_password_policy(password)


def test_a_long_plain_passphrase_is_fine() -> None:
    check_password_policy("correct horse battery staple")


def test_hash_is_argon2id_and_verifies() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "wrong horse battery")
    assert not verify_password(None, "anything at all")
    assert not needs_rehash(hashed)


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1538296546"])
def test_valid_npis(npi: str) -> None:
    assert check_npi(npi) == npi


@pytest.mark.parametrize("npi", ["1234567890", "12345", "abcdefghij", "12345678931"])
def test_invalid_npis(npi: str) -> None:
    with pytest.raises(Unprocessable):
        check_npi(npi)


def test_state_and_email() -> None:
    assert check_state(" ca ") == "CA"
    with pytest.raises(Unprocessable):
        check_state("XX")
    assert check_email(" Rosa@Example.TEST ") == "rosa@example.test"
    with pytest.raises(Unprocessable):
        check_email("not-an-email")


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\tx", "'\tx"),
     ("plain", "plain"), (None, ""), (3, "3")],
)
def test_csv_cells_cannot_be_formulas(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


def test_age() -> None:
    assert age_on(date(2010, 6, 1), date(2028, 5, 31)) == 17
    assert age_on(date(2010, 6, 1), date(2028, 6, 1)) == 18


def test_production_parameters_stay_strong() -> None:
    """The suite hashes with a cheap hasher (tests/conftest.py); production must not."""
    from argon2 import Type

    from portal.accounts.passwords import PRODUCTION_HASHER

    assert PRODUCTION_HASHER.type is Type.ID
    assert PRODUCTION_HASHER.time_cost >= 3 and PRODUCTION_HASHER.memory_cost >= 64 * 1024
    assert PRODUCTION_HASHER.hash("correct horse battery").startswith("$argon2id$v=19$m=65536,t=3")


async def test_async_forms_run_in_a_worker_thread() -> None:
    import threading

    from portal.accounts import passwords

    seen: list[str] = []
    real = passwords.verify_password

    def spy(password_hash: str | None, password: str) -> bool:
        seen.append(threading.current_thread().name)
        return real(password_hash, password)

    passwords.verify_password = spy  # type: ignore[assignment]
    try:
        hashed = await passwords.hash_password_async("correct horse battery")
        assert await passwords.verify_password_async(hashed, "correct horse battery")
    finally:
        passwords.verify_password = real  # type: ignore[assignment]
    assert seen and seen[0] != threading.main_thread().name
