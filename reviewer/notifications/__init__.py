"""Notifications without PHI: queued with the action that causes them, sent after its commit,
retried with back-off (docs/notifications.md)."""
