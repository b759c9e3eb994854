"""FHIR R4 export (docs/interop.md)."""
