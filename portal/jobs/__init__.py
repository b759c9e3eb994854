"""Background jobs: one small interface (:class:`portal.jobs.engine.JobEngine`), two engines —
in-process (``inprocess.py``, the embedded default) and SAQ on Redis (``saq_engine.py``, run by
``toothline worker``, ``worker.py``). See docs/jobs.md."""

from portal.jobs.engine import JobEngine, JobRecord, JobState, jobs_lifespan, make_engine
from portal.jobs.inprocess import JobRunner

__all__ = ["JobEngine", "JobRecord", "JobRunner", "JobState", "jobs_lifespan", "make_engine"]
