"""Declarative base shared by every model: UUIDv7 primary keys, UTC created/updated stamps."""

from __future__ import annotations

from advanced_alchemy.base import UUIDv7AuditBase, orm_registry

Base = UUIDv7AuditBase
metadata = orm_registry.metadata

__all__ = ["Base", "metadata"]
