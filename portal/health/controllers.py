from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Controller, get
from litestar.response import Response
from sqlalchemy import text

from portal.requests import AnyRequest

log = logging.getLogger("toothline.health")


class HealthController(Controller):
    include_in_schema = False
    opt = {"public": True}

    @get("/healthz", sync_to_thread=False)
    def alive(self) -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @get("/readyz")
    async def ready(self, request: AnyRequest) -> Response[dict[str, Any]]:
        """The database and the blob store answer; otherwise 503 naming which does not."""
        state = request.app.state
        failing: list[str] = []
        try:
            async with asyncio.timeout(3):
                async with state.db_sessionmaker() as db:
                    await db.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("readiness: database: %s", type(exc).__name__)
            failing.append("database")
        try:
            async with asyncio.timeout(3):
                await state.blobs.ping()
        except Exception as exc:
            log.warning("readiness: blob store: %s", type(exc).__name__)
            failing.append("blob_store")
        if failing:
            return Response(
                {"status": "unavailable", "failing": failing,
                 "message": "Not ready: " + ", ".join(failing) + " not answering."},
                status_code=503,
            )
        return Response({"status": "ok", "database": "ok", "blob_store": "ok"})
