from __future__ import annotations

from pathlib import Path

import pytest

from portal.settings import Settings, SettingsError


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "BLOB_URL", "SECRET_KEY", "PUBLIC_URL", "REDIS_URL",
                 "AUDIT_KEY"):
        monkeypatch.delenv(f"TOOTHLINE_{name}", raising=False)
    monkeypatch.setenv("TOOTHLINE_VAR_DIR", str(tmp_path))
    settings = Settings.from_env()
    assert settings.database.url == f"sqlite:///{tmp_path / 'toothline.db'}"
    assert settings.database.async_url.startswith("sqlite+aiosqlite:///")
    assert settings.blobs.url == f"file://{tmp_path / 'blobs'}"
    assert settings.is_embedded
    # the generated secret is kept, so sessions survive a restart
    assert Settings.from_env().session.secret_key == settings.session.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    # the audit key likewise, generated apart from the secret key
    assert settings.audit.key_was_generated
    assert Settings.from_env().audit.key == settings.audit.key != settings.session.secret_key
    assert (tmp_path / "audit_key").stat().st_mode & 0o777 == 0o600
    assert settings.audit.key not in repr(settings)


def test_postgres_url_gets_async_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOTHLINE_DATABASE_URL", "postgresql://app@db:5432/toothline")
    monkeypatch.setenv("TOOTHLINE_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("TOOTHLINE_AUDIT_KEY", "a" * 40)
    settings = Settings.from_env()
    assert settings.database.async_url == "postgresql+asyncpg://app@db:5432/toothline"
    assert not settings.is_embedded


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DATABASE_URL": "postgresql://app@db/x"}, "TOOTHLINE_SECRET_KEY"),
        ({"PUBLIC_URL": "https://portal.example"}, "TOOTHLINE_SECRET_KEY"),
        ({"DATABASE_URL": "mysql://x"}, "TOOTHLINE_DATABASE_URL"),
        ({"MAX_UPLOAD_BYTES": "lots"}, "TOOTHLINE_MAX_UPLOAD_BYTES"),
        ({"MAX_FILES_PER_CASE": "0"}, "TOOTHLINE_MAX_FILES_PER_CASE"),
        ({"TIME_ZONE": "Mars/Olympus"}, "TOOTHLINE_TIME_ZONE"),
        ({"BLOB_URL": "ftp://x"}, "TOOTHLINE_BLOB_URL"),
        ({"SECRET_KEY": "short"}, "TOOTHLINE_SECRET_KEY"),
        ({"DATABASE_URL": "postgresql://app@db/x", "SECRET_KEY": "k" * 40},
         "TOOTHLINE_AUDIT_KEY"),
        ({"PUBLIC_URL": "https://portal.example", "SECRET_KEY": "k" * 40},
         "TOOTHLINE_AUDIT_KEY"),
        ({"AUDIT_KEY": "short"}, "TOOTHLINE_AUDIT_KEY"),
        ({"AUDIT_CHECKPOINT_MINUTES": "0"}, "TOOTHLINE_AUDIT_CHECKPOINT_MINUTES"),
        ({"TRUSTED_PROXIES": "10.0.0.1,proxy.internal"}, "TOOTHLINE_TRUSTED_PROXIES"),
        ({"TRUSTED_PROXIES": "*"}, "TOOTHLINE_TRUSTED_PROXIES"),
    ],
)
def test_invalid_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    monkeypatch.setenv("TOOTHLINE_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("TOOTHLINE_SECRET_KEY", raising=False)
    monkeypatch.delenv("TOOTHLINE_AUDIT_KEY", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(f"TOOTHLINE_{name}", value)
    with pytest.raises(SettingsError) as info:
        Settings.from_env()
    assert info.value.variable == variable
    assert str(info.value).startswith(variable + ":")


def test_api_token_days_default_and_invalid_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TOOTHLINE_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("TOOTHLINE_API_TOKEN_DAYS", raising=False)
    assert Settings.from_env().session.api_token_days == 90
    monkeypatch.setenv("TOOTHLINE_API_TOKEN_DAYS", "30")
    assert Settings.from_env().session.api_token_days == 30
    for value in ("0", "-5", "ninety", "1.5", "100000"):
        monkeypatch.setenv("TOOTHLINE_API_TOKEN_DAYS", value)
        with pytest.raises(SettingsError) as info:
            Settings.from_env()
        assert info.value.variable == "TOOTHLINE_API_TOKEN_DAYS"


def test_trusted_proxies_default_to_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOOTHLINE_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("TOOTHLINE_TRUSTED_PROXIES", raising=False)
    assert Settings.from_env().server.trusted_proxies == ()
    monkeypatch.setenv("TOOTHLINE_TRUSTED_PROXIES", " 10.0.0.5 , 10.1.0.0/16,::1,192.0.2.9/32")
    assert Settings.from_env().server.trusted_proxies == (
        "10.0.0.5", "10.1.0.0/16", "::1", "192.0.2.9")
