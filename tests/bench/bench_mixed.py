"""Mixed load: hygienists uploading, dentists reviewing, patients reading, billing downloading.

    .venv/bin/python -m tests.bench.bench_mixed [--seconds 60] [--images 600] [--server both]

Creates the PostgreSQL database ``toothline_bench`` on the server of
``TOOTHLINE_TEST_POSTGRES_URL`` (dropped afterwards), seeds the demo accounts plus four
hygienists and fifty patient logins, starts the portal with two workers on loopback, Redis
(``TOOTHLINE_REDIS_URL``, database 9, flushed) and one ``toothline worker`` for the derivatives,
then runs locust headless as a subprocess (its gevent monkey-patching stays out of this
process) with the user classes of tests/bench/mixed_users.py for ``--seconds``. ``--images``
is the screening day the hygienists upload (600 in the issue; the run stops earlier when the
time is up). ``--server`` runs the same load against ``uvicorn`` (portal/serving.py, the
default), ``granian`` or ``both`` (the serving A/B). Prints p50/p95 per request kind, uploads
per second, upload-to-thumbnail p95 and errors against the targets; writes
tests/bench/results/mixed.json.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select, text

from portal.demo import seed_demo
from storage.database import create_engine, create_session_maker, upgrade_database
from storage.models import Organization, Patient, User, patient_login
from storage.models.user import Role
from tests.bench.summary import Target, check_targets
from tests.support.live import free_port

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).parent / "results"
ADMIN_URL = os.environ.get(
    "TOOTHLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = "toothline_bench"
REDIS_URL = os.environ.get("TOOTHLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
PASSWORD = "bench-password-123"
HYGIENISTS = 4
PATIENTS = 50
SIGN_IN_ALLOWANCE_S = 900
"""Locust's own limit on top of the measured window: the users sign in first (argon2)."""
TARGETS = (Target("page p95 ms", 300.0), Target("upload to thumbnail p95 ms", 5000.0),
           Target("errors", 0.0))


