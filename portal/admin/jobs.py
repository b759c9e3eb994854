"""Background job state for admins (docs/jobs.md): ``GET /api/v1/jobs`` and the page
``/admin/jobs`` — the engine, queued / active / failed counts, live workers (SAQ) and the most
recent jobs. A job shows its name, id, status, attempts and the class of its last error: never
its payload (ids of a patient's case) nor an error message (it may quote data), so this page
holds no patient data and, like the other administration pages, records no audit event."""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import Parameter
from litestar.response import Template

from portal.accounts.guards import require_roles
from portal.admin.fee_schedules import AdminPages
from portal.jobs import JobEngine, JobState
from portal.rendering import page
from portal.requests import AnyRequest
from storage.models import Role

admin_only = require_roles(Role.ADMIN)


async def _state(state: State, limit: int) -> JobState:
    engine: JobEngine = state.jobs
    return await engine.state(limit)


def state_json(job_state: JobState) -> dict[str, Any]:
    body = dataclasses.asdict(job_state)
    body["jobs"] = body.pop("recent")
    return body


class JobsApi(Controller):
    path = "/jobs"
    tags = ["administration"]
    guards = [admin_only]

    @get("/")
    async def jobs(
        self, state: State,
        limit: int = Parameter(default=20, ge=1, le=200, description="Recent jobs to list."),
    ) -> dict[str, Any]:
        """The job engine's counts and its most recent jobs, newest first."""
        return state_json(await _state(state, limit))


class AdminJobsController(AdminPages):
    path = "/admin/jobs"

    @get("/")
    async def jobs_page(self, request: AnyRequest, state: State) -> Template:
        return page(request, "admin/jobs.html", {"jobs": await _state(state, 50)})
