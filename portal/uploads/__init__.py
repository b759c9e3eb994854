"""Resumable uploads over tus 1.0 (``/api/v1/uploads``): see ``controllers.py``."""
