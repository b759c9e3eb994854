"""The records desk (D9961): log, verify, quote, pay or waive, prepare, check, deliver, refuse,
extend; the download links; the patient's own requests.

This module gathers the public names (the portal imports them from here); the work is split
by step, each step written with the one helper :func:`reviewer.records.steps.begin` ("load
the request in scope, check who acts, transition, record in the history and the audit trail,
answer the view"):

* :mod:`reviewer.records.request` — logging a request, reading requests;
* :mod:`reviewer.records.verification` — papers kept with a request, identity and authority;
* :mod:`reviewer.records.fees` — quote, pay, waive;
* :mod:`reviewer.records.preparation` — assemble the package, the second check;
* :mod:`reviewer.records.release` — deliver, refuse, extend;
* :mod:`reviewer.records.links` — download links (by token, from the patient's page).

Every function takes the acting :class:`reviewer.actor.Actor` and scopes its queries at the
source: front desk and coordinators reach their organizations' requests, a patient login the
requests for its own patients; anything else is :class:`NotFound` (another organization's
records are never released). Every step is written to the request's history and audited.
``now`` is injectable so the clock can be tested without waiting.
"""

from __future__ import annotations

from reviewer.records.fees import pay, quote, waive
from reviewer.records.links import LinkOutcome, LinkRefused, patient_download, use_link
from reviewer.records.preparation import check, prepare
from reviewer.records.release import Delivery, deliver, extend, refuse
from reviewer.records.request import (
    RECEIVED_VIA,
    NewRequest,
    desk_list,
    get_request,
    log_request,
    patient_requests,
)
from reviewer.records.steps import (
    D9961,
    DESK_ROLES,
    RequestView,
    describe_scope,
    policy_of,
    request_visibility,
)
from reviewer.records.verification import (
    DOCUMENT_KINDS,
    IMAGE_DOCUMENTS,
    MAX_DOCUMENT_BYTES,
    Verification,
    add_document,
    sniff_document,
    verify,
)

__all__ = [
    "D9961",
    "DESK_ROLES",
    "DOCUMENT_KINDS",
    "IMAGE_DOCUMENTS",
    "MAX_DOCUMENT_BYTES",
    "RECEIVED_VIA",
    "Delivery",
    "LinkOutcome",
    "LinkRefused",
    "NewRequest",
    "RequestView",
    "Verification",
    "add_document",
    "check",
    "deliver",
    "describe_scope",
    "desk_list",
    "extend",
    "get_request",
    "log_request",
    "patient_download",
    "patient_requests",
    "pay",
    "policy_of",
    "prepare",
    "quote",
    "refuse",
    "request_visibility",
    "sniff_document",
    "use_link",
    "verify",
    "waive",
]
