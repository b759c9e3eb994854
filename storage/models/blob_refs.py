"""Which columns hold blob keys, under which key prefix: the sweeper's registry.

Every model that points at blobs registers its key columns here, next to its class
(``register_blob_keys("claim-packages/", ClaimPackage.pdf_key, ClaimPackage.zip_key)``).
``storage.blobs.sweep`` then removes, under each registered prefix, the blobs that no
registered column points at and that are older than the grace period. A prefix nobody
registers is never swept; the audit trail's checkpoints (``audit-checkpoints/``) may never
be registered, so they are never swept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

__all__ = [
    "NEVER_SWEPT",
    "BlobReference",
    "blob_references",
    "register_blob_keys",
    "swept_prefixes",
]

NEVER_SWEPT: Final = ("audit-checkpoints/",)
"""Prefixes of blobs no row points at by design: kept forever, whatever is registered."""


@dataclass(frozen=True, eq=False)  # columns compare into SQL expressions: identity only
class BlobReference:
    """One column (``Model.column``) whose non-null values are keys under ``prefix``."""

    prefix: str
    column: Any  # an InstrumentedAttribute of a mapped class

    @property
    def name(self) -> str:
        return f"{self.column.class_.__name__}.{self.column.key}"


_REFERENCES: list[BlobReference] = []


def _overlaps(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def register_blob_keys(prefix: str, *columns: Any) -> None:
    """Declare that ``columns`` hold keys of blobs stored under ``prefix`` (ends in ``/``)."""
    if not prefix.endswith("/") or prefix.startswith("/") or len(prefix) < 2:
        raise ValueError(f"a blob prefix is a folder like 'attachments/', not {prefix!r}")
    if any(_overlaps(prefix, kept) for kept in NEVER_SWEPT):
        raise ValueError(f"{prefix!r} overlaps a prefix that is never swept")
    if not columns:
        raise ValueError("register at least one column")
    for column in columns:
        if not any(r.prefix == prefix and r.column is column for r in _REFERENCES):
            _REFERENCES.append(BlobReference(prefix, column))


def blob_references() -> tuple[BlobReference, ...]:
    """Every registration, in the order the models were imported."""
    return tuple(_REFERENCES)


def swept_prefixes() -> Mapping[str, tuple[Any, ...]]:
    """Prefix to list → the columns a key under it may be in.

    A prefix inside another registered one is listed once, under the outer prefix; a key
    is checked against every column registered for an overlapping prefix, so two areas that
    share a folder never sweep each other's blobs."""
    prefixes = {r.prefix for r in _REFERENCES}
    outer = sorted(p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes))
    swept: dict[str, tuple[Any, ...]] = {}
    for prefix in outer:
        columns: list[Any] = []
        for reference in _REFERENCES:
            if _overlaps(reference.prefix, prefix) and all(
                reference.column is not c for c in columns
            ):
                columns.append(reference.column)
        swept[prefix] = tuple(columns)
    return MappingProxyType(swept)
