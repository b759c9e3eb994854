"""Settings, one dataclass per concern, read from ``TOOTHLINE_*`` environment variables.

Every field has an embedded default so that ``toothline run`` works on a fresh machine with
a SQLite file and a local blob folder under ``./var/``. :func:`get_settings` caches the
result; tests call :func:`get_settings.cache_clear` after changing the environment.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage.database import UnsupportedDatabaseURL, to_async_database_url
from storage.private import private_dir

PREFIX = "TOOTHLINE_"


class SettingsError(ValueError):
    """An environment variable holds a value the portal cannot use."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{PREFIX}{variable}: {reason}")
        self.variable = PREFIX + variable
        self.reason = reason


def _env(name: str, default: str) -> str:
    value = os.environ.get(PREFIX + name, "").strip()
    return value or default


def _env_int(name: str, default: int, *, minimum: int = 1, maximum: int | None = None) -> int:
    raw = _env(name, str(default))
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise SettingsError(name, f"expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(name, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(name, f"must be at most {maximum}, got {value}")
    return value


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name, "1" if default else "0").lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(name, f"expected true or false, got {raw!r}")


MAX_API_TOKEN_DAYS = 3650
"""Ten years: a lifetime beyond that is a typo, not a policy."""


def _var_dir() -> Path:
    return Path(_env("VAR_DIR", "./var")).resolve()


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    """The plain URL as configured (``postgresql://…`` or ``sqlite:///…``)."""
    echo: bool = False
    pool_size: int = 10

    @property
    def async_url(self) -> str:
        return to_async_database_url(self.url)

    @property
    def is_sqlite(self) -> bool:
        return self.async_url.startswith("sqlite")

    @classmethod
    def from_env(cls, var_dir: Path) -> DatabaseSettings:
        url = _env("DATABASE_URL", f"sqlite:///{var_dir / 'toothline.db'}")
        try:
            to_async_database_url(url)
        except UnsupportedDatabaseURL as exc:
            raise SettingsError("DATABASE_URL", str(exc)) from None
        if url.startswith("sqlite") and not url.startswith("sqlite:///"):
            raise SettingsError("DATABASE_URL", "a SQLite URL is sqlite:///path/to/file.db")
        return cls(
            url=url,
            echo=_env_bool("DATABASE_ECHO", False),
            pool_size=_env_int("DATABASE_POOL_SIZE", 10),
        )


@dataclass(frozen=True)
class BlobSettings:
    url: str
    """``file://PATH`` (default, under ``./var/blobs``) or ``s3://KEY:SECRET@HOST:PORT/BUCKET``."""

    @classmethod
    def from_env(cls, var_dir: Path) -> BlobSettings:
        url = _env("BLOB_URL", f"file://{var_dir / 'blobs'}")
        scheme = urlsplit(url).scheme
        if scheme not in {"file", "s3", "memory"}:
            raise SettingsError("BLOB_URL", f"unsupported scheme {scheme!r}; use file:// or s3://")
        return cls(url=url)


@dataclass(frozen=True)
class UploadSettings:
    max_upload_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 60_000_000
    """Takes a 48-megapixel phone photo; anything larger is refused before decoding."""
    max_files_per_case: int = 20
    derive_inline: bool = False
    """Make the display and thumbnail inside the upload request (the row is ready at once)
    instead of in the background derivation worker."""
    chunk_timeout_s: int = 30
    """A client that sends nothing of its upload body for this long gets 408 (uvicorn has
    no body-read timeout of its own)."""
    expire_hours: int = 24
    """An incomplete resumable (tus) upload expires this long after it was created; the
    blob sweep then removes it and its stored parts (``TOOTHLINE_UPLOAD_EXPIRE_HOURS``)."""

    @classmethod
    def from_env(cls) -> UploadSettings:
        return cls(
            max_upload_bytes=_env_int("MAX_UPLOAD_BYTES", cls.max_upload_bytes),
            max_image_pixels=_env_int("MAX_IMAGE_PIXELS", cls.max_image_pixels),
            max_files_per_case=_env_int("MAX_FILES_PER_CASE", cls.max_files_per_case),
            derive_inline=_env_bool("DERIVE_INLINE", cls.derive_inline),
            chunk_timeout_s=_env_int("UPLOAD_CHUNK_TIMEOUT_S", cls.chunk_timeout_s),
            expire_hours=_env_int("UPLOAD_EXPIRE_HOURS", cls.expire_hours),
        )


