"""Billing's two lists of controllers, where ``portal/routes.py`` gathers every area's.

The routes are in ``portal.billing.pages`` (HTML pages and htmx fragments, front_desk) and
``portal.billing.api`` (JSON under /api/v1); their bodies in ``portal.billing.schemas``; what
both share (the encounter of a path, the status changes, downloads) in
``portal.billing.shared``. docs/billing.md lists the routes.
"""

from __future__ import annotations

from portal.billing.api import API_CONTROLLERS
from portal.billing.pages import PAGE_CONTROLLERS

__all__ = ["API_CONTROLLERS", "PAGE_CONTROLLERS"]
