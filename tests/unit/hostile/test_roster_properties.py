"""Property-based roster parsing: structured CSVs of random valid and invalid rows. Every
record is either kept or reported, once, under its own line number; kept rows hold exactly
the cells written (trimmed); a repeated student id keeps the first line."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewer.screening.roster import CELL_LIMITS, MAX_CELL, parse_roster

TODAY = date(2026, 11, 25)
COLUMNS = ["student_id", "first_name", "last_name", "date_of_birth", "grade",
           "guardian_name", "guardian_phone", "consent", "language", "guardian_email"]
HOSTILE = st.sampled_from(["<script>alert(1)</script>", "=HYPERLINK(\"x\")", "{{7*7}}",
                           "\u202egnp.exe", "Zoë Nguyễn", "李雷", "a,b", "say \"hi\""])
# Cell text the csv module round-trips (no NUL, no bare CR/LF: line numbers count records).
CELL = st.one_of(
    HOSTILE,
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1,
            max_size=30).filter(lambda s: s.strip() == s and s != ""),
)


@dataclass(frozen=True)
class Row:
    cells: dict[str, str]
    valid: bool


@st.composite
def valid_row(draw: st.DrawFn) -> Row:
    born = draw(st.dates(date(TODAY.year - 20, 1, 1), date(TODAY.year - 3, 12, 31)))
    cells = {
        "student_id": draw(st.from_regex(r"S-[0-9]{1,6}", fullmatch=True)),
        "first_name": draw(CELL), "last_name": draw(CELL),
        "date_of_birth": born.isoformat(),
        "grade": draw(st.sampled_from(["", "K", "3", "<b>4"])),
        "guardian_name": draw(st.one_of(st.just(""), CELL)),
        "guardian_phone": draw(st.sampled_from(["", "+1-503-555-0101"])),
        "consent": draw(st.sampled_from(["yes", "no", "Y", "n", "TRUE", "false"])),
        "language": draw(st.sampled_from(["", "es", "English", "español"])),
        "guardian_email": draw(st.sampled_from(["", "guardian@example.org"])),
    }
    return Row(cells, True)


@st.composite
def invalid_row(draw: st.DrawFn) -> Row:
    row = draw(valid_row())
    cells = dict(row.cells)
    flaw = draw(st.sampled_from(["missing", "date", "future", "consent", "long", "language",
                                 "email"]))
    if flaw == "missing":
        cells[draw(st.sampled_from(["student_id", "first_name", "last_name",
                                    "date_of_birth", "consent"]))] = ""
    elif flaw == "date":
        cells["date_of_birth"] = draw(st.sampled_from(["2016-02-30", "03/04/2016", "<x>"]))
    elif flaw == "future":
        cells["date_of_birth"] = "2099-01-01"
    elif flaw == "consent":
        cells["consent"] = draw(st.sampled_from(["maybe", "<script>", "1"]))
    elif flaw == "language":
        cells["language"] = draw(st.sampled_from(["klingon", "<script>", "fr"]))
    elif flaw == "email":
        cells["guardian_email"] = draw(st.sampled_from(["no-address", "a@b", "x@y.org,z@w.org"]))
    else:
        name = draw(st.sampled_from([*sorted(CELL_LIMITS), "guardian_name"]))
        cells[name] = "x" * (CELL_LIMITS.get(name, MAX_CELL) + 1)
    return Row(cells, False)


def to_csv(rows: list[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row.cells[c] for c in COLUMNS])
    return out.getvalue().encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(valid_row(), invalid_row()), max_size=25))
def test_every_line_is_kept_or_reported_once(rows: list[Row]) -> None:
    parsed = parse_roster(to_csv(rows), today=TODAY)
    kept = {r.line: r for r in parsed.rows}
    reported = [e.line for e in parsed.errors]
    assert len(reported) == len(set(reported)), "a line reported twice"
    assert not set(kept) & set(reported), "a line both kept and reported"
    assert set(kept) | set(reported) == set(range(2, len(rows) + 2))

    first_line: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        if not row.valid:
            assert line in reported, (line, row)
            continue
        sid = row.cells["student_id"]
        if sid in first_line:
            assert line in reported and line not in kept  # a repeat: first line kept
            continue
        first_line[sid] = line
        got = kept[line]
        assert (got.student_id, got.first_name, got.last_name) == (
            sid, row.cells["first_name"], row.cells["last_name"])
        assert got.date_of_birth.isoformat() == row.cells["date_of_birth"]
        assert got.guardian_name == row.cells["guardian_name"]
        assert got.consent is (row.cells["consent"].lower() in {"yes", "y", "true"})
    assert [r.line for r in parsed.rows] == sorted(kept)


@settings(max_examples=40, deadline=None)
@given(st.lists(valid_row(), min_size=1, max_size=10), st.permutations(COLUMNS),
       st.sampled_from(["\r\n", "\n"]), st.booleans())
def test_column_order_line_endings_and_bom_do_not_matter(
    rows: list[Row], order: list[str], ending: str, bom: bool
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=ending)
    writer.writerow(order)
    for row in rows:
        writer.writerow([row.cells[c] for c in order])
    data = ("\ufeff" if bom else "").encode() + out.getvalue().encode()
    reordered = parse_roster(data, today=TODAY)
    plain = parse_roster(to_csv(rows), today=TODAY)
    assert reordered == plain
