"""The job engine's choice (TOOTHLINE_JOBS, TOOTHLINE_REDIS_URL), `toothline worker` without
Redis, and what job state shows of an error."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from portal.cli import main
from portal.jobs import JobRunner, make_engine
from portal.jobs.saq_engine import SaqEngine, error_class
from portal.settings import Settings, SettingsError, get_settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("DATABASE_URL", "BLOB_URL", "SECRET_KEY", "PUBLIC_URL", "REDIS_URL", "JOBS"):
        monkeypatch.delenv(f"TOOTHLINE_{name}", raising=False)
    monkeypatch.setenv("TOOTHLINE_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_the_embedded_default_runs_jobs_in_process(env: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env()
    assert settings.jobs.engine == "inprocess"
    assert isinstance(make_engine(settings), JobRunner)


def test_redis_means_saq_unless_told_otherwise(env: pytest.MonkeyPatch) -> None:
    env.setenv("TOOTHLINE_REDIS_URL", "redis://127.0.0.1:6379/0")
    settings = Settings.from_env()
    assert (settings.jobs.engine, settings.jobs.redis_url) == ("saq", "redis://127.0.0.1:6379/0")
    assert isinstance(make_engine(settings), SaqEngine)
    env.setenv("TOOTHLINE_JOBS", "inprocess")
    assert isinstance(make_engine(Settings.from_env()), JobRunner)


@pytest.mark.parametrize(("jobs", "redis", "reason"), [
    ("saq", None, "needs TOOTHLINE_REDIS_URL"),
    ("celery", "redis://127.0.0.1:6379/0", "expected inprocess or saq"),
])
def test_bad_job_settings_are_refused(
    env: pytest.MonkeyPatch, jobs: str, redis: str | None, reason: str,
) -> None:
    env.setenv("TOOTHLINE_JOBS", jobs)
    if redis:
        env.setenv("TOOTHLINE_REDIS_URL", redis)
    with pytest.raises(SettingsError, match=reason) as raised:
        Settings.from_env()
    assert raised.value.variable == "TOOTHLINE_JOBS"


def test_worker_without_redis_says_so_and_fails(env: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(main, ["worker"])
    assert result.exit_code == 2
    assert "TOOTHLINE_REDIS_URL is not set" in result.output


@pytest.mark.parametrize(("stored", "shown"), [
    (None, None),
    ("", None),
    ('Traceback (most recent call last):\n  File "x.py", line 1\n'
     "ValueError: patient Jane Doe has no chart", "ValueError"),
    ("Traceback ...\nsqlalchemy.exc.IntegrityError: (sqlite3) UNIQUE failed", "IntegrityError"),
    ("swept", "swept"),
    ("cancelled", "cancelled"),
    ("something odd: with spaces", "error"),
])
def test_job_state_shows_the_error_class_never_the_message(
    stored: str | None, shown: str | None,
) -> None:
    assert error_class(stored) == shown
