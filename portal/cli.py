"""The ``toothline`` command: run, worker, db upgrade, demo, users create-admin, blobs sweep, media
derive-pending, audit verify / checkpoint / rekey."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from storage.audit_checkpoint import Checkpoint

from portal.settings import Settings, SettingsError, get_settings
from storage.audit import AuditKey, BrokenLink, EditedView, configure_audit_key
from storage.blobs import BlobError, BlobStore, open_blob_store
from storage.database import create_engine, create_session_maker, upgrade_database
from storage.private import private_dir

T = TypeVar("T")


def _settings() -> Settings:
    """The settings; also gives ``storage.audit`` its key, for every command that records."""
    try:
        settings = get_settings()
    except SettingsError as exc:
        click.echo(f"toothline: invalid setting {exc}", err=True)
        sys.exit(2)
    configure_audit_key(settings.audit.key)
    return settings


def _with_db(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def runner() -> T:
        engine = create_engine(settings.database.url)
        try:
            async with create_session_maker(engine)() as db:
                result = await work(db)
                await db.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(runner())


@click.group()
def main() -> None:
    """Toothline: asynchronous teledentistry portal."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
@click.option("--server", type=click.Choice(["uvicorn", "granian"]), default="uvicorn",
              show_default=True, help="uvicorn workers on their own sockets (portal/serving.py) "
              "or granian's workers; see docs/performance.md for the A/B.")
def run(host: str, port: int, workers: int, server: str) -> None:
    """Serve the portal. On the embedded default it migrates and seeds the demo first."""
    import uvicorn

    from portal.serving import serve, serve_granian

    settings = _settings()
    if settings.is_embedded:
        private_dir(settings.var_dir)
        upgrade_database(settings.database.url)
        _seed_if_empty(settings)
    click.echo(f"Toothline on http://{host}:{port}  (database: {_safe_db(settings)})")
    if server == "granian":
        sys.exit(serve_granian(host, port, workers))
    config = uvicorn.Config(
        "portal.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 (its default): anyone on the
        # host could then choose their address. The app does it, for
        # TOOTHLINE_TRUSTED_PROXIES only (portal.http_middleware.TrustedProxyMiddleware).
        proxy_headers=False,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=5,
    )
    sys.exit(serve(config, workers))


@main.command()
@click.option("--concurrency", default=2, show_default=True, type=click.IntRange(min=1),
              help="Jobs this worker process runs at the same time.")
@click.option("--queue", "queue_name", default="toothline", show_default=True,
              help="The SAQ queue (the portal's is 'toothline').")
