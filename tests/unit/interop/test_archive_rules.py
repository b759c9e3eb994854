"""The archive's pure rules: which URLs are a DICOMweb root, and the sweep's back-off."""

from __future__ import annotations

import pytest

from reviewer.interop.archive import InvalidArchiveSettings, checked_url
from reviewer.interop.dicomweb import RETRY_MAX_S, retry_after_s


@pytest.mark.parametrize(("given", "kept"), [
    ("https://pacs.example.org/dicom-web/", "https://pacs.example.org/dicom-web"),
    ("  http://127.0.0.1:8042/dicom-web ", "http://127.0.0.1:8042/dicom-web"),
    ("https://pacs.example.org", "https://pacs.example.org"),
])
def test_a_dicomweb_root_is_kept_without_its_trailing_slash(given: str, kept: str) -> None:
    assert checked_url(given) == kept


@pytest.mark.parametrize("bad", [
    "", "pacs.example.org/dicom-web", "ftp://pacs.example.org/dicom-web", "file:///etc/passwd",
    "https://user:pw@pacs.example.org/dicom-web", "https://pacs.example.org/x?token=1",
    "https://pacs.example.org/x#frag", "https://pacs.example.org:99999/x",
    "https://pacs.example.org/" + "x" * 500,
])
def test_anything_else_is_refused(bad: str) -> None:
    with pytest.raises(InvalidArchiveSettings):
        checked_url(bad)


def test_the_back_off_doubles_and_is_capped() -> None:
    assert [retry_after_s(n) for n in (1, 2, 3)] == [60.0, 120.0, 240.0]
    assert retry_after_s(30) == RETRY_MAX_S