@dataclass(frozen=True)
class SessionSettings:
    secret_key: str
    idle_minutes: int = 15
    max_hours: int = 12
    redis_url: str | None = None
    login_max_failures: int = 10
    login_max_failures_per_address: int = 50
    login_lock_minutes: int = 15
    secret_key_was_generated: bool = False
    api_token_days: int = 90
    """How long a new API token works; it then answers 401 like an unknown one."""

    @classmethod
    def from_env(cls, var_dir: Path, *, embedded: bool) -> SessionSettings:
        secret = os.environ.get(PREFIX + "SECRET_KEY", "").strip()
        generated = False
        if not secret:
            if not embedded:
                raise SettingsError(
                    "SECRET_KEY",
                    "required with PostgreSQL or an https public URL "
                    "(generate one: python3 -c 'import secrets; print(secrets.token_urlsafe(48))')",
                )
            secret = _load_or_create_secret(var_dir / "secret_key")
            generated = True
        elif len(secret) < 32:
            raise SettingsError("SECRET_KEY", "must be at least 32 characters")
        redis_url = _env("REDIS_URL", "") or None
        if redis_url and urlsplit(redis_url).scheme not in {"redis", "rediss", "unix"}:
            raise SettingsError("REDIS_URL", "expected redis://host:port/db")
        return cls(
            secret_key=secret,
            idle_minutes=_env_int("SESSION_IDLE_MINUTES", 15),
            max_hours=_env_int("SESSION_MAX_HOURS", 12),
            redis_url=redis_url,
            login_max_failures=_env_int("LOGIN_MAX_FAILURES", 10),
            login_max_failures_per_address=_env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 50),
            login_lock_minutes=_env_int("LOGIN_LOCK_MINUTES", 15),
            secret_key_was_generated=generated,
            api_token_days=_env_int("API_TOKEN_DAYS", 90, maximum=MAX_API_TOKEN_DAYS),
        )


def _load_or_create_secret(path: Path) -> str:
    """Keep one generated secret in ``./var/`` so sessions survive a restart."""
    if path.exists():
        return path.read_text().strip()
    private_dir(path.parent)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


@dataclass(frozen=True)
class JobSettings:
    """Where background jobs run (docs/jobs.md): ``saq`` (Redis, ``toothline worker``
    processes) when ``TOOTHLINE_REDIS_URL`` is set, else ``inprocess`` (a task of each portal
    process). ``TOOTHLINE_JOBS`` forces one; ``saq`` without a Redis URL is refused."""

    engine: str = "inprocess"
    redis_url: str | None = None

    @classmethod
    def from_env(cls, redis_url: str | None) -> JobSettings:
        engine = _env("JOBS", "saq" if redis_url else "inprocess").lower()
        if engine not in {"inprocess", "saq"}:
            raise SettingsError("JOBS", f"expected inprocess or saq, got {engine!r}")
        if engine == "saq" and not redis_url:
            raise SettingsError("JOBS", "saq needs TOOTHLINE_REDIS_URL")
        return cls(engine=engine, redis_url=redis_url)


@dataclass(frozen=True)
class AuditSettings:
    key: str = field(repr=False)
    """``TOOTHLINE_AUDIT_KEY``: the HMAC key of the audit trail's links and checkpoints. Never
    stored in the database, so that writing the database is not enough to rewrite the trail."""
    checkpoint_minutes: int = 60
    """How often each portal process writes a signed checkpoint of the chain heads."""
    key_was_generated: bool = False

    @classmethod
    def from_env(cls, var_dir: Path, *, embedded: bool) -> AuditSettings:
        key = os.environ.get(PREFIX + "AUDIT_KEY", "").strip()
        generated = False
        if not key:
            if not embedded:
                raise SettingsError(
                    "AUDIT_KEY",
                    "required with PostgreSQL or an https public URL "
                    "(generate one: python3 -c 'import secrets; print(secrets.token_urlsafe(48))')",
                )
            key = _load_or_create_secret(var_dir / "audit_key")
            generated = True
        elif len(key) < 32:
            raise SettingsError("AUDIT_KEY", "must be at least 32 characters")
        return cls(
            key=key,
            checkpoint_minutes=_env_int("AUDIT_CHECKPOINT_MINUTES", cls.checkpoint_minutes),
            key_was_generated=generated,
        )


