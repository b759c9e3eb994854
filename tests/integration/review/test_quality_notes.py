"""The dentist sees each photo's quality scores on the review case page."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from reviewer.intake.quality import quality_notes
from tests.integration.review.conftest import World
from tests.support.portal import sign_in

Client = AsyncTestClient[Litestar]
BLURRY = {"sharpness": 12.4, "mean_luminance": 140.0, "dark_share": 0.0, "bright_share": 0.0,
          "width": 4032, "height": 3024, "problems": ["blurry"]}
SHARP = {**BLURRY, "sharpness": 900.0, "problems": []}


async def test_case_page_shows_the_scores_next_to_each_photo(
    client: Client, world: World
) -> None:
    case = await world.add_case()
    blurry = await world.add_attachment(case, view="lower_occlusal")
    sharp = await world.add_attachment(case, view="left")
    blurry.quality, sharp.quality = BLURRY, SHARP
    await world.db.commit()
    await sign_in(client, "dentist@demo.test")
    page = await client.get(f"/review/cases/{case.id}")
    assert page.status_code == 200
    assert "Blurry (sharpness 12, threshold 40)" in page.text
    assert page.text.count("Quality check passed") == 1
    assert 'data-quality-problems="blurry"' in page.text


def test_notes_name_score_and_threshold() -> None:
    dark = {**BLURRY, "mean_luminance": 18.7, "dark_share": 0.62,
            "problems": ["too_dark", "low_resolution"], "width": 640, "height": 480}
    assert quality_notes(dark) == [
        "Too dark (mean brightness 19, threshold 50; 62% near black)",
        "Low resolution (640x480 px, at least 1000x600)",
    ]
    assert quality_notes(None) == [] and quality_notes(SHARP) == []
