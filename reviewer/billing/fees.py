"""Fee schedules: an organization's fee per CDT code, overridden per payer profile.

A claim line's fee is the payer profile's fee for its code where that profile has one, else the
organization's, else none (the worklist then says the fee is missing). Fees are whole cents
(``Decimal`` in, ``int`` stored): money is never a float. An admin sets them one by one or
imports a ``code,fee`` CSV that replaces the schedule; every change is audited.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.coding.catalog import is_known_code
from reviewer.errors import Forbidden, Invalid, NotFound
from storage.audit import AuditContext, record_event
from storage.models import FeeScheduleEntry, PayerProfileRecord, Role

MAX_FEE_CENTS = 10_000_000  # $100,000.00: anything above is a typing error
FEE_ADMINS = frozenset({Role.ADMIN})


class InvalidFeeSchedule(Invalid):
    code = "invalid_fee_schedule"


def parse_fee(text: str) -> int:
    """``"95"``, ``"95.5"``, ``"95.50"`` or ``"$1,095.50"`` → cents; refuses more than two
    decimals, negatives and absurd amounts."""
    cleaned = text.strip().removeprefix("$").replace(",", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidFeeSchedule(f"{text!r} is not an amount") from None
    if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidFeeSchedule(f"{text!r} is not an amount in dollars and cents")
    cents = int(amount * 100)
    if cents > MAX_FEE_CENTS:
        raise InvalidFeeSchedule(f"{text!r} is more than any single line's fee")
    return cents


def format_fee(cents: int | None) -> str:
    return "" if cents is None else f"{cents // 100}.{cents % 100:02d}"


@dataclass(frozen=True)
class FeeTable:
    """The fees that apply to one payer profile of an organization."""

    organization: Mapping[str, int]
    payer: Mapping[str, int]

    def fee(self, code: str) -> int | None:
        return self.payer.get(code, self.organization.get(code))


async def _entries(
    db: AsyncSession, organization_id: uuid.UUID, payer_profile_id: uuid.UUID | None
) -> dict[str, int]:
    query = select(FeeScheduleEntry).where(FeeScheduleEntry.organization_id == organization_id)
    query = query.where(
        FeeScheduleEntry.payer_profile_id.is_(None) if payer_profile_id is None
        else FeeScheduleEntry.payer_profile_id == payer_profile_id
    )
    return {e.code: e.fee_cents for e in (await db.scalars(query)).all()}


async def fee_table(
    db: AsyncSession, organization_id: uuid.UUID, payer_profile_id: uuid.UUID | None
) -> FeeTable:
    return FeeTable(
        organization=await _entries(db, organization_id, None),
        payer=await _entries(db, organization_id, payer_profile_id) if payer_profile_id else {},
    )


def _require_admin(actor: Actor, organization_id: uuid.UUID) -> None:
    if actor.role not in FEE_ADMINS:
        raise Forbidden("Only an administrator changes fee schedules.")
    if organization_id not in actor.organization_ids:
        raise NotFound("No such organization.")


async def _profile_in(
    db: AsyncSession, organization_id: uuid.UUID, payer_profile_id: uuid.UUID | None
) -> None:
    if payer_profile_id is None:
        return
    found = await db.scalar(select(PayerProfileRecord.id).where(
        PayerProfileRecord.id == payer_profile_id,
        PayerProfileRecord.organization_id == organization_id,
    ))
    if found is None:
        raise NotFound("No such payer profile.")


def _refuse_any(problems: Sequence[str], fees: Mapping[str, int]) -> None:
    """Refuse a schedule with any problem (the first five named) or with too many codes."""
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise InvalidFeeSchedule("; ".join(problems[:5]) + more)
    if len(fees) > 2000:
        raise InvalidFeeSchedule("A fee schedule has at most 2000 codes.")


async def schedule_of(
    db: AsyncSession, actor: Actor, organization_id: uuid.UUID,
    payer_profile_id: uuid.UUID | None,
) -> dict[str, int]:
    """The organization's schedule (``payer_profile_id`` None) or one payer profile's overrides,
    for an admin of the organization."""
    _require_admin(actor, organization_id)
    await _profile_in(db, organization_id, payer_profile_id)
    return await _entries(db, organization_id, payer_profile_id)


def parse_fee_map(fees: Mapping[str, str]) -> dict[str, int]:
    """``{"D0140": "95.00"}`` (the API's body) → {code: cents}; every problem is named with its
    code, and nothing is taken from a map with any problem."""
    out: dict[str, int] = {}
    problems: list[str] = []
    for raw, text in fees.items():
        code = raw.strip().upper()
        if not is_known_code(code):
            problems.append(f"{raw!r} is not a CDT code this portal knows")
        elif code in out:
            problems.append(f"{code} appears twice")
        else:
            try:
                out[code] = parse_fee(text)
            except InvalidFeeSchedule as exc:
                problems.append(f"{code}: {exc.message}")
    _refuse_any(problems, out)
    return out


def parse_fee_csv(text: str) -> dict[str, int]:
    """A ``code,fee`` CSV (header first) → {code: cents}. Every problem is named with its line
    number; nothing is taken from a file with any problem."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    rows = list(reader)
    if not rows or [c.strip().lower() for c in rows[0]] != ["code", "fee"]:
        raise InvalidFeeSchedule('The first line must be the header "code,fee".')
    fees: dict[str, int] = {}
    problems: list[str] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 2:
            problems.append(f"line {number}: two columns, code and fee")
            continue
        code = row[0].strip().upper()
        if not is_known_code(code):
            problems.append(f"line {number}: {code!r} is not a CDT code this portal knows")
            continue
        if code in fees:
            problems.append(f"line {number}: {code} appears twice")
            continue
        try:
            fees[code] = parse_fee(row[1])
        except InvalidFeeSchedule as exc:
            problems.append(f"line {number}: {exc.message}")
    _refuse_any(problems, fees)
    return fees


async def replace_fee_schedule(
    db: AsyncSession, actor: Actor, ctx: AuditContext, organization_id: uuid.UUID,
    payer_profile_id: uuid.UUID | None, fees: Mapping[str, int],
) -> FeeTable:
    """Replace the organization's schedule (``payer_profile_id`` None) or one payer profile's
    overrides with ``fees``; audited with the number of codes and their total."""
    _require_admin(actor, organization_id)
    await _profile_in(db, organization_id, payer_profile_id)
    bad = [c for c in fees if not is_known_code(c)]
    if bad:
        raise InvalidFeeSchedule(f"{', '.join(sorted(bad))}: not CDT codes this portal knows")
    await db.execute(delete(FeeScheduleEntry).where(
        FeeScheduleEntry.organization_id == organization_id,
        FeeScheduleEntry.payer_profile_id.is_(None) if payer_profile_id is None
        else FeeScheduleEntry.payer_profile_id == payer_profile_id,
    ))
    for code, cents in sorted(fees.items()):
        db.add(FeeScheduleEntry(organization_id=organization_id,
                                payer_profile_id=payer_profile_id, code=code, fee_cents=cents))
    await db.flush()
    await record_event(
        db, "fee_schedule.replaced", ctx, organization_id=organization_id,
        subject_type="payer_profile" if payer_profile_id else "organization",
        subject_id=payer_profile_id or organization_id,
        details={"codes": len(fees), "fees": {c: format_fee(v) for c, v in sorted(fees.items())}},
    )
    return await fee_table(db, organization_id, payer_profile_id)


def fee_rows(table: Mapping[str, int]) -> list[tuple[str, str]]:
    return [(code, format_fee(cents)) for code, cents in sorted(table.items())]


def total(fees: Sequence[int | None]) -> int:
    return sum(f for f in fees if f is not None)