@dataclass(frozen=True)
class ServerSettings:
    public_url: str = "http://127.0.0.1:8000"
    time_zone: str = "America/Los_Angeles"
    """Default time zone for new organizations; each organization keeps its own."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks (``10.0.0.5``, ``10.0.0.0/8``) whose ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` are believed; from anyone else those headers are ignored."""

    @property
    def is_https(self) -> bool:
        return self.public_url.startswith("https://")

    @classmethod
    def from_env(cls) -> ServerSettings:
        public_url = _env("PUBLIC_URL", cls.public_url).rstrip("/")
        if urlsplit(public_url).scheme not in {"http", "https"}:
            raise SettingsError("PUBLIC_URL", "expected an http:// or https:// URL")
        time_zone = _env("TIME_ZONE", cls.time_zone)
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError("TIME_ZONE", f"unknown time zone {time_zone!r}") from None
        return cls(public_url=public_url, time_zone=time_zone,
                   trusted_proxies=_trusted_proxies())


def _trusted_proxies() -> tuple[str, ...]:
    """``TOOTHLINE_TRUSTED_PROXIES``: comma-separated IPs or CIDR networks; empty = none."""
    found: list[str] = []
    for item in _env("TRUSTED_PROXIES", "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise SettingsError(
                "TRUSTED_PROXIES", f"{item!r} is not an IP address or network (10.0.0.0/8)"
            ) from None
        found.append(
            str(network.network_address) if network.num_addresses == 1 else str(network)
        )
    return tuple(found)


@dataclass(frozen=True)
class MailSettings:
    smtp_url: str | None = None
    """``smtp://user:pass@host:587`` (STARTTLS, required when a password is given unless
    ``?starttls=0``) or ``smtps://user:pass@host:465`` (TLS from the start); unset: messages
    are written to ``var/outbox/`` as .eml files (development only)."""
    mail_from: str = "Toothline <no-reply@localhost>"

    @classmethod
    def from_env(cls) -> MailSettings:
        smtp_url = _env("SMTP_URL", "") or None
        if smtp_url:
            parts = urlsplit(smtp_url)
            if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
                raise SettingsError("SMTP_URL", "expected smtp://user:pass@host:port or smtps://…")
            try:
                parts.port  # noqa: B018 - raises on a port that is not a number
            except ValueError:
                raise SettingsError("SMTP_URL", "the port is not a number") from None
        mail_from = _env("MAIL_FROM", cls.mail_from)
        if "@" not in mail_from or "\n" in mail_from or "\r" in mail_from:
            raise SettingsError("MAIL_FROM", "expected an address such as "
                                             "'Clinic <no-reply@clinic.example>'")
        return cls(smtp_url=smtp_url, mail_from=mail_from)


