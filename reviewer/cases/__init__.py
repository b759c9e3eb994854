"""Cases: the pure state machine and urgency rules (``state``, ``enums``), and services."""
