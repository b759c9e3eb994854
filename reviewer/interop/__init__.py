"""Interoperability: FHIR R4 (R4B models) export of a patient's data (docs/interop.md)."""
