"""The line every image carries (claim-attachment PDF pages, the image viewer): whose image,
when it was taken, what it shows. One wording for both, so a printed page and the screen
agree. Pure."""

from __future__ import annotations

import datetime as dt

from reviewer import labels


def image_label(
    patient_name: str,
    birth_date: dt.date,
    captured_at: dt.datetime | None,
    view: str | None,
    teeth: str | None,
    *,
    captured_on: dt.date | None = None,
) -> str:
    """``Name · born YYYY-MM-DD · captured YYYY-MM-DD HH:MM · View · teeth 3, 14``.

    ``captured_at`` is the device's wall clock (printed as recorded); without it the day the
    case's data was collected (``captured_on``), else "capture date not recorded"."""
    if captured_at is not None:
        captured = f"captured {captured_at:%Y-%m-%d %H:%M}"
    elif captured_on is not None:
        captured = f"captured {captured_on.isoformat()}"
    else:
        captured = "capture date not recorded"
    view_text = labels.label(view, "view") if view else "view not given"
    numbers = ", ".join(t for t in (teeth or "").replace(" ", ",").split(",") if t)
    teeth_text = f"teeth {numbers}" if numbers else "teeth not given"
    return (f"{patient_name} · born {birth_date.isoformat()} · {captured} · {view_text}"
            f" · {teeth_text}")
