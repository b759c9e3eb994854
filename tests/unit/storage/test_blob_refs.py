"""Every column that holds a blob key is registered with the sweeper."""

from __future__ import annotations

import pytest
from sqlalchemy import String

from storage.models import Attachment, Base, ClaimPackage, RecordsDocument, RecordsRequest
from storage.models.blob_refs import (
    NEVER_SWEPT,
    blob_references,
    register_blob_keys,
    swept_prefixes,
)

NOT_BLOB_KEYS = {"case.idempotency_key", "login_failure.account_key"}
"""Columns called ``*_key`` that are not blob keys."""


def test_every_key_column_of_every_model_is_registered() -> None:
    registered = {f"{r.column.class_.__tablename__}.{r.column.key}" for r in blob_references()}
    key_columns = {
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.columns
        if column.name.endswith("_key") and isinstance(column.type, String)
    }
    assert key_columns - NOT_BLOB_KEYS == registered


def test_the_registry_names_each_area_and_its_columns() -> None:
    swept = swept_prefixes()
    assert set(swept) == {"attachments/", "claim-packages/", "records/documents/",
                          "records/packages/"}
    assert swept["attachments/"] == (
        Attachment.original_key, Attachment.display_key, Attachment.thumbnail_key
    )
    assert swept["claim-packages/"] == (ClaimPackage.pdf_key, ClaimPackage.zip_key)
    assert swept["records/packages/"] == (RecordsRequest.package_key,)
    assert swept["records/documents/"] == (RecordsDocument.blob_key,)
    assert not any(p.startswith(kept) for p in swept for kept in NEVER_SWEPT)


@pytest.mark.parametrize("prefix", ["audit-checkpoints/", "audit-", "attachments", "/x/"])
def test_a_checkpoint_or_malformed_prefix_cannot_be_registered(prefix: str) -> None:
    with pytest.raises(ValueError):
        register_blob_keys(prefix, ClaimPackage.pdf_key)
