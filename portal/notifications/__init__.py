"""Notifications: the real senders (SMTP, text messages) and the staff's list."""
