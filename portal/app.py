"""The application factory: every plugin and middleware is listed here; the controllers come
from portal/routes.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from litestar import Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.middleware.base import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig

from portal.accounts.csrf import token_for_template
from portal.accounts.middleware import AuthMiddleware
from portal.accounts.sessions import RotatingSessionConfig
from portal.audit_checkpoints import audit_checkpoint_lifespan
from portal.errors import EXCEPTION_HANDLERS, rollback_on_domain_error
from portal.http_middleware import (
    BearerAwareCSRFMiddleware,
    RequestLogMiddleware,
    TrustedProxyMiddleware,
    json_log_formatter,
    security_headers_hook,
)
from portal.i18n import LanguageMiddleware
from portal.i18n import install as install_i18n
from portal.intake.worker import derivation_lifespan
from portal.jobs import JobEngine, jobs_lifespan, make_engine
from portal.notifications.senders import delivery as notification_delivery
from portal.openapi_errors import JsonSchemaWithErrors
from portal.rendering import FILTERS
from portal.requests import DEPENDENCIES
from portal.routes import API_CONTROLLERS, PAGE_CONTROLLERS
from portal.settings import Settings, get_settings
from reviewer.intake.quality import browser_thresholds
from reviewer.jobs import SINK as JOBS_SINK
from reviewer.notifications.delivery import configure as configure_notifications
from storage.audit import configure_audit_key
from storage.blobs import open_blob_store
from storage.database import create_engine, create_session_maker
from storage.private import private_dir


def _package_folder(name: str) -> Path:
    """A folder of the ``portal`` package as a real path (Jinja and the static router read
    files from disk). ``portal/templates`` is a symlink to the repository's top-level
    ``templates/``; a wheel carries the files themselves (package data), so the same lookup
    serves a checkout, an editable and a non-editable install."""
    folder = resources.files("portal") / name
    if not isinstance(folder, Path) or not folder.is_dir():
        raise RuntimeError(f"portal/{name} is missing from this installation ({folder})")
    return folder


TEMPLATES_DIR = _package_folder("templates")
STATIC_DIR = _package_folder("static")


def _session_store(settings: Settings) -> Store:
    if settings.session.redis_url:
        return RedisStore.with_client(url=settings.session.redis_url, namespace="toothline-session")
    return FileStore(private_dir(settings.var_dir / "sessions"))


def create_app(settings: Settings | None = None, *, jobs: JobEngine | None = None) -> Litestar:
    """Build a fresh app (and a fresh engine): never share one app between test clients.
    ``jobs`` replaces the job engine the settings name (tests: a queue of their own)."""
    settings = settings or get_settings()
    audit_key = configure_audit_key(settings.audit.key)  # record_event's key, process-wide
    configure_notifications(notification_delivery(settings, TEMPLATES_DIR))  # also process-wide
    engine = create_engine(
        settings.database.url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    session_maker = create_session_maker(engine)
    jobs = jobs or make_engine(settings)  # request sessions hand it their jobs at commit
    db_config = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_config=AsyncSessionConfig(expire_on_commit=False, info={JOBS_SINK: jobs}),
        before_send_handler="autocommit_include_redirects",
        create_all=False,
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.blobs = open_blob_store(settings.blobs.url)
        try:
            yield
        finally:
            await app.state.blobs.aclose()
            await engine.dispose()

    session_config = RotatingSessionConfig(
        key="session",
        max_age=settings.session.max_hours * 3600,
        secure=settings.server.is_https,
        httponly=True,
        samesite="lax",
        store="sessions",
    )
    csrf_config = CSRFConfig(
        secret=settings.session.secret_key,
        cookie_secure=settings.server.is_https,
        cookie_samesite="lax",
        cookie_httponly=False,
    )
    api = Router(path="/api/v1", route_handlers=API_CONTROLLERS, tags=["api"])

    app = Litestar(
        route_handlers=[
            *PAGE_CONTROLLERS,
            api,
            create_static_files_router(
                path="/static", directories=[STATIC_DIR], opt={"public": True},
                include_in_schema=False,
            ),
        ],
        plugins=[SQLAlchemyPlugin(config=db_config), HTMXPlugin()],
        middleware=[
            DefineMiddleware(TrustedProxyMiddleware, trusted=settings.server.trusted_proxies),
            DefineMiddleware(RequestLogMiddleware),
            session_config.middleware,
            DefineMiddleware(BearerAwareCSRFMiddleware, config=csrf_config),
            DefineMiddleware(AuthMiddleware),
            DefineMiddleware(LanguageMiddleware),  # after Auth: the account's language
        ],
        before_send=[security_headers_hook(hsts=settings.server.is_https)],
        stores={"sessions": _session_store(settings)},
        template_config=TemplateConfig(
            directory=TEMPLATES_DIR, engine=JinjaTemplateEngine, engine_callback=_csrf_callable
        ),
        openapi_config=OpenAPIConfig(
            title="Toothline API",
            version="1.0.0",
            path="/schema",
            render_plugins=[JsonSchemaWithErrors()],
        ),
        # who / audit / blobs, injected by name (portal/requests.py)
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        after_exception=[rollback_on_domain_error(db_config)],  # a DomainError never commits
        # blobs first, then the workers (stopped in reverse order)
        lifespan=[lifespan, derivation_lifespan, jobs_lifespan, audit_checkpoint_lifespan],
        request_max_body_size=1_000_000,
        debug=False,
    )
    app.state.settings = settings
    app.state.audit_key = audit_key
    app.state.db_sessionmaker = session_maker
    app.state.jobs = jobs
    _configure_logging()
    return app


def _csrf_callable(engine: JinjaTemplateEngine) -> None:
    """Templates' ``csrf_token()`` gives the token bound to the session at render time; their
    ``label`` and ``local_time`` filters come from :mod:`portal.rendering`."""
    engine.register_template_callable(key="csrf_token", template_callable=token_for_template)
    engine.engine.filters.update(FILTERS)
    install_i18n(engine.engine)  # {% trans %}, _(), dates in the request's language
    engine.engine.globals["quality_thresholds"] = browser_thresholds  # photo quality check


def _configure_logging() -> None:
    """JSON lines on stderr for the portal's own loggers (requests carry no PHI)."""
    logger = logging.getLogger("toothline")
    if not any(getattr(h, "toothline", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(json_log_formatter())
        handler.toothline = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.INFO)
