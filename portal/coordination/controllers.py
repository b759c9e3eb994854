"""Referrals and coordination work: the two lists of controllers, where ``portal/routes.py``
gathers every area's.

The routes are in ``portal.coordination.pages`` (the coordinator's pages) and
``portal.coordination.api`` (JSON under /api/v1); the API's bodies in
``portal.coordination.schemas``. docs/coordination.md lists the routes.
"""

from __future__ import annotations

from portal.coordination.api import API_CONTROLLERS
from portal.coordination.pages import PAGE_CONTROLLERS

__all__ = ["API_CONTROLLERS", "PAGE_CONTROLLERS"]
