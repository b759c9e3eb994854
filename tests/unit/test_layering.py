"""Every "never" of the layering in docs/architecture.md, checked on the import statements.

Imports point down only: portal -> reviewer -> storage. ``storage`` imports neither of the
others; ``reviewer`` never imports ``portal`` and speaks no HTTP; nothing the app ships imports
``tests``; ``templates/`` holds no Python and nothing imports it (Jinja reads it from disk);
``storage/media`` is pure (no database, no blob store); the pure rules (CDT coding, the case
vocabulary and state machine, the documentation content) reach no database.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("portal", "reviewer", "storage")
HTTP = {"litestar", "starlette", "uvicorn", "httpx", "advanced_alchemy.extensions"}
DATABASE = {"sqlalchemy", "alembic", "advanced_alchemy", "aiosqlite", "asyncpg"}

# (what, the files it covers, the modules they never import). A name matches a module and
# everything below it ("storage" forbids storage.models too).
NEVER: list[tuple[str, list[str], set[str]]] = [
    ("storage imports neither portal nor reviewer", ["storage"], {"portal", "reviewer"}),
    ("reviewer never imports portal", ["reviewer"], {"portal"}),
    ("reviewer and storage speak no HTTP", ["reviewer", "storage"], HTTP),
    ("nothing the app ships imports tests", list(SHIPPED), {"tests"}),
    ("nothing imports templates (Jinja reads it from disk)", [*SHIPPED, "tests"], {"templates"}),
    (
        "storage/media is pure: no database, no blob store, no audit trail",
        ["storage/media"],
        DATABASE | {"storage.models", "storage.database", "storage.blobs", "storage.audit"},
    ),
    (
        "pure rules reach no database and no stored model",
        ["reviewer/coding", "reviewer/cases", "reviewer/documents/model.py"],
        DATABASE | {"storage"},
    ),
]


def _imports(path: Path) -> set[str]:
    """Absolute module names imported by ``path`` (relative imports stay inside a package)."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _files(where: str) -> list[Path]:
    target = ROOT / where
    files = [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))
    assert files, f"{where} has no Python files: the layering rule points at nothing"
    return files


def _hits(imported: set[str], forbidden: set[str]) -> list[str]:
    return sorted(
        name for name in imported
        if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
    )


@pytest.mark.parametrize(("rule", "where", "forbidden"), NEVER, ids=[rule for rule, *_ in NEVER])
def test_layering_never(rule: str, where: list[str], forbidden: set[str]) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {hits}"
        for folder in where
        for path in _files(folder)
        if (hits := _hits(_imports(path), forbidden))
    ]
    assert offenders == [], rule


def test_templates_hold_no_python() -> None:
    assert sorted((ROOT / "templates").rglob("*.py")) == []


def test_the_check_sees_an_offender() -> None:
    """The matcher itself: a submodule import and a from-import both count."""
    assert _hits({"storage.models.case", "portal"}, {"storage.models"}) == ["storage.models.case"]
    assert _hits({"sqlalchemy_utils"}, {"sqlalchemy"}) == []
