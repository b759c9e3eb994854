"""The records desk's two lists of controllers, where ``portal/routes.py`` gathers every area's.

The routes are in ``portal.records.pages`` (the desk's pages, the patient's page, the public
download link) and ``portal.records.api`` (JSON under /api/v1); their bodies and answers in
``portal.records.schemas``; what both share (who may call, the steps table ``STEPS``, the upload
form, the link's address) in ``portal.records.shared``. docs/records.md lists the routes.
"""

from __future__ import annotations

from portal.records.api import API_CONTROLLERS
from portal.records.pages import PAGE_CONTROLLERS

__all__ = ["API_CONTROLLERS", "PAGE_CONTROLLERS"]
