"""The queue and the claims through the service functions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from reviewer.cases.state import InvalidTransition
from reviewer.errors import NotFound
from reviewer.queue.claims import (
    CaseTaken,
    NotClaimant,
    NotLicensed,
    claim_case,
    claim_next,
    expire_leases,
    release_case,
    renew_lease,
)
from reviewer.queue.listing import InvalidCursor, QueueFilters, list_queue
from storage.models import AuditEvent, Case
from tests.integration.review.conftest import World, utcnow


async def _ids(world: World, user=None, **filters) -> list:
    page = await list_queue(world.db, world.actor(user or world.dentist), QueueFilters(**filters),
                            now=utcnow())
    return [item.id for item in page.items]


async def test_queue_orders_by_urgency_then_due_time(world: World) -> None:
    routine_soon_due = await world.add_case(urgency="routine", due_in=timedelta(hours=1))
    urgent_late = await world.add_case(urgency="urgent", due_in=timedelta(hours=3))
    urgent_early = await world.add_case(urgency="urgent", due_in=timedelta(hours=1))
    soon = await world.add_case(urgency="soon", due_in=timedelta(hours=20))
    assert await _ids(world) == [urgent_early.id, urgent_late.id, soon.id, routine_soon_due.id]


async def test_queue_scope_orgs_states_licenses_and_statuses(world: World) -> None:
    visible = await world.add_case()
    await world.add_case(state="NV")  # no Nevada license
    await world.add_case(status="draft")
    await world.add_case(status="reviewed")
    await world.add_case(status="needs_info")
    other_org_dentist = await world.add_dentist("solo@demo.test", orgs=(world.school,))
    expired = await world.add_dentist("lapsed@demo.test", expires=date(2020, 1, 1))
    assert await _ids(world) == [visible.id]
    assert await _ids(world, other_org_dentist) == []  # clinic case, school-only dentist
    assert await _ids(world, expired) == []  # license expired
    assert await _ids(world, world.hygienist) == []  # not a dentist


async def test_queue_keyset_pages_cover_everything_once(world: World) -> None:
    made = []
    for i in range(7):
        made.append(await world.add_case(urgency=["urgent", "soon", "routine"][i % 3],
                                         due_in=timedelta(hours=i % 2 + 1)))
    seen, cursor = [], None
    while True:
        page = await list_queue(world.db, world.actor(world.dentist),
                                QueueFilters(cursor=cursor, limit=3), now=utcnow())
        seen.extend(i.id for i in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(c.id for c in made)
    assert len(seen) == len(set(seen))
    assert seen == await _ids(world, limit=50)
    with pytest.raises(InvalidCursor):
        await list_queue(world.db, world.actor(world.dentist), QueueFilters(cursor="nope"),
                         now=utcnow())


async def test_queue_filters(world: World) -> None:
    clinic_urgent = await world.add_case(urgency="urgent", kind="emergency")
    school_case = await world.add_case(org=world.school, kind="school_screening")
    overdue = await world.add_case(due_in=timedelta(hours=-2))
    assert await _ids(world, organization_id=world.school.id) == [school_case.id]
    assert await _ids(world, kind="emergency") == [clinic_urgent.id]
    assert await _ids(world, urgency="urgent") == [clinic_urgent.id]
    assert await _ids(world, overdue=True) == [overdue.id]
    assert await _ids(world, mine=True) == []
    await claim_case(world.db, world.actor(world.dentist), world.ctx(world.dentist),
                     school_case.id, now=utcnow())
    await world.db.commit()
    assert await _ids(world, mine=True) == [school_case.id]
    # Someone else's active claim leaves the other dentist's queue.
    assert school_case.id not in await _ids(world, world.dentist2)


async def test_queue_items_show_time_left_and_overdue(world: World) -> None:
    await world.add_case(urgency="urgent", due_in=timedelta(hours=-1))
    await world.add_case(urgency="routine", due_in=timedelta(hours=70))
    page = await list_queue(world.db, world.actor(world.dentist), QueueFilters(), now=utcnow())
    late, fine = page.items
    assert late.overdue and late.timing_class == "badge-overdue" and late.time_left_s < 0
    assert not fine.overdue and fine.timing_class == "badge-routine"
    assert fine.target_s == 72 * 3600
    assert late.patient_initials == "PD" and late.patient_age is not None


async def test_claim_next_takes_the_most_pressing_and_audits(world: World) -> None:
    await world.add_case(urgency="routine")
    urgent = await world.add_case(urgency="urgent")
    now = utcnow()
    case = await claim_next(world.db, world.actor(world.dentist), world.ctx(world.dentist),
                            now=now)
    await world.db.commit()
    assert case is not None and case.id == urgent.id
    assert case.status == "in_review" and case.claimed_by_id == world.dentist.id
    assert case.lease_expires_at == now + timedelta(minutes=30)
    second = await claim_next(world.db, world.actor(world.dentist2), world.ctx(world.dentist2),
                              now=now)
    assert second is not None and second.id != urgent.id
    await world.db.commit()
    assert await claim_next(world.db, world.actor(world.dentist), world.ctx(world.dentist),
                            now=now) is None
    actions = list(await world.db.scalars(
        select(AuditEvent.action).where(AuditEvent.subject_id == str(urgent.id))))
    assert actions == ["case.claimed"]


async def test_expired_lease_returns_to_queue(world: World) -> None:
    case = await world.add_case()
    now = utcnow()
    await claim_case(world.db, world.actor(world.dentist), world.ctx(world.dentist), case.id,
                     now=now)
    await world.db.commit()
    assert await _ids(world, world.dentist2) == []
    # Let the lease lapse by moving the stored time, not by sleeping.
    stored = await world.db.get(Case, case.id)
    stored.lease_expires_at = now - timedelta(seconds=1)
    await world.db.commit()
    assert await _ids(world, world.dentist2) == [case.id]
    taken = await claim_next(world.db, world.actor(world.dentist2), world.ctx(world.dentist2),
                             now=utcnow())
    await world.db.commit()
    assert taken is not None and taken.id == case.id and taken.claimed_by_id == world.dentist2.id
    # The first dentist lost it: renewing or releasing is refused.
    with pytest.raises(NotClaimant):
        await renew_lease(world.db, world.actor(world.dentist), case.id, now=utcnow())


async def test_claim_specific_rules(world: World) -> None:
    case = await world.add_case()
    draft = await world.add_case(status="draft")
    nevada = await world.add_case(state="NV")
    me, other = world.actor(world.dentist), world.actor(world.dentist2)
    now = utcnow()
    first = await claim_case(world.db, me, world.ctx(world.dentist), case.id, now=now)
    await world.db.commit()
    again = await claim_case(world.db, me, world.ctx(world.dentist), case.id,
                             now=now + timedelta(minutes=5))
    await world.db.commit()
    assert again.id == first.id and again.lease_expires_at == now + timedelta(minutes=35)
    with pytest.raises(CaseTaken):
        await claim_case(world.db, other, world.ctx(world.dentist2), case.id, now=now)
    with pytest.raises(InvalidTransition):
        await claim_case(world.db, me, world.ctx(world.dentist), draft.id, now=now)
    with pytest.raises(NotLicensed):
        await claim_case(world.db, me, world.ctx(world.dentist), nevada.id, now=now)
    with pytest.raises(NotFound):
        await claim_case(world.db, world.actor(world.hygienist), world.ctx(world.hygienist),
                         case.id, now=now)


async def test_release_and_renew(world: World) -> None:
    case = await world.add_case()
    me = world.actor(world.dentist)
    now = utcnow()
    await claim_case(world.db, me, world.ctx(world.dentist), case.id, now=now)
    renewed = await renew_lease(world.db, me, case.id, now=now + timedelta(minutes=20))
    assert renewed.lease_expires_at == now + timedelta(minutes=50)
    with pytest.raises(NotClaimant):
        await release_case(world.db, world.actor(world.dentist2), world.ctx(world.dentist2),
                           case.id, now=now)
    released = await release_case(world.db, me, world.ctx(world.dentist), case.id, now=now)
    await world.db.commit()
    assert released.status == "submitted" and released.claimed_by_id is None
    with pytest.raises(InvalidTransition):
        await release_case(world.db, me, world.ctx(world.dentist), case.id, now=now)
    assert await _ids(world, world.dentist2) == [case.id]


async def test_expire_leases_sweep(world: World) -> None:
    case = await world.add_case()
    now = utcnow()
    await claim_case(world.db, world.actor(world.dentist), world.ctx(world.dentist), case.id,
                     now=now - timedelta(hours=1))
    await world.db.commit()
    assert await expire_leases(world.db, world.ctx(world.dentist), now=now) == 1
    await world.db.commit()
    stored = await world.db.get(Case, case.id)
    await world.db.refresh(stored)
    assert stored.status == "submitted" and stored.claimed_by_id is None
    count = await world.db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "case.released"))
    assert count == 1
