"""The ``toothline`` command: run, db upgrade, demo, users create-admin, blobs sweep, media
derive-pending, audit verify."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from portal.settings import Settings, SettingsError, get_settings
from storage.database import create_engine, create_session_maker, upgrade_database
from storage.private import private_dir

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        click.echo(f"toothline: invalid setting {exc}", err=True)
        sys.exit(2)


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
def run(host: str, port: int, workers: int) -> None:
    """Serve the portal. On the embedded default it migrates and seeds the demo first."""
    import uvicorn

    from portal.serving import serve

    settings = _settings()
    if settings.is_embedded:
        private_dir(settings.var_dir)
        upgrade_database(settings.database.url)
        _seed_if_empty(settings)
    click.echo(f"Toothline on http://{host}:{port}  (database: {_safe_db(settings)})")
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
    """Remove blobs that no row points at (left by a crash or a removed attachment)."""
    from datetime import timedelta

    from reviewer.intake.sweep import (
        SweepResult,
        sweep_blob_temporaries,
        sweep_orphan_blobs,
        sweep_work_folders,
    )
    from storage.blobs import open_blob_store

    settings = _settings()
    min_age = timedelta(minutes=min_age_minutes)

    async def work(db: AsyncSession) -> tuple[SweepResult, int]:
        store = open_blob_store(settings.blobs.url)
        try:
            result = await sweep_orphan_blobs(db, store, min_age=min_age, dry_run=dry_run)
            temporaries = await sweep_blob_temporaries(store, min_age=min_age, dry_run=dry_run)
            return result, temporaries
        finally:
            await store.aclose()

    result, temporaries = _with_db(settings, work)
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


@audit.command("verify")
def audit_verify() -> None:
    """Walk every hash chain of the audit trail; name the first broken link (exit 1)."""
    from storage.audit import BrokenLink, verify_chains

    settings = _settings()
    checked, broken = _with_db(settings, verify_chains)
    if not broken:
        click.echo(f"Audit trail intact: {checked} events checked.")
        return
    link: BrokenLink
    for link in broken:
        click.echo(
            f"BROKEN chain {link.chain} at seq {link.seq} (event {link.event_id}): {link.reason}",
            err=True,
        )
    click.echo(f"Audit trail broken in {len(broken)} chain(s); {checked} events checked.",
               err=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
