"""Class roster CSV parsing: every bad line reported with its line number and reason.

Line numbers count the header as line 1. A repeated student id keeps the first line. Cell
text is kept exactly as written (a name starting with ``=`` stays text; exports escape it).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date

REQUIRED_COLUMNS = ("student_id", "first_name", "last_name", "date_of_birth", "consent")
OPTIONAL_COLUMNS = ("grade", "guardian_name", "guardian_phone", "language",
                    "guardian_email")
CONSENT_VALUES = {"yes": True, "y": True, "true": True, "no": False, "n": False, "false": False}
MAX_ROWS = 5000
MAX_CELL = 200
CELL_LIMITS = {"student_id": 64, "first_name": 100, "last_name": 100, "grade": 16,
               "guardian_phone": 32, "language": 16, "guardian_email": 254}
"""The columns the patient record holds in less than MAX_CELL: a longer cell is a line error,
never cut silently (two long student ids cut to one prefix would merge two children)."""
LANGUAGE_VALUES = {
    "en": "en", "english": "en", "inglés": "en", "ingles": "en",
    "es": "es", "spanish": "es", "español": "es", "espanol": "es",
}
"""The guardian's language (the results letter's): a code or the language's name in English
or Spanish, any case. Empty keeps what the patient record says."""
EMAIL_SHAPE = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+")
"""The shape of one mail address (local@domain.tld, no spaces, lists or angle brackets): the
results letter link goes there, so a typo must refuse the line rather than mail a stranger's
domain silently. Deliverability is not checked (no DNS from the import)."""


@dataclass(frozen=True)
class RosterRow:
    line: int
    student_id: str
    first_name: str
    last_name: str
    date_of_birth: date
    grade: str
    guardian_name: str
    guardian_phone: str
    consent: bool
    language: str | None = None
    """``en`` or ``es`` when the roster says; None when the column is absent or empty."""
    guardian_email: str | None = None
    """Where the results letter link is mailed; None when the column is absent or empty."""


@dataclass(frozen=True)
class RosterError:
    line: int
    reason: str


@dataclass(frozen=True)
class ParsedRoster:
    rows: list[RosterRow]
    errors: list[RosterError]


class RosterUnreadable(ValueError):
    """The file as a whole cannot be used (not UTF-8 text, no header, missing columns)."""


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterUnreadable("The roster must be a CSV file saved as UTF-8 text.") from None


def parse_roster(data: bytes, *, today: date | None = None) -> ParsedRoster:
    today = today or date.today()
    text = _decode(data)
    if "\x00" in text:
        raise RosterUnreadable("The roster must be a CSV file saved as UTF-8 text.")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except StopIteration:
        raise RosterUnreadable("The roster is empty.") from None
    except csv.Error as exc:
        raise RosterUnreadable(f"The roster is not valid CSV: {exc}") from None
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise RosterUnreadable("The roster header lacks: " + ", ".join(missing) + ".")
    index = {name: header.index(name) for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
             if name in header}

    rows: list[RosterRow] = []
    errors: list[RosterError] = []
    seen: dict[str, int] = {}
    try:
        for offset, cells in enumerate(reader):
            line = offset + 2
            if line - 1 > MAX_ROWS:
                reason = f"more than {MAX_ROWS} rows; the rest was not read"
                errors.append(RosterError(line, reason))
                break
            if not any(cell.strip() for cell in cells):
                continue
            outcome = _parse_line(line, cells, index, today)
            if isinstance(outcome, RosterError):
                errors.append(outcome)
                continue
            if outcome.student_id in seen:
                first = seen[outcome.student_id]
                reason = f"student id {outcome.student_id} repeats line {first}; first line kept"
                errors.append(RosterError(line, reason))
                continue
            seen[outcome.student_id] = line
            rows.append(outcome)
    except csv.Error as exc:
        errors.append(RosterError(reader.line_num, f"not valid CSV: {exc}"))
    return ParsedRoster(rows, errors)


def _cell(cells: list[str], index: dict[str, int], name: str) -> str:
    position = index.get(name)
    if position is None or position >= len(cells):
        return ""
    return cells[position].strip()


def _parse_line(
    line: int, cells: list[str], index: dict[str, int], today: date
) -> RosterRow | RosterError:
    values = {name: _cell(cells, index, name) for name in index}
    for name in ("student_id", "first_name", "last_name", "date_of_birth", "consent"):
        if not values[name]:
            return RosterError(line, f"{name.replace('_', ' ')} is missing")
    too_long = [name for name, value in values.items()
                if len(value) > CELL_LIMITS.get(name, MAX_CELL)]
    if too_long:
        name, limit = too_long[0], CELL_LIMITS.get(too_long[0], MAX_CELL)
        return RosterError(line, f"{name.replace('_', ' ')} is longer than {limit} characters")
    try:
        born = date.fromisoformat(values["date_of_birth"])
    except ValueError:
        return RosterError(
            line, f"date of birth {values['date_of_birth']!r} is not a real date (use YYYY-MM-DD)"
        )
    if born > today or born.year < today.year - 30:
        return RosterError(line, f"date of birth {born.isoformat()} is not plausible for a pupil")
    consent = CONSENT_VALUES.get(values["consent"].lower())
    if consent is None:
        return RosterError(line, f"consent {values['consent']!r} must be yes or no")
    language_text = values.get("language", "")
    language = LANGUAGE_VALUES.get(language_text.lower()) if language_text else None
    if language_text and language is None:
        return RosterError(
            line, f"language {language_text!r} must be en or es (English or Spanish)"
        )
    guardian_email = values.get("guardian_email", "") or None
    if guardian_email is not None and not EMAIL_SHAPE.fullmatch(guardian_email):
        return RosterError(line, f"guardian email {guardian_email!r} is not an email address")
    return RosterRow(
        line=line,
        student_id=values["student_id"],
        first_name=values["first_name"],
        last_name=values["last_name"],
        date_of_birth=born,
        grade=values.get("grade", ""),
        guardian_name=values.get("guardian_name", ""),
        guardian_phone=values.get("guardian_phone", ""),
        consent=consent,
        language=language,
        guardian_email=guardian_email,
    )
