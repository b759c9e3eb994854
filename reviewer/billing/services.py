"""Billing services: claim lines per encounter, their edits under the coding rules, the
worklist, "ready"/"billed"/"nothing to bill", documents and claim packages, live sessions.

This module only gathers the public names (the portal imports them from here); the work is
split by job:

* :mod:`reviewer.billing.encounters` — the encounter protocol and its two adapters (case
  review, live session), views, the proposal stored when an evaluation is signed;
* :mod:`reviewer.billing.lines` — reading, editing and marking an encounter's claim lines;
* :mod:`reviewer.billing.packages` — package versions, built after commit; downloads;
* :mod:`reviewer.billing.worklist` — the worklist and CSV export (reads only);
* :mod:`reviewer.billing.live_sessions` — recording a live session;
* :mod:`reviewer.billing.jobs` — the background job and sweep that build packages.

Every function takes the acting :class:`reviewer.actor.Actor` and scopes its queries at the
source (anything outside the actor's reach is :class:`NotFound`):

* dentist — the cases whose evaluation they signed, the live sessions they held (read only);
* front_desk — every encounter of their organizations (read, edit, mark, download).
"""

from __future__ import annotations

from reviewer.billing.encounters import BillingStatus, EncounterView, LinesRefused
from reviewer.billing.lines import (
    case_encounter,
    live_encounter,
    mark_billed,
    mark_nothing_to_bill,
    mark_ready,
    override_same_day,
    update_lines,
)
from reviewer.billing.live_sessions import create_live_session
from reviewer.billing.packages import (
    Download,
    PackageNotReady,
    attachment_control_number,
    build_current_package,
    download_case_document,
    download_live_document,
    download_package_file,
)
from reviewer.billing.worklist import WorklistRow, claim_lines_csv, worklist

__all__ = [
    "BillingStatus",
    "Download",
    "EncounterView",
    "LinesRefused",
    "PackageNotReady",
    "WorklistRow",
    "attachment_control_number",
    "build_current_package",
    "case_encounter",
    "claim_lines_csv",
    "create_live_session",
    "download_case_document",
    "download_live_document",
    "download_package_file",
    "live_encounter",
    "mark_billed",
    "mark_nothing_to_bill",
    "mark_ready",
    "override_same_day",
    "update_lines",
    "worklist",
]
