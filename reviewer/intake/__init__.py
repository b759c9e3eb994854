"""Intake: consents, cases born from a patient's or hygienist's submission, their attachments.

Services only: plain arguments in (an ``Actor``, an ``AuditContext``), domain errors out. The
portal's controllers (``portal/intake``) parse HTTP and call these.
"""
