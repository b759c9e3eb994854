"""``toothline audit verify / checkpoint / rekey``: the attacks of someone who can write the
database but has not the audit key — edit a row, delete one and rehash the rest with plain
SHA-256, cut events off the end, forge a checkpoint — are each named (chain, seq, event id,
reason) with exit status 1; a portal started with another key is noticed too."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import delete, select, update

from portal.app import create_app
from portal.cli import main
from portal.settings import get_settings
from storage.audit import (
    GENESIS,
    AuditContext,
    AuditKey,
    legacy_event_hash,
    record_event,
    record_view,
)
from storage.audit_checkpoint import PREFIX
from storage.database import create_engine, create_session_maker
from storage.models import AuditEvent, ViewEvent
from tests.conftest import TEST_AUDIT_KEY
from tests.support.portal import make_settings, seed, sign_in


async def _write_events(url: str, count: int = 4) -> list[int]:
    engine = create_engine(url)
    try:
        async with create_session_maker(engine)() as db:
            for n in range(count):
                await record_event(db, "test.event", AuditContext(), details={"n": n})
            await db.commit()
            return list((await db.scalars(select(AuditEvent.seq))).all())
    finally:
        await engine.dispose()


async def _event_id(url: str, seq: int) -> str:
    engine = create_engine(url)
    try:
        async with create_session_maker(engine)() as db:
            return str(await db.scalar(select(AuditEvent.id).where(AuditEvent.seq == seq)))
    finally:
        await engine.dispose()


async def _tamper(url: str, seq: int) -> str:
    engine = create_engine(url)
    try:
        async with create_session_maker(engine)() as db:
            await db.execute(update(AuditEvent).where(AuditEvent.seq == seq)
                             .values(details={"n": 99}))
            await db.commit()
            event_id = await db.scalar(select(AuditEvent.id).where(AuditEvent.seq == seq))
            return str(event_id)
    finally:
        await engine.dispose()


async def _delete_and_rehash(url: str, seq: int | None, *, from_genesis: bool = False) -> str:
    """What an attacker without the key does: drop event ``seq`` (None: drop nothing),
    renumber the rest and recompute their links with plain SHA-256 (from the first event
    with ``from_genesis``). Returns the id of the event that now sits at ``seq``."""
    engine = create_engine(url)
    try:
        async with create_session_maker(engine)() as db:
            if seq is not None:
                await db.execute(delete(AuditEvent).where(AuditEvent.seq == seq))
            events = (await db.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all()
            prev = GENESIS
            for position, event in enumerate(events, start=1):
                if from_genesis or (seq is not None and position >= seq):
                    event.seq = position
                    event.prev_hash = prev
                    event.hash = legacy_event_hash(event)
                    await db.flush()
                prev = event.hash
            await db.commit()
            moved = next((e for e in events if e.seq == seq), events[0])
            return str(moved.id)
    finally:
        await engine.dispose()


async def _truncate(url: str, keep: int) -> None:
    engine = create_engine(url)
    try:
        async with create_session_maker(engine)() as db:
            await db.execute(delete(AuditEvent).where(AuditEvent.seq > keep))
            await db.commit()
    finally:
        await engine.dispose()


def _cli(*args: str) -> Result:
    get_settings.cache_clear()
    return CliRunner().invoke(main, ["audit", *args])


def _checkpoints(var_dir: Path) -> list[Path]:
    return sorted((var_dir / "blobs" / PREFIX).glob("*.json"))


@pytest.fixture
def trail(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> Iterator[str]:
    make_settings(monkeypatch, database_url, tmp_path)
    asyncio.run(_write_events(database_url, 5))
    yield database_url
    get_settings.cache_clear()


def test_audit_verify_names_the_edited_row(trail: str) -> None:
    ok = _cli("verify")
    assert ok.exit_code == 0, ok.output
    assert "intact: 5 events" in ok.output
    assert "no checkpoint yet" in ok.output
    event_id = asyncio.run(_tamper(trail, 3))
    broken = _cli("verify")
    assert broken.exit_code == 1
    assert f"BROKEN chain global at seq 3 (event {event_id})" in broken.output
    assert "row edited" in broken.output


async def _write_views(url: str, count: int) -> list[str]:
    engine = create_engine(url)
    try:
        async with create_session_maker(engine)() as db:
            views = [record_view(db, "attachment.viewed", AuditContext(actor_role="dentist"),
                                 organization_id=None, subject_type="attachment",
                                 subject_id=f"a-{n}", details={"variant": "display"})
                     for n in range(count)]
            await db.commit()
            return [str(v.id) for v in views]
    finally:
        await engine.dispose()


async def _edit_view(url: str, view_id: str) -> None:
    """What someone with write access to the database does to hide who looked: change the
    viewer's role on one row (the MAC is left as it was; without the key it cannot be made)."""
    engine = create_engine(url)
    try:
        async with create_session_maker(engine)() as db:
            await db.execute(update(ViewEvent).where(ViewEvent.id == uuid.UUID(view_id))
                             .values(actor_role="patient"))
            await db.commit()
    finally:
        await engine.dispose()


