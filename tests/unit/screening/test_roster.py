from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewer.export.csv_safe import csv_text, safe_cell
from reviewer.screening.roster import RosterUnreadable, parse_roster
from tests.support.fixtures import FIXTURES

TODAY = date(2026, 11, 25)


def test_good_roster_imports_every_line_with_unicode_names() -> None:
    parsed = parse_roster((FIXTURES / "roster_good.csv").read_bytes(), today=TODAY)
    assert parsed.errors == []
    assert [row.student_id for row in parsed.rows] == ["S-1001", "S-1002", "S-1003", "S-1004"]
    assert parsed.rows[0].first_name == "Zoë" and parsed.rows[0].last_name == "Nguyễn"
    assert parsed.rows[2].first_name == "李" and parsed.rows[2].consent is False
    assert parsed.rows[2].guardian_name == "韩梅梅"


def test_bad_roster_reports_each_line_and_keeps_the_good_ones() -> None:
    parsed = parse_roster((FIXTURES / "roster_bad.csv").read_bytes(), today=TODAY)
    assert [row.line for row in parsed.rows] == [2, 6]
    reasons = {error.line: error.reason for error in parsed.errors}
    assert sorted(reasons) == [3, 4, 5, 7]
    assert "first name is missing" in reasons[3]
    assert "not a real date" in reasons[4]
    assert "repeats line 2" in reasons[5]
    assert "consent" in reasons[7]
    kept = {row.student_id: row for row in parsed.rows}
    assert kept["S-2001"].first_name == "Ok"  # the first of the repeated id is kept
    assert kept["S-2005"].first_name == '=HYPERLINK("http://x")'  # kept as text


def test_formula_cells_are_exported_as_text() -> None:
    assert safe_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert safe_cell("+1-503-555-0101") == "'+1-503-555-0101"
    assert safe_cell("Zoë") == "Zoë"
    exported = csv_text(["name"], [['=HYPERLINK("http://x")'], ["@SUM(A1)"], ["-2+3"]])
    cells = [row[0] for row in csv.reader(io.StringIO(exported))][1:]
    assert all(cell.startswith("'") for cell in cells)


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xfe\x00bad", b"name,age\nx,1\n"],
)
def test_unusable_files_are_refused_whole(data: bytes) -> None:
    with pytest.raises(RosterUnreadable):
        parse_roster(data, today=TODAY)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_parser_never_crashes(data: bytes) -> None:
    header = b"student_id,first_name,last_name,date_of_birth,consent\n"
    for blob in (data, header + data):
        try:
            parsed = parse_roster(blob, today=TODAY)
        except RosterUnreadable:
            continue
        for error in parsed.errors:
            assert error.line >= 2 and error.reason


def test_language_column_takes_codes_and_names_and_refuses_others_by_line() -> None:
    data = (
        "student_id,first_name,last_name,date_of_birth,consent,language\n"
        "A1,Ana,Ruiz,2018-03-01,yes,es\n"
        "A2,Ben,Lee,2018-03-01,yes,English\n"
        "A3,Cruz,Peña,2018-03-01,yes,Español\n"
        "A4,Dee,Ng,2018-03-01,yes,\n"
        "A5,Eve,Ox,2018-03-01,yes,klingon\n"
    ).encode()
    parsed = parse_roster(data, today=TODAY)
    assert [(row.student_id, row.language) for row in parsed.rows] == [
        ("A1", "es"), ("A2", "en"), ("A3", "es"), ("A4", None)
    ]
    assert [(e.line, e.reason) for e in parsed.errors] == [
        (6, "language 'klingon' must be en or es (English or Spanish)")
    ]


def test_guardian_email_column_is_optional_and_refuses_a_bad_address_by_line() -> None:
    data = (
        "student_id,first_name,last_name,date_of_birth,consent,guardian_email\n"
        "A1,Ana,Ruiz,2018-03-01,yes,mama.ruiz@example.org\n"
        "A2,Ben,Lee,2018-03-01,yes,\n"
        "A3,Cruz,Peña,2018-03-01,yes,not-an-address\n"
        "A4,Dee,Ng,2018-03-01,yes,a@b.org; c@d.org\n"
    ).encode()
    parsed = parse_roster(data, today=TODAY)
    assert [(row.student_id, row.guardian_email) for row in parsed.rows] == [
        ("A1", "mama.ruiz@example.org"), ("A2", None)
    ]
    assert [(e.line, e.reason) for e in parsed.errors] == [
        (4, "guardian email 'not-an-address' is not an email address"),
        (5, "guardian email 'a@b.org; c@d.org' is not an email address"),
    ]
