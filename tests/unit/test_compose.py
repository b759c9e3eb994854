"""No container engine runs here, so compose.yaml is checked by reading it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from portal.settings import KNOWN_VARIABLES

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_every_toothline_variable_is_known() -> None:
    for name, service in _compose()["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("TOOTHLINE_"):
                assert variable in KNOWN_VARIABLES, f"{name}: {variable} is not a setting"


def test_every_service_has_a_health_check_and_a_pinned_image() -> None:
    services = _compose()["services"]
    assert {"portal", "postgres", "minio", "redis"} <= set(services)
    for name, service in services.items():
        assert "healthcheck" in service, name
        image = service.get("image", "")
        assert not image.endswith(":latest") and (":" in image or "build" in service), name
    assert services["minio"]["image"].split(":")[1].startswith("RELEASE.")
    assert services["postgres"]["image"].startswith("postgres:16")


def test_portal_waits_for_its_services_and_migrates_first() -> None:
    portal = _compose()["services"]["portal"]
    assert set(portal["depends_on"]) == {"postgres", "minio", "redis"}
    assert all(dep["condition"] == "service_healthy" for dep in portal["depends_on"].values())
    assert "toothline db upgrade" in " ".join(portal["command"])


def test_a_worker_runs_the_jobs_with_the_portals_settings() -> None:
    services = _compose()["services"]
    worker, portal = services["worker"], services["portal"]
    assert worker["command"][:2] == ["toothline", "worker"]
    assert worker["image"] == portal["image"]
    assert worker["environment"] == portal["environment"]  # same database, blobs, Redis, keys
    assert worker["environment"]["TOOTHLINE_REDIS_URL"].startswith("redis://redis:")
    assert {"portal", "redis"} <= set(worker["depends_on"])
    assert all(dep["condition"] == "service_healthy" for dep in worker["depends_on"].values())
    assert "saq:toothline:stats" in " ".join(worker["healthcheck"]["test"])  # SAQ's worker index
