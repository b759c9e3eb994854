"""Referrals and coordination work: ``api.py`` (JSON, under ``/api/v1``), ``pages.py`` (the
coordinator's pages) and ``schemas.py`` (the API's bodies)."""

from portal.coordination.api import API_CONTROLLERS
from portal.coordination.pages import PAGE_CONTROLLERS

__all__ = ["API_CONTROLLERS", "PAGE_CONTROLLERS"]