def _db_url(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


async def _admin(statement: str) -> None:
    engine = create_engine(ADMIN_URL)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def _seed(url: str) -> None:
    """The demo accounts, three more hygienists of the school and fifty patient logins of the
    clinic (each linked to its own patient record), all with the bench password."""
    engine = create_engine(url)
    try:
        async with create_session_maker(engine)() as db:
            await seed_demo(db, PASSWORD)
            demo_hygienist = await db.scalar(select(User).where(
                User.email == "hygienist@demo.test"))
            patient_user = await db.scalar(select(User).where(User.email == "patient@demo.test"))
            assert demo_hygienist is not None and patient_user is not None
            orgs = {o.name: o for o in await db.scalars(select(Organization))}
            school = demo_hygienist.organizations[0] if demo_hygienist.organizations else None
            clinic = next(o for o in orgs.values() if o is not school)
            for i in range(1, HYGIENISTS):
                db.add(User(email=f"hygienist{i}@bench.test", role=Role.HYGIENIST,
                            display_name=f"Bench Hygienist {i}", is_active=True,
                            password_hash=demo_hygienist.password_hash,
                            organizations=list(demo_hygienist.organizations)))
            for i in range(PATIENTS):
                user = User(email=f"patient{i}@bench.test", role=Role.PATIENT,
                            display_name=f"Bench Patient {i}", is_active=True,
                            password_hash=patient_user.password_hash, organizations=[clinic])
                patient = Patient(organization_id=clinic.id, first_name=f"Bench{i}",
                                  last_name="Patient", date_of_birth=date(1980, 1, 1 + i % 28),
                                  email=f"patient{i}@bench.test", state="CA")
                db.add_all([user, patient])
                await db.flush()
                await db.execute(patient_login.insert().values(
                    user_id=user.id, patient_id=patient.id))
            await db.commit()
    finally:
        await engine.dispose()


async def _stored(url: str, blobs: Path) -> dict[str, float]:
    """What the run left: attachments, audit events, database bytes and blob bytes (the
    sizing table in docs/performance.md divides these by the attachments)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text(
                "SELECT (SELECT count(*) FROM attachment), (SELECT count(*) FROM audit_event),"
                " pg_database_size(current_database())"))).one()
    finally:
        await engine.dispose()
    blob_bytes = sum(p.stat().st_size for p in blobs.rglob("*") if p.is_file())
    return {"attachments": float(row[0]), "audit events": float(row[1]),
            "database bytes": float(row[2]), "blob bytes": float(blob_bytes)}


@contextmanager
def bench_database() -> Iterator[str]:
    url = _db_url(DB_NAME)
    asyncio.run(_admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"))
    asyncio.run(_admin(f"CREATE DATABASE {DB_NAME}"))
    try:
        upgrade_database(url)
        asyncio.run(_seed(url))
        yield url
    finally:
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"))


def _env(db_url: str, var_dir: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOTHLINE_")}
    env.update(
        TOOTHLINE_VAR_DIR=str(var_dir),
        TOOTHLINE_DATABASE_URL=db_url,
        TOOTHLINE_BLOB_URL=f"file://{var_dir}/blobs",
        TOOTHLINE_REDIS_URL=REDIS_URL,
        TOOTHLINE_SECRET_KEY="bench-secret-" + "k" * 40,
        TOOTHLINE_AUDIT_KEY="bench-audit-key-" + "k" * 40,
        TOOTHLINE_PUBLIC_URL=url,
        TOOTHLINE_MAX_UPLOAD_BYTES=str(100 * 1024 * 1024),
        TOOTHLINE_MAX_FILES_PER_CASE="1000",
        PYTHONUNBUFFERED="1",
    )
    return env


def server_command(server: str, port: int, workers: int) -> list[str]:
    """``toothline run --server uvicorn`` (uvicorn workers under portal/serving.py's
    supervisor) or ``--server granian`` (granian's own workers on the same app factory)."""
    return [sys.executable, "-m", "portal.cli", "run", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--server", server]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def stack(server: str, db_url: str, work: Path) -> Iterator[str]:
    """The portal (two workers) and one ``toothline worker`` on Redis; yields the URL."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    var_dir = work / f"var-{server}"
    var_dir.mkdir(parents=True, exist_ok=True)
    env = _env(db_url, var_dir, url)
    logs = [(var_dir / f"{name}.log").open("wb") for name in ("portal", "worker")]
    processes = [
        subprocess.Popen(server_command(server, port, 2), cwd=ROOT, env=env,
                         stdout=logs[0], stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "-m", "portal.cli", "worker", "--concurrency", "2"],
                         cwd=ROOT, env=env, stdout=logs[1], stderr=subprocess.STDOUT),
    ]
    try:
        from tests.bench.servers import wait_http

        wait_http(f"{url}/healthz")
        yield url
    finally:
        for process in processes:
            _stop(process)
        for log in logs:
            log.close()


@dataclass
class Run:
    server: str
    seconds: float
    rows: list[dict[str, float | str]] = field(default_factory=list)
    errors: int = 0
    uploads: int = 0
    uploads_per_s: float = 0.0
    failures: list[str] = field(default_factory=list)


def _ms(value: str) -> float:
    return float(value) if value not in ("", "N/A") else 0.0


def run_locust(
    url: str, seconds: int, images: int, patients: int, work: Path, server: str
) -> Run:
    prefix = work / f"locust-{server}"
    users = HYGIENISTS + 3 + patients + 1
    env = {**os.environ, "BENCH_PASSWORD": PASSWORD, "BENCH_IMAGES": str(images),
           "BENCH_IMAGE_DIR": str(work / "images"), "PYTHONPATH": str(ROOT),
           "BENCH_USERS": str(users), "BENCH_PATIENTS": str(patients),
           "BENCH_SECONDS": str(seconds)}
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(Path(__file__).parent / "mixed_users.py"),
         "--headless", "--host", url, "-u", str(users), "-r", str(users),
         "-t", f"{seconds + SIGN_IN_ALLOWANCE_S}s",
         "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "10"],
        cwd=ROOT, env=env, check=False, timeout=seconds + SIGN_IN_ALLOWANCE_S + 60,
    )
    result = Run(server=server, seconds=float(seconds))
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                continue
            result.rows.append({
                "type": row["Type"], "name": row["Name"], "count": float(row["Request Count"]),
                "failures": float(row["Failure Count"]), "p50": _ms(row["50%"]),
                "p95": _ms(row["95%"]),
            })
            if row["Type"] != "METRIC":
                result.errors += int(row["Failure Count"])
            if row["Name"] == "upload":
                result.uploads = int(row["Request Count"])
                result.uploads_per_s = _ms(row["Requests/s"])  # over locust's own window
    with open(f"{prefix}_failures.csv", newline="") as handle:
        result.failures = [f"{r['Method']} {r['Name']}: {r['Error']} x{r['Occurrences']}"
                           for r in csv.DictReader(handle)]
    return result


def report(run: Run) -> dict[str, float]:
    print(f"\n--- {run.server}: {run.seconds:.0f} s of mixed load")
    print(f"{'kind':<30} {'count':>7} {'fail':>5} {'p50 ms':>8} {'p95 ms':>8}")
    for row in sorted(run.rows, key=lambda r: (str(r["type"]), str(r["name"]))):
        print(f"{row['type']!s:<7}{row['name']!s:<23} {row['count']:>7.0f} "
              f"{row['failures']:>5.0f} {row['p50']:>8.0f} {row['p95']:>8.0f}")
    pages = [r for r in run.rows if r["type"] != "METRIC" and r["name"] not in ("upload",)]
    thumbs = [r for r in run.rows if r["name"] == "upload to thumbnail"]
    figures = {
        "page p95 ms": max((float(r["p95"]) for r in pages), default=0.0),
        "upload to thumbnail p95 ms": float(thumbs[0]["p95"]) if thumbs else float("nan"),
        "errors": float(run.errors),
        "uploads per s": run.uploads_per_s,
    }
    print(f"uploads per second: {figures['uploads per s']:.2f}")
    for line in check_targets(figures, TARGETS):
        print(line)
    for failure in run.failures[:10]:
        print("  failure:", failure)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--images", type=int, default=600,
                        help="the screening day the hygienists upload (default 600)")
    parser.add_argument("--patients", type=int, default=PATIENTS,
                        help="patients checking their cases (default 50; each signs in first)")
    parser.add_argument("--server", choices=("uvicorn", "granian", "both"), default="both")
    args = parser.parse_args()
    servers = ["uvicorn", "granian"] if args.server == "both" else [args.server]
    out: dict[str, object] = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                              "seconds": args.seconds, "images": args.images,
                              "patients": args.patients, "runs": {}}
    ok = True
    with tempfile.TemporaryDirectory(prefix="toothline-mixed-") as tmp:
        work = Path(tmp)
        from tests.bench.mixed_users import make_images

        make_images(work / "images")
        for server in servers:
            with bench_database() as db_url, stack(server, db_url, work) as url:
                run = run_locust(url, args.seconds, args.images, args.patients, work,
                                 server)
                stored = asyncio.run(_stored(db_url, work / f"var-{server}" / "blobs"))
            figures = report(run)
            print("stored: " + ", ".join(f"{k} {v:,.0f}" for k, v in stored.items()))
            ok = ok and not check_targets(figures, TARGETS, failed_only=True)
            out["runs"][server] = {"figures": figures, "stored": stored, **asdict(run)}  # type: ignore[index]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mixed.json").write_text(json.dumps(out, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
