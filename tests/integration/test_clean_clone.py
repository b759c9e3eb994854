"""The repository stands on its own: a fresh clone with nothing beside it passes a smoke subset.

The clone is of this checkout's HEAD (committed work only) into a temporary folder, so no
``shared/`` or other sibling folder is there to lean on. The subset runs with the current
interpreter and ``PYTHONPATH`` set to the clone, so the clone's own ``portal``, ``reviewer``,
``storage`` and ``tests`` are imported (checked first), its fixtures are read and its templates
rendered. A second, cheap check reads every tracked file for a path that leaves the repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Fast unit tests (one reads the roster fixtures) and integration tests on SQLite that upload a
# fixture through the app and render pages from templates/.
SMOKE = [
    "tests/unit/test_layering.py",
    "tests/unit/screening/test_roster.py",
    "tests/integration/intake/test_uploads.py::test_files_are_streamed_back_audited_each_time[sqlite]",
    "tests/integration/accounts/test_access_links.py::test_unknown_link_is_404[sqlite]",
]

# Written in pieces so this file does not match itself.
LEAVES_REPO = re.compile("|".join([
    r"\.\./" + "shared",  # a relative path to the sibling folder
    r"/work/" + "shared",  # this workplace's absolute path
    r"""["']""" + "shared" + r"""["']\s*/""",  # a pathlib join with that folder name
]))


def _git(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def _head() -> str:
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot clone the repository")
    found = _git("rev-parse", "--verify", "HEAD")
    if found.returncode != 0:
        pytest.skip(f"{ROOT} is not a git checkout with commits: nothing to clone")
    return found.stdout.strip()


def _child_env(clone: Path) -> dict[str, str]:
    """The caller's environment without what this test session set for itself."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "TOOTHLINE_VAR_DIR", "COV_"))
    }
    env["PYTHONPATH"] = str(clone)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_clone_without_anything_beside_it_passes_the_smoke_subset(tmp_path: Path) -> None:
    head = _head()
    clone = tmp_path / "clone"
    cloned = _git("clone", "--quiet", "--no-checkout", str(ROOT), str(clone), cwd=tmp_path)
    assert cloned.returncode == 0, cloned.stderr
    checked_out = _git("checkout", "--quiet", "--detach", head, cwd=clone)
    assert checked_out.returncode == 0, checked_out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clone"]  # nothing beside it
    env = _child_env(clone)

    where = subprocess.run(
        [sys.executable, "-c", "import portal, reviewer, storage, tests; "
         "print(portal.__file__, reviewer.__file__, storage.__file__, tests.__file__)"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=60,
    )
    assert where.returncode == 0, where.stderr
    assert all(Path(p).is_relative_to(clone) for p in where.stdout.split()), where.stdout

    smoke = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SMOKE],
        cwd=clone, env=env, capture_output=True, text=True, timeout=150,
    )
    assert smoke.returncode == 0, smoke.stdout[-6000:] + smoke.stderr[-3000:]
    assert " passed" in smoke.stdout and "skipped" not in smoke.stdout.splitlines()[-1]


def test_no_tracked_file_points_outside_the_repository() -> None:
    _head()
    listed = _git("ls-files", "-z")
    assert listed.returncode == 0, listed.stderr
    offenders = []
    for name in filter(None, listed.stdout.split("\0")):
        path = ROOT / name
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:  # binary fixture
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if LEAVES_REPO.search(line):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert offenders == []
