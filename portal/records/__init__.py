"""The records desk (D9961): ``api.py`` (JSON, under ``/api/v1``), ``pages.py`` (the desk's
pages, the patient's page, the public download link), ``schemas.py`` (the API's bodies and
answers) and ``shared.py`` (what both share: roles, the steps table, the upload form)."""

from portal.records.api import API_CONTROLLERS
from portal.records.pages import PAGE_CONTROLLERS

__all__ = ["API_CONTROLLERS", "PAGE_CONTROLLERS"]