def test_audit_verify_checks_view_rows_and_names_an_edited_one(trail: str) -> None:
    ids = asyncio.run(_write_views(trail, 3))
    ok = _cli("verify")
    assert ok.exit_code == 0, ok.output
    assert "intact: 5 events checked" in ok.output and "3 view events checked" in ok.output
    asyncio.run(_edit_view(trail, ids[1]))
    edited = _cli("verify")
    assert edited.exit_code == 1, edited.output
    assert f"EDITED view event {ids[1]} (attachment.viewed at " in edited.output
    assert ids[0] not in edited.output and ids[2] not in edited.output
    assert "1 view event(s) edited" in edited.output and "BROKEN" not in edited.output


def test_a_view_mac_is_made_with_a_key_of_its_own() -> None:
    key = AuditKey.from_secret("a" * 40)
    assert len({key.link, key.checkpoint, key.view}) == 3
    assert key.view_mac(b"x") not in {key.mac(b"x"), key.sign(b"x")}


def test_delete_and_rehash_with_plain_sha256_is_named(trail: str) -> None:
    """The attack plain SHA-256 links could not catch: the rehashed chain is consistent."""
    moved = asyncio.run(_delete_and_rehash(trail, 3))
    result = _cli("verify")
    assert result.exit_code == 1, result.output
    assert f"BROKEN chain global at seq 3 (event {moved})" in result.output
    assert "plain SHA-256 link, not a keyed MAC" in result.output


def test_truncated_chain_is_caught_through_the_checkpoint(trail: str, tmp_path: Path) -> None:
    written = _cli("checkpoint")
    assert written.exit_code == 0, written.output
    head_id = asyncio.run(_event_id(trail, 5))
    assert "global  seq 5  mac " in written.output and f"event {head_id}" in written.output
    [checkpoint] = _checkpoints(tmp_path)
    assert checkpoint.name in written.output
    assert json.loads(checkpoint.read_text())["heads"][0]["seq"] == 5
    ok = _cli("verify")
    assert ok.exit_code == 0, ok.output
    assert "reaches checkpoint audit-checkpoints/" in ok.output

    asyncio.run(_truncate(trail, 3))  # the last two events gone: every remaining link is fine
    result = _cli("verify")
    assert result.exit_code == 1, result.output
    assert f"BROKEN chain global at seq 5 (event {head_id})" in result.output
    assert "chain ends at seq 3, before the checkpointed seq 5" in result.output

    asyncio.run(_truncate(trail, 0))  # the whole chain gone
    result = _cli("verify")
    assert result.exit_code == 1, result.output
    assert "BROKEN chain global at seq 5" in result.output
    assert "chain missing from the database" in result.output


def test_rewritten_head_does_not_carry_the_checkpointed_mac(trail: str) -> None:
    assert _cli("checkpoint").exit_code == 0
    asyncio.run(_tamper(trail, 5))
    result = _cli("verify")
    assert result.exit_code == 1
    # the walk names the edited row; the checkpoint comparison agrees at the same seq
    assert "BROKEN chain global at seq 5" in result.output


