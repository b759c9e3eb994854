"""CDT coding: the code catalog (data), tooth numbering, payer profiles and the claim-line rules.

Everything here is pure: plain functions on frozen dataclasses, no database, no HTTP.
"""
