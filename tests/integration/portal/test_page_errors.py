"""The page-error rule (portal/errors.py): a DomainError in a page route rolls back what the
step flushed, flashes the message and goes back to the route's declared ``back`` URL. Before
this rule a redirect answered after an error committed the flushed rows (the
``autocommit_include_redirects`` before-send handler commits every 3xx answer)."""

from __future__ import annotations

import uuid

from litestar import Litestar, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import Invalid, NotFound
from storage.database import create_engine, create_session_maker
from storage.models import LoginFailure
from tests.support.portal import csrf_token, sign_in

Client = AsyncTestClient[Litestar]
KEY = "page-error-test"


@post("/test-only/{thing_id:uuid}/refuse", status_code=303, include_in_schema=False,
      opt={"back": "/test-only/{thing_id}"})
async def flush_then_refuse(
    db_session: NamedDependency[AsyncSession], who: NamedDependency[Actor],
    thing_id: FromPath[uuid.UUID],
) -> None:
    """Flushes a row, then the step is refused: nothing may be kept."""
    db_session.add(LoginFailure(account_key=KEY, client_address=str(who.user_id)))
    await db_session.flush()
    raise Invalid("That step is refused.", code="refused")


@post("/test-only/{thing_id:uuid}/missing", status_code=303, include_in_schema=False,
      opt={"back": "/test-only/{thing_id}"})
async def flush_then_missing(
    db_session: NamedDependency[AsyncSession], thing_id: FromPath[uuid.UUID],
) -> None:
    db_session.add(LoginFailure(account_key=KEY, client_address="missing"))
    await db_session.flush()
    raise NotFound("No such thing.")


async def _rows(app: Litestar) -> int:
    engine = create_engine(app.state.settings.database.url)
    try:
        async with create_session_maker(engine)() as db:
            count = await db.scalar(
                select(func.count()).select_from(LoginFailure)
                .where(LoginFailure.account_key == KEY))
            return int(count or 0)
    finally:
        await engine.dispose()


async def test_a_refused_page_step_keeps_nothing_and_goes_back(app: Litestar) -> None:
    app.register(flush_then_refuse)
    async with AsyncTestClient(app=app) as client:
        await sign_in(client, "hygienist@demo.test")
        thing = uuid.uuid4()
        response = await client.post(f"/test-only/{thing}/refuse", follow_redirects=False,
                                     headers={"x-csrftoken": await csrf_token(client)})
        assert response.status_code == 303
        assert response.headers["location"] == f"/test-only/{thing}"
        assert await _rows(app) == 0, "the redirect committed what the refused step flushed"
        # the message waits on the next page
        landing = await client.get("/")
        assert "That step is refused." in landing.text


async def test_htmx_goes_back_with_hx_location(app: Litestar) -> None:
    app.register(flush_then_refuse)
    async with AsyncTestClient(app=app) as client:
        await sign_in(client, "hygienist@demo.test")
        thing = uuid.uuid4()
        response = await client.post(
            f"/test-only/{thing}/refuse", follow_redirects=False,
            headers={"x-csrftoken": await csrf_token(client), "hx-request": "true"})
        assert response.status_code == 200
        assert response.headers["hx-location"] == f"/test-only/{thing}"
        assert await _rows(app) == 0


async def test_not_found_keeps_its_page(app: Litestar) -> None:
    app.register(flush_then_missing)
    async with AsyncTestClient(app=app) as client:
        await sign_in(client, "hygienist@demo.test")
        response = await client.post(f"/test-only/{uuid.uuid4()}/missing",
                                     follow_redirects=False,
                                     headers={"x-csrftoken": await csrf_token(client)})
        assert response.status_code == 404
        assert "No such thing." in response.text
        assert await _rows(app) == 0


async def test_signed_out_step_is_refused_before_the_actor_is_needed(app: Litestar) -> None:
    app.register(flush_then_refuse)
    async with AsyncTestClient(app=app) as client:
        response = await client.post(f"/test-only/{uuid.uuid4()}/refuse",
                                     follow_redirects=False,
                                     headers={"x-csrftoken": await csrf_token(client)})
        assert response.status_code == 401
        assert await _rows(app) == 0
