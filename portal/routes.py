"""Every controller of the portal, by area. A new area adds its two lists here.

Each area package has ``controllers.py`` with ``PAGE_CONTROLLERS`` (HTML pages and htmx
fragments) and ``API_CONTROLLERS`` (JSON, mounted under ``/api/v1``).
"""

from __future__ import annotations

from portal.accounts import controllers as accounts
from portal.admin import controllers as admin
from portal.billing import controllers as billing
from portal.coordination import controllers as coordination
from portal.health.controllers import HealthController
from portal.intake import controllers as intake
from portal.interop import api as interop
from portal.notifications import controllers as notifications
from portal.patients import controllers as patients
from portal.records import controllers as records
from portal.review import controllers as review
from portal.screening import controllers as screening
from portal.uploads import controllers as uploads

AREAS = (accounts, patients, admin, intake, review, billing, screening, records, coordination,
         interop, uploads, notifications)

PAGE_CONTROLLERS: list[type] = [HealthController]
API_CONTROLLERS: list[type] = []
for _area in AREAS:
    PAGE_CONTROLLERS.extend(_area.PAGE_CONTROLLERS)
    API_CONTROLLERS.extend(_area.API_CONTROLLERS)
