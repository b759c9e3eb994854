"""Values that handlers read from forms and query strings themselves.

Typed parameters and bodies are parsed by litestar (a wrong one answers 400 ``invalid``);
these are the few that keep a code of their own, or where an empty value means "not given"
(``?start=&end=``, an empty form field).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from reviewer.errors import Invalid


def optional_date(value: Any, key: str) -> dt.date | None:
    """``value`` as a day (YYYY-MM-DD); None when it is empty; else 400 ``invalid_<key>``."""
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"{key} is a date (YYYY-MM-DD).", code=f"invalid_{key}") from None
