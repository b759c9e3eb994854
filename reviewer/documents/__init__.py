"""Teledentistry documents: the D9996 and D9995 records (PDF) and the claim-attachment ZIP.

Pure: frozen dataclasses in (``model``), bytes out (``pdf``, ``package``). No database, no
blob store; the same record always gives the same bytes.
"""
