"""The case page's workbench parts (issue 21): the timeline strip of each site across the
patient's cases, oldest first, the shortcuts list, and the viewer's annotation hooks."""

from __future__ import annotations

import re
from datetime import timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.review.conftest import World, utcnow
from tests.support.portal import sign_in

Client = AsyncTestClient[Litestar]


async def test_timeline_strip_lists_the_site_across_cases_oldest_first(
    client: Client, world: World
) -> None:
    now = utcnow()
    patient = await world.add_patient()
    older = await world.add_case(patient=patient, status="reviewed", kind="post_op",
                                 now=now - timedelta(days=14))
    week = await world.add_case(patient=patient, status="reviewed", kind="post_op",
                                now=now - timedelta(days=7))
    current = await world.add_case(patient=patient, kind="post_op", now=now)
    for case in (older, week, current):
        case.created_at = case.submitted_at
    await world.db.commit()
    images = [await world.add_attachment(c, view="lower_occlusal") for c in (week, older,
                                                                                current)]
    await world.add_attachment(current, view="left")  # alone: no strip
    await sign_in(client, "dentist@demo.test")
    page = await client.get(f"/review/cases/{current.id}")
    assert page.status_code == 200
    html = page.text
    strip = html[html.index('id="timeline"'):html.index('id="evaluation"')]
    order = re.findall(r'data-viewer-src="/api/v1/cases/[^/]+/attachments/([^/]+)/display"',
                       strip)
    assert order == [str(images[1].id), str(images[0].id), str(images[2].id)]
    assert strip.count("· this case</span>") == 1 and 'data-view="left"' not in strip
    assert 'id="shortcuts"' in html and 'id="next-case-form"' in html
    assert f'data-viewer-annotations="/api/v1/cases/{current.id}/attachments/{images[2].id}' \
           '/annotations"' in html
