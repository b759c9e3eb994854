"""The marker for translatable text defined in Python (a label, a message a patient reads).

``N_("text")`` is the text itself: it only tells Babel's extractor (``babel.cfg``) to put the
text into the catalog. The portal translates it where a page shows it (``portal.i18n``);
``reviewer`` never knows the request's language.
"""

from __future__ import annotations

__all__ = ["N_"]


def N_(message: str) -> str:
    return message
