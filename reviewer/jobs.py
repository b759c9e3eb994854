"""Work to run after a transaction commits, behind one tiny interface.

A service that changes what a background job depends on calls :func:`after_commit` inside its
transaction (``after_commit(db, "billing.build_package", {...})``). Nothing happens until the
session commits; a rollback drops the job. At commit the job goes to the :class:`JobSink`
found in the session's ``info`` under :data:`SINK` (the portal puts its job engine there,
``portal/jobs/``: in-process, or SAQ on Redis). A session without a sink (the CLI, service
tests) drops its jobs: every job here is idempotent and the engine's sweep finds work left
undone.

With SAQ a job outlives the portal and its worker (docs/jobs.md); the in-process engine
survives nothing more than its process. Both sit behind the same ``submit(job_name, payload)``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final, Protocol

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = logging.getLogger("toothline.jobs")

SINK: Final = "toothline.jobs.sink"
_PENDING: Final = "toothline.jobs.pending"


class JobSink(Protocol):
    def submit(self, job_name: str, payload: Mapping[str, str]) -> None:
        """Queue ``job_name`` with ``payload`` (strings only: ids, roles); never blocks."""


def after_commit(db: AsyncSession, job_name: str, payload: Mapping[str, str]) -> None:
    """Queue a job to run once ``db``'s transaction has committed (dropped on rollback)."""
    pending: list[tuple[str, dict[str, str]]] = db.sync_session.info.setdefault(_PENDING, [])
    job = (job_name, dict(payload))
    if job not in pending:
        pending.append(job)


@event.listens_for(Session, "after_commit")
def _submit_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    sink: JobSink | None = session.info.get(SINK)
    if not pending or sink is None:
        return
    for job_name, payload in pending:
        try:
            sink.submit(job_name, payload)
        except Exception:  # the commit happened; the sweep picks the work up later
            log.exception("could not queue job %s", job_name)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
