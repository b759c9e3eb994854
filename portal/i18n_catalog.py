"""The message catalogs as files: extract the source texts, update each language's ``.po``,
check that every text has a translation. ``scripts/i18n`` runs it; the tests call it.

The template (``portal/locale/messages.pot``) and the catalogs are written without line
numbers, so moving code does not change them; a text added, changed or removed does.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from portal.i18n import DEFAULT, DOMAIN, LANGUAGES, LOCALE_DIR, catalog_path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "babel.cfg"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
PROJECT = "Toothline"
WIDTH = 100


def extract() -> Catalog:
    """Every marked text of the sources, as ``babel.cfg`` says where to look."""
    with CONFIG.open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    catalog = Catalog(project=PROJECT, domain=DOMAIN, charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=DEFAULT_KEYWORDS,
        comment_tags=("Translators:",), strip_comment_tags=True,
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments,
                    context=context)
    return catalog


def _write(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=WIDTH, include_lineno=False, ignore_obsolete=True,
             omit_header=False)
    path.write_bytes(buffer.getvalue())


def read(language: str) -> Catalog:
    with catalog_path(language).open("rb") as po:
        return read_po(po, locale=language, domain=DOMAIN)


def update() -> None:
    """Rewrite the template from the sources, then merge it into every language's catalog:
    new texts come in untranslated (never guessed: no fuzzy matching), removed ones go."""
    template = extract()
    _write(TEMPLATE, template)
    for language in LANGUAGES:
        if language == DEFAULT:
            continue
        path = catalog_path(language)
        if path.exists():
            catalog = read(language)
        else:
            catalog = Catalog(locale=language, project=PROJECT, domain=DOMAIN, charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalog.obsolete.clear()
        catalog.fuzzy = False  # the header: the catalog is used as it is
        _write(path, catalog)


@dataclass(frozen=True)
class Problem:
    language: str
    msgid: str
    what: str

    def __str__(self) -> str:
        return f"{self.language}: {self.what}: {self.msgid!r}"


def _key(message_id: str | tuple[str, ...] | list[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def check() -> list[Problem]:
    """What keeps the catalogs from being complete: a text of the sources that a catalog
    lacks, leaves empty or marks fuzzy; an entry no source has any more; a stale template."""
    source = extract()
    wanted = {_key(message.id) for message in source if message.id}
    problems: list[Problem] = []
    with TEMPLATE.open("rb") as pot:
        template = read_po(pot, domain=DOMAIN)
    if {_key(message.id) for message in template if message.id} != wanted:
        problems.append(Problem("pot", str(TEMPLATE.name), "template out of date"))
    for language in LANGUAGES:
        if language == DEFAULT:
            continue
        catalog = read(language)
        have: set[str] = set()
        for message in catalog:
            if not message.id:
                continue
            key = _key(message.id)
            have.add(key)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if key not in wanted:
                problems.append(Problem(language, key, "no source uses it"))
            elif message.fuzzy:
                problems.append(Problem(language, key, "fuzzy"))
            elif not all(strings):
                problems.append(Problem(language, key, "not translated"))
        if catalog.obsolete:
            problems.extend(Problem(language, _key(key), "obsolete") for key in catalog.obsolete)
        problems.extend(Problem(language, key, "missing") for key in sorted(wanted - have))
    return problems


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "extract":
        _write(TEMPLATE, extract())
    elif command == "update":
        update()
    elif command == "check":
        problems = check()
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} catalog problem(s): run scripts/i18n update, then translate.")
            return 1
        print("catalogs complete")
    else:
        print("usage: scripts/i18n [extract|update|check]")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