def test_checkpoint_with_a_bad_signature_fails(trail: str, tmp_path: Path) -> None:
    assert _cli("checkpoint").exit_code == 0
    [path] = _checkpoints(tmp_path)
    document = json.loads(path.read_text())
    document["heads"][0]["seq"] = 2  # an attacker moving the anchor back before a truncation
    path.write_text(json.dumps(document))
    result = _cli("verify")
    assert result.exit_code == 1, result.output
    assert f"BROKEN checkpoint {PREFIX}{path.name}: bad signature" in result.output


def test_checkpoint_signed_with_another_key_fails(trail: str, tmp_path: Path) -> None:
    assert _cli("checkpoint").exit_code == 0
    [path] = _checkpoints(tmp_path)
    document = json.loads(path.read_text())
    del document["signature"]
    other = AuditKey.from_secret("another-audit-key-" + "z" * 40)
    document["signature"] = other.sign(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode())
    path.write_text(json.dumps(document))
    result = _cli("verify")
    assert result.exit_code == 1
    assert "bad signature" in result.output


async def test_portal_started_with_another_key_is_noticed(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    from litestar.testing import AsyncTestClient

    await seed(database_url)  # recorded under the test key
    settings = make_settings(monkeypatch, database_url, tmp_path,
                             AUDIT_KEY="a-different-audit-key-" + "d" * 40)
    async with AsyncTestClient(app=create_app(settings)) as client:
        await sign_in(client, "dentist@demo.test")
    monkeypatch.setenv("TOOTHLINE_AUDIT_KEY", TEST_AUDIT_KEY)
    engine = create_engine(database_url)
    async with create_session_maker(engine)() as db:
        signed_in = (await db.execute(
            select(AuditEvent.chain, AuditEvent.seq, AuditEvent.id)
            .where(AuditEvent.action == "session.signed_in"))).one()
    await engine.dispose()
    result = await asyncio.to_thread(_cli, "verify")
    assert result.exit_code == 1, result.output
    assert (f"BROKEN chain {signed_in.chain} at seq {signed_in.seq} (event {signed_in.id})"
            in result.output)
    assert "written with another audit key" in result.output
    get_settings.cache_clear()


async def _downgrade_to_legacy(url: str) -> None:
    """The trail as the release before the audit key left it: plain SHA-256 links."""
    await _delete_and_rehash(url, None, from_genesis=True)


def test_rekey_keys_an_old_trail_once_and_refuses_a_downgrade(
    trail: str, tmp_path: Path
) -> None:
    asyncio.run(_downgrade_to_legacy(trail))
    asyncio.run(_write_events(trail, 2))  # recorded after the upgrade: keyed, on the old head
    before = _cli("verify")
    assert before.exit_code == 1
    assert "BROKEN chain global at seq 1" in before.output
    assert "toothline audit rekey" in before.output

    rekeyed = _cli("rekey")
    assert rekeyed.exit_code == 0, rekeyed.output
    assert "Rekeyed 5 plain SHA-256 link(s); 7 events in 1 chain(s)" in rekeyed.output
    assert "global  seq 7" in rekeyed.output
    assert len(_checkpoints(tmp_path)) == 1
    after = _cli("verify")
    assert after.exit_code == 0, after.output
    assert "intact: 7 events" in after.output and "reaches checkpoint" in after.output

    # An attacker deletes one event and rewrites the whole chain as an "old" unkeyed trail,
    # hoping rekey launders it: the checkpoint written by rekey refuses.
    asyncio.run(_delete_and_rehash(trail, 4, from_genesis=True))
    laundered = _cli("rekey")
    assert laundered.exit_code == 1, laundered.output
    assert "Nothing was changed" in laundered.output
    assert "BROKEN chain global at seq 7" in laundered.output
    assert _cli("verify").exit_code == 1


def test_rekey_refuses_a_broken_old_chain(trail: str) -> None:
    asyncio.run(_downgrade_to_legacy(trail))
    event_id = asyncio.run(_tamper(trail, 2))
    result = _cli("rekey")
    assert result.exit_code == 1
    assert f"BROKEN chain global at seq 2 (event {event_id})" in result.output
    assert "Nothing was changed" in result.output