@dataclass(frozen=True)
class SmsSettings:
    """Text messages for notifications (docs/notifications.md)."""

    backend: str = "log"
    """``log`` (development: the text goes to the log, the number masked) or ``twilio``."""
    sms_from: str = ""
    """The sending number (E.164) or messaging service; required for ``twilio``."""
    twilio_account_sid: str = ""
    twilio_auth_token: str = field(default="", repr=False)
    twilio_api_url: str = "https://api.twilio.com"
    """Overridable for tests (a loopback server that records the request)."""

    @classmethod
    def from_env(cls) -> SmsSettings:
        backend = _env("SMS_BACKEND", cls.backend).lower()
        if backend not in {"log", "twilio"}:
            raise SettingsError("SMS_BACKEND", f"expected log or twilio, got {backend!r}")
        settings = cls(
            backend=backend,
            sms_from=_env("SMS_FROM", ""),
            twilio_account_sid=_env("TWILIO_ACCOUNT_SID", ""),
            twilio_auth_token=_env("TWILIO_AUTH_TOKEN", ""),
            twilio_api_url=_env("TWILIO_API_URL", cls.twilio_api_url).rstrip("/"),
        )
        if urlsplit(settings.twilio_api_url).scheme not in {"http", "https"}:
            raise SettingsError("TWILIO_API_URL", "expected an http:// or https:// URL")
        if backend == "twilio":
            for name, value in (("SMS_FROM", settings.sms_from),
                                ("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
                                ("TWILIO_AUTH_TOKEN", settings.twilio_auth_token)):
                if not value:
                    raise SettingsError(name, "required when TOOTHLINE_SMS_BACKEND=twilio")
        return settings


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    database: DatabaseSettings
    blobs: BlobSettings
    uploads: UploadSettings
    session: SessionSettings
    server: ServerSettings
    audit: AuditSettings
    mail: MailSettings = field(default_factory=MailSettings)
    jobs: JobSettings = field(default_factory=JobSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    demo_password: str | None = field(default=None, repr=False)
    screening_dentist_line: str = ""
    """``TOOTHLINE_SCREENING_DENTIST_LINE``: the program's own line under "How to find a
    dentist" on the screening results letters (a clinic list, a help line), printed as set."""

    @property
    def is_embedded(self) -> bool:
        """True on the embedded default (SQLite, plain http): a secret may be generated."""
        return self.database.is_sqlite and not self.server.is_https

    @classmethod
    def from_env(cls) -> Settings:
        var_dir = _var_dir()
        database = DatabaseSettings.from_env(var_dir)
        server = ServerSettings.from_env()
        embedded = database.is_sqlite and not server.is_https
        session = SessionSettings.from_env(var_dir, embedded=embedded)
        return cls(
            var_dir=var_dir,
            database=database,
            blobs=BlobSettings.from_env(var_dir),
            uploads=UploadSettings.from_env(),
            session=session,
            server=server,
            audit=AuditSettings.from_env(var_dir, embedded=embedded),
            mail=MailSettings.from_env(),
            jobs=JobSettings.from_env(session.redis_url),
            sms=SmsSettings.from_env(),
            demo_password=os.environ.get(PREFIX + "DEMO_PASSWORD") or None,
            screening_dentist_line=os.environ.get(PREFIX + "SCREENING_DENTIST_LINE", "")
            .strip()[:300],
        )


KNOWN_VARIABLES = frozenset(
    PREFIX + name
    for name in (
        "VAR_DIR",
        "DATABASE_URL",
        "DATABASE_ECHO",
        "DATABASE_POOL_SIZE",
        "BLOB_URL",
        "SECRET_KEY",
        "PUBLIC_URL",
        "REDIS_URL",
        "MAX_UPLOAD_BYTES",
        "MAX_IMAGE_PIXELS",
        "MAX_FILES_PER_CASE",
        "DERIVE_INLINE",
        "TIME_ZONE",
        "SESSION_IDLE_MINUTES",
        "SESSION_MAX_HOURS",
        "LOGIN_MAX_FAILURES",
        "LOGIN_MAX_FAILURES_PER_ADDRESS",
        "LOGIN_LOCK_MINUTES",
        "DEMO_PASSWORD",
        "ADMIN_PASSWORD",
        "PDF_FONT",
        "UPLOAD_CHUNK_TIMEOUT_S",
        "AUDIT_KEY",
        "AUDIT_CHECKPOINT_MINUTES",
        "SMTP_URL",
        "MAIL_FROM",
        "API_TOKEN_DAYS",
        "TRUSTED_PROXIES",
        "JOBS",
        "SMS_BACKEND",
        "SMS_FROM",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_API_URL",
        "SCREENING_DENTIST_LINE",
    )
)
"""Every variable the portal reads; a test checks compose.yaml sets only these."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
