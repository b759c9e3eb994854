"""A records document that starts with %PDF- is parsed with pypdf or refused."""

from __future__ import annotations

import pytest

from reviewer.errors import Unprocessable
from reviewer.records.pdf_check import check_pdf
from tests.support.pdfs import hostile_pdfs, real_pdf


def test_a_real_pdf_passes_with_its_page_count() -> None:
    assert check_pdf(real_pdf(3)) == 3


@pytest.mark.parametrize("name", sorted(hostile_pdfs()))
def test_a_file_that_only_wears_the_header_is_refused(name: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        check_pdf(hostile_pdfs()[name])
    assert refused.value.code == "invalid_pdf"
