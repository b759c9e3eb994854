"""The tus 1.0 header rules (portal/uploads/protocol.py), without a server."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from portal.uploads.protocol import (
    TusRefused,
    check_version,
    expires_header,
    parse_length,
    parse_metadata,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_metadata_pairs_are_base64_and_a_value_may_be_missing():
    header = f"case_id {b64('0190-abc')},filename {b64('röntgen.png')}, is_confidential"
    assert parse_metadata(header) == {
        "case_id": "0190-abc", "filename": "röntgen.png", "is_confidential": ""}
    assert parse_metadata(None) == {}


@pytest.mark.parametrize("header", ["case_id %%%", "a " + "x" * 5000])
def test_bad_metadata_is_400(header: str):
    with pytest.raises(TusRefused) as refused:
        parse_metadata(header)
    assert refused.value.status == 400


@pytest.mark.parametrize("value", [None, "", "-1", "1.5", "12abc", "9" * 19])
def test_lengths_are_whole_numbers(value: str | None):
    with pytest.raises(TusRefused):
        parse_length(value, "Upload-Length")


def test_only_version_1_0_0_is_spoken():
    check_version("1.0.0")
    for other in (None, "0.2.2", "1.0"):
        with pytest.raises(TusRefused) as refused:
            check_version(other)
        assert refused.value.status == 412


def test_upload_expires_is_an_http_date():
    moment = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
    assert expires_header(moment) == "Sat, 05 Dec 2026 20:00:00 GMT"
