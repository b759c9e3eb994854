"""Billing: claim lines per encounter, the front desk's worklist, documents and packages."""
