"""Each package imports on its own, in any order: a worker process imports the billing jobs
first, the portal imports the labels first (an import cycle broke the first)."""

from __future__ import annotations

import subprocess
import sys

import pytest

FIRST_IMPORTS = ["reviewer.billing.jobs", "reviewer.billing.facts", "reviewer.evaluation.services",
                 "reviewer.labels", "portal.jobs.worker", "portal.app"]


@pytest.mark.parametrize("module", FIRST_IMPORTS)
def test_a_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
