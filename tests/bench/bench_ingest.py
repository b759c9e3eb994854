"""Upload ingest: the portal beside the project's own blob store and beside Orthanc.

    .venv/bin/python -m tests.bench.bench_ingest [--photos 24] [--dicoms 40] [--repeat 3]

Photos: 12-megapixel phone JPEGs through ``POST /api/v1/cases/{id}/attachments`` (a file
counts once the portal answered 201) versus ``BlobStore.put`` of the same bytes. Radiographs:
40 synthetic 16-bit intra-oral DICOMs (~6 MB, own study/series/instance UIDs) through the
portal versus Orthanc's ``POST /instances``. 1 and 8 concurrent clients; each figure is the
median of ``--repeat`` runs. Prints a table and writes tests/bench/results/ingest.json.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from storage.blobs import new_blob_key, open_blob_store
from tests.bench.servers import orthanc, portal
from tests.bench.synth import make_dicom, make_phone_jpeg
from tests.support.live import LiveServer

RESULTS = Path(__file__).parent / "results"


@dataclass
class Figure:
    target: str
    kind: str
    clients: int
    files: int
    seconds: float

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds

    def mb_per_s(self, total_bytes: int) -> float:
        return total_bytes / self.seconds / 1e6


def median_of(runs: int, measure: Callable[..., Coroutine[Any, Any, float]], *args: Any) -> float:
    """The median seconds of ``runs`` runs of ``measure(*args)``: one run of 24 puts lasts a
    fraction of a second, and single runs moved by half from one to the next."""
    return statistics.median(asyncio.run(measure(*args)) for _ in range(max(1, runs)))


async def run_concurrently(
    items: list[Path], clients: int, send: Callable[[Path], Awaitable[None]]
) -> float:
    queue: asyncio.Queue[Path] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            await send(queue.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - started


async def portal_session(server: LiveServer) -> tuple[dict[str, str], str]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        token = (await client.post("/api/v1/tokens", json={
            "email": "patient@demo.test", "password": server.password, "name": "bench"})).json()
        headers = {"Authorization": f"Bearer {token['token']}"}
        form = (await client.get("/api/v1/consent-forms/teledentistry", headers=headers)).json()
        await client.post("/api/v1/consents", headers=headers,
                          json={"form": "teledentistry", "version": form["version"]})
        case = await client.post("/api/v1/cases", headers=headers, json={"kind": "post_op"})
        case.raise_for_status()
        return headers, case.json()["id"]


async def portal_upload(server: LiveServer, files: list[Path], clients: int, kind: str) -> float:
    """Seconds for ``clients`` concurrent clients to upload ``files`` (each answered 201) into
    a new case; then waits, untimed, until the background worker has made every view, so the
    next figure is taken on a quiet machine."""
    headers, case_id = await portal_session(server)
    async with httpx.AsyncClient(base_url=server.url, timeout=120, headers=headers) as client:

        async def send(path: Path) -> None:
            response = await client.post(
                f"/api/v1/cases/{case_id}/attachments",
                files={"file": (path.name, path.read_bytes())},
                data={"kind": kind, "view": "other"},
            )
            if response.status_code != 201:
                raise RuntimeError(f"portal answered {response.status_code}: {response.text}")

        seconds = await run_concurrently(files, clients, send)
        await views_made(client, case_id)
        return seconds


async def views_made(client: httpx.AsyncClient, case_id: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        case = (await client.get(f"/api/v1/cases/{case_id}")).json()
        if all(a["status"] != "processing" for a in case["attachments"]):
            return
        await asyncio.sleep(0.25)
    raise RuntimeError(f"views of case {case_id} still processing after {timeout:.0f} s")


async def direct_put(blob_url: str, files: list[Path], clients: int) -> float:
    store = open_blob_store(blob_url)
    try:

        async def send(path: Path) -> None:
            await store.put(new_blob_key("bench"), path.read_bytes())

        return await run_concurrently(files, clients, send)
    finally:
        await store.aclose()


async def orthanc_post(url: str, files: list[Path], clients: int) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:

        async def send(path: Path) -> None:
            response = await client.post("/instances", content=path.read_bytes())
            response.raise_for_status()

        return await run_concurrently(files, clients, send)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--dicoms", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per figure; the median is reported (default 3)")
    parser.add_argument(
        "--database-url",
        help="run the portal on this (migrated, demo-seeded) PostgreSQL database instead of "
        "its embedded SQLite file",
    )
    args = parser.parse_args()
    env = {}
    if args.database_url:
        env = {"TOOTHLINE_DATABASE_URL": args.database_url,
               "TOOTHLINE_SECRET_KEY": "bench-secret-" + "k" * 40,
               "TOOTHLINE_AUDIT_KEY": "bench-audit-key-" + "k" * 40}
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="toothline-bench-") as tmp:
        work = Path(tmp)
        photos = [make_phone_jpeg(work / f"photo{i}.jpg", i) for i in range(args.photos)]
        dicoms = [make_dicom(work / f"xray{i}.dcm", i) for i in range(args.dicoms)]
        photo_bytes = sum(p.stat().st_size for p in photos)
        dicom_bytes = sum(p.stat().st_size for p in dicoms)
        with portal(work, workers=2, env=env) as server:
            # Untimed warm-up: each portal process starts its derivation process on its
            # first upload (imports included), which is start-up cost, not ingest.
            asyncio.run(portal_upload(server, photos[:8], 8, "photo"))
            asyncio.run(portal_upload(server, dicoms[:8], 8, "radiograph"))
            runs, direct = args.repeat, f"file://{work}/direct"
            for clients in (1, 8):
                seconds = median_of(runs, portal_upload, server, photos, clients, "photo")
                figures.append(Figure("portal", "photo", clients, len(photos), seconds))
                seconds = median_of(runs, direct_put, direct, photos, clients)
                figures.append(Figure("direct", "photo", clients, len(photos), seconds))
                seconds = median_of(runs, portal_upload, server, dicoms, clients, "radiograph")
                figures.append(Figure("portal", "dicom", clients, len(dicoms), seconds))
        with orthanc(work) as archive:
            for clients in (1, 8):
                seconds = median_of(args.repeat, orthanc_post, archive.url, dicoms, clients)
                figures.append(Figure("orthanc", "dicom", clients, len(dicoms), seconds))

    def get(target: str, kind: str, clients: int) -> Figure:
        return next(f for f in figures if (f.target, f.kind, f.clients) == (target, kind, clients))

    print(f"{'target':<8} {'kind':<6} {'clients':>7} {'files':>6} {'files/s':>9} {'MB/s':>8}")
    for f in figures:
        total = photo_bytes if f.kind == "photo" else dicom_bytes
        print(f"{f.target:<8} {f.kind:<6} {f.clients:>7} {f.files:>6} "
              f"{f.files_per_s:>9.2f} {f.mb_per_s(total):>8.1f}")
    upload_ratio = get("portal", "photo", 8).files_per_s / get("direct", "photo", 8).files_per_s
    ingest_ratio = get("portal", "dicom", 8).files_per_s / get("orthanc", "dicom", 8).files_per_s
    print(f"upload ratio portal/direct: {upload_ratio:.2f}")
    print(f"ingest ratio portal/orthanc: {ingest_ratio:.2f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps({
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "photo_bytes": photo_bytes, "dicom_bytes": dicom_bytes,
        "figures": [asdict(f) | {"files_per_s": f.files_per_s} for f in figures],
        "upload_ratio_portal_direct": upload_ratio,
        "ingest_ratio_portal_orthanc": ingest_ratio,
    }, indent=2))


if __name__ == "__main__":
    main()