def worker(concurrency: int, queue_name: str) -> None:
    """Run background jobs from Redis (TOOTHLINE_REDIS_URL) until SIGTERM. Start as many
    worker processes as you like; without Redis the portal runs its jobs itself."""
    import logging

    from portal.jobs.saq_engine import SaqOptions
    from portal.jobs.worker import build_worker, run_worker

    settings = _settings()
    if not settings.session.redis_url:
        click.echo("toothline worker: TOOTHLINE_REDIS_URL is not set; without Redis the "
                   "portal runs its background jobs in its own process (nothing to do here).",
                   err=True)
        sys.exit(2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    click.echo(f"Toothline worker on queue {queue_name!r} (database: {_safe_db(settings)})")
    built = build_worker(settings, concurrency=concurrency,
                         options=SaqOptions(queue_name=queue_name))
    asyncio.run(run_worker(built))


def _safe_db(settings: Settings) -> str:
    url = settings.database.url
    return url.split("@")[-1] if "@" in url else url


def _seed_if_empty(settings: Settings) -> None:
    from portal.demo import database_is_empty, seed_demo

    async def work(db: AsyncSession) -> None:
        if await database_is_empty(db):
            result = await seed_demo(db, settings.demo_password)
            click.echo("Empty database: seeded the demo organizations and accounts.")
            _print_demo(result.password, result.password_was_generated)

    _with_db(settings, work)


def _print_demo(password: str, generated: bool) -> None:
    from portal.demo import ACCOUNTS

    for email, role, *_ in ACCOUNTS:
        click.echo(f"  {email:<24} {role}")
    if generated:
        click.echo(f"  password for all demo accounts: {password}")
    else:
        click.echo("  password: the value of TOOTHLINE_DEMO_PASSWORD")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    settings = _settings()
    upgrade_database(settings.database.url, revision)
    click.echo(f"Database at {revision}.")


@main.command()
def demo() -> None:
    """Create (or reset) the demo organizations and accounts."""
    from portal.demo import seed_demo

    settings = _settings()
    upgrade_database(settings.database.url)
    result = _with_db(settings, lambda db: seed_demo(db, settings.demo_password))
    click.echo("Demo organizations and accounts are ready:")
    _print_demo(result.password, result.password_was_generated)


@main.group()
def users() -> None:
    """Accounts."""


@users.command("create-admin")
@click.argument("email")
def create_admin(email: str) -> None:
    """Create an admin account (password from TOOTHLINE_ADMIN_PASSWORD, else asked for)."""
    from sqlalchemy import select

    from portal.accounts.passwords import WeakPassword, check_password_policy, hash_password
    from portal.accounts.services import normalize_email
    from storage.models import Organization, Role, User

    settings = _settings()
    password = os.environ.get("TOOTHLINE_ADMIN_PASSWORD") or getpass.getpass("Password: ")
    try:
        check_password_policy(password)
    except WeakPassword as exc:
        click.echo(f"toothline: {exc}", err=True)
        sys.exit(2)

    async def work(db: AsyncSession) -> str:
        address = normalize_email(email)
        user = await db.scalar(select(User).where(User.email == address))
        if user is not None and user.role != Role.ADMIN:
            raise click.ClickException(f"{address} exists with role {user.role}")
        if user is None:
            user = User(email=address, role=Role.ADMIN, display_name="Administrator")
            db.add(user)
        user.password_hash = hash_password(password)
        user.is_active = True
        user.organizations = list((await db.scalars(select(Organization))).all())
        return address

    upgrade_database(settings.database.url)
    click.echo(f"Admin account {_with_db(settings, work)} is ready.")


@main.group()
def blobs() -> None:
    """The blob store."""


@blobs.command("sweep")
@click.option("--min-age-minutes", default=60, show_default=True, type=click.IntRange(min=1),
              help="Only blobs older than this are removed (an upload in progress is younger).")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
def blobs_sweep(min_age_minutes: int, dry_run: bool) -> None:
    """Remove blobs that no row points at (left by a crash, a removed attachment or a package
    prepared again), under every prefix a model registers (storage/models/blob_refs.py);
    audit checkpoints are never swept. Expired resumable uploads go too, with their parts."""
    from datetime import timedelta

    from reviewer.intake.sweep import sweep_work_folders
    from reviewer.intake.uploads import sweep_expired_uploads, sweep_stray_parts
    from storage.blobs import open_blob_store
    from storage.blobs.sweep import SweepResult, sweep_blob_temporaries, sweep_orphan_blobs

    settings = _settings()
    min_age = timedelta(minutes=min_age_minutes)

    async def work(db: AsyncSession) -> tuple[SweepResult, int, int]:
        store = open_blob_store(settings.blobs.url)
        try:
            result = await sweep_orphan_blobs(db, store, min_age=min_age, dry_run=dry_run)
            temporaries = await sweep_blob_temporaries(store, min_age=min_age, dry_run=dry_run)
            expired = await sweep_expired_uploads(db, store, dry_run=dry_run)
            expired += await sweep_stray_parts(db, store, min_age=min_age, dry_run=dry_run)
            return result, temporaries, expired
        finally:
            await store.aclose()

    result, temporaries, expired = _with_db(settings, work)
    # Upload work folders (portal.intake) a killed process left under the var dir.
    folders = sweep_work_folders(settings.var_dir / "tmp", "upload-", min_age=min_age,
                                 dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"Checked {result.checked} blobs: {verb} {result.removed} orphans, kept {result.kept}, "
        f"{result.too_recent} younger than {min_age_minutes} min left alone."
    )
    if temporaries or folders:
        click.echo(f"{verb.capitalize()} {temporaries} half-written blob files and "
                   f"{folders} abandoned upload folders.")
    if expired:
        click.echo(f"{verb.capitalize()} {expired} expired resumable uploads and stray parts.")


@main.group()
def media() -> None:
    """Uploaded pictures."""


@media.command("derive-pending")
def media_derive_pending() -> None:
    """Make the display and thumbnail of every attachment still processing, now."""
    from reviewer.intake.derivation import derive_pending
    from storage.blobs import open_blob_store

    settings = _settings()

    async def runner() -> dict[str, int]:
        engine = create_engine(settings.database.url)
        store = open_blob_store(settings.blobs.url)
        try:
            return await derive_pending(
                create_session_maker(engine), store, settings.var_dir / "tmp" / "derive"
            )
        finally:
            await store.aclose()
            await engine.dispose()

    counts = asyncio.run(runner())
    click.echo(
        f"Derived {counts['ready']}; {counts['lost'] + counts['gone']} done elsewhere meanwhile; "
        f"{counts['failed']} could not be derived; {counts['error']} errors (still pending)."
    )
    if counts["error"]:
        sys.exit(1)


@main.group()
def audit() -> None:
    """The audit trail."""


@dataclass
class _Verdict:
    checked: int = 0
    broken: list[BrokenLink] = field(default_factory=list)
    checkpoint: str | None = None
    checkpoint_problem: str | None = None
    views_checked: int = 0
    edited_views: list[EditedView] = field(default_factory=list)


def _first_per_chain(links: list[BrokenLink]) -> list[BrokenLink]:
    first: dict[str, BrokenLink] = {}
    for link in links:
        if link.chain not in first or link.seq < first[link.chain].seq:
            first[link.chain] = link
    return [first[chain] for chain in sorted(first)]


async def _check_checkpoint(db: AsyncSession, store: BlobStore, key: AuditKey,
                            verdict: _Verdict) -> None:
    """Compare the database with the latest checkpoint; fill ``verdict`` in."""
    from storage.audit_checkpoint import (
        CheckpointInvalid,
        compare_with_checkpoint,
        latest_checkpoint,
    )

    try:
        checkpoint = await latest_checkpoint(store, key)
    except CheckpointInvalid as exc:
        verdict.checkpoint_problem = str(exc)
        return
    except BlobError as exc:
        verdict.checkpoint_problem = f"the checkpoints cannot be read: {exc}"
        return
    if checkpoint is not None:
        verdict.checkpoint = f"{checkpoint.key} (written {checkpoint.written_at})"
        verdict.broken = _first_per_chain(
            [*verdict.broken, *await compare_with_checkpoint(db, checkpoint)])


def _report_broken(verdict: _Verdict) -> None:
    for link in verdict.broken:
        click.echo(
            f"BROKEN chain {link.chain} at seq {link.seq} (event {link.event_id}): {link.reason}",
            err=True,
        )
    if verdict.checkpoint_problem:
        click.echo(f"BROKEN {verdict.checkpoint_problem}", err=True)


def _audit_run(settings: Settings, work: Callable[[AsyncSession, BlobStore], Awaitable[T]]) -> T:
    async def with_store(db: AsyncSession) -> T:
        store = open_blob_store(settings.blobs.url)
        try:
            return await work(db, store)
        finally:
            await store.aclose()

    return _with_db(settings, with_store)


@audit.command("verify")
def audit_verify() -> None:
    """Check every chain's MACs and that it reaches the latest checkpoint, and every view
    row's MAC; name the first broken event of each chain and every edited view (exit 1)."""
    from storage.audit import verify_chains, verify_views

    settings = _settings()
    key = AuditKey.from_secret(settings.audit.key)

    async def work(db: AsyncSession, store: BlobStore) -> _Verdict:
        checked, broken = await verify_chains(db, key)
        verdict = _Verdict(checked=checked, broken=broken)
        await _check_checkpoint(db, store, key, verdict)
        verdict.views_checked, verdict.edited_views = await verify_views(db, key)
        return verdict

    verdict = _audit_run(settings, work)
    views = f"{verdict.views_checked} view events checked"
    if not verdict.broken and not verdict.checkpoint_problem and not verdict.edited_views:
        anchored = (f"reaches checkpoint {verdict.checkpoint}" if verdict.checkpoint else
                    "no checkpoint yet, so events cut off the end cannot be detected "
                    "(run toothline audit checkpoint)")
        click.echo(f"Audit trail intact: {verdict.checked} events checked; {anchored}; "
                   f"{views}.")
        return
    _report_broken(verdict)
    for view in verdict.edited_views:
        click.echo(f"EDITED view event {view.view_id} ({view.action} at "
                   f"{view.occurred_at.isoformat()}): content does not match its MAC (row "
                   "edited, or written with another audit key)", err=True)
    problems = []
    if verdict.broken or verdict.checkpoint_problem:
        problems.append(f"broken in {len(verdict.broken)} chain(s)"
                        f"{' and its checkpoint' if verdict.checkpoint_problem else ''}")
    if verdict.edited_views:
        problems.append(f"{len(verdict.edited_views)} view event(s) edited")
    click.echo(f"Audit trail {' and '.join(problems)}; {verdict.checked} events checked; "
               f"{views}.", err=True)
    sys.exit(1)


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Write the head of every chain, signed, to the blob store, and print the heads."""
    from storage.audit_checkpoint import write_checkpoint

    settings = _settings()
    key = AuditKey.from_secret(settings.audit.key)

    async def work(db: AsyncSession, store: BlobStore) -> Checkpoint:
        return await write_checkpoint(db, store, key)

    _print_checkpoint(_audit_run(settings, work))


def _print_checkpoint(checkpoint: Checkpoint) -> None:
    click.echo(f"Checkpoint {checkpoint.key}: {len(checkpoint.heads)} chain(s).")
    for head in checkpoint.heads:
        click.echo(f"  {head.chain}  seq {head.seq}  mac {head.mac}  event {head.event_id}  "
                   f"{head.occurred_at}")


@audit.command("rekey")
def audit_rekey() -> None:
    """Once, after upgrading from a release without TOOTHLINE_AUDIT_KEY: check the old
    SHA-256 links, give every link a MAC under the key and write a checkpoint."""
    from storage.audit import RekeyResult, rekey_chains
    from storage.audit_checkpoint import write_checkpoint

    settings = _settings()
    key = AuditKey.from_secret(settings.audit.key)

    async def work(db: AsyncSession, store: BlobStore) -> tuple[_Verdict, RekeyResult | None,
                                                                 Checkpoint | None]:
        verdict = _Verdict()
        # No downgrade: a trail that no longer passes through its latest checkpoint (e.g.
        # rewritten to plain SHA-256 after it was keyed) is refused, not keyed anew.
        await _check_checkpoint(db, store, key, verdict)
        if verdict.broken or verdict.checkpoint_problem:
            return verdict, None, None
        result = await rekey_chains(db, key)
        if result.broken:
            verdict.broken = result.broken
            return verdict, result, None
        await db.commit()
        return verdict, result, await write_checkpoint(db, store, key)

    verdict, result, checkpoint = _audit_run(settings, work)
    if result is None or checkpoint is None:
        _report_broken(verdict)
        click.echo("Nothing was changed: the trail is not intact (see docs/access.md, "
                   "\"When verify fails\").", err=True)
        sys.exit(1)
    click.echo(f"Rekeyed {result.rekeyed} plain SHA-256 link(s); {result.events} events in "
               f"{result.chains} chain(s) now carry MACs under TOOTHLINE_AUDIT_KEY.")
    _print_checkpoint(checkpoint)


if __name__ == "__main__":
    main()
