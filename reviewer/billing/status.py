"""An encounter's billing status: its own module with no imports, so that the labels
(``reviewer/labels.py``) can name it without importing the billing services."""

from __future__ import annotations


class BillingStatus:
    PROPOSED = "proposed"
    READY = "ready"
    BILLED = "billed"
    NOTHING_TO_BILL = "nothing_to_bill"
    OPEN = (PROPOSED, READY)
    ALL = (PROPOSED, READY, BILLED, NOTHING_TO_BILL)
