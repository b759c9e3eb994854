"""The locust users of the mixed-load benchmark (tests/bench/bench_mixed.py runs them).

Four kinds, as in issue 20: hygienists uploading a screening day (a child registered, guardian
consent on paper, a case, photos and radiographs, submit), dentists working the queue (queue
page, claim next, case page, every image, draft, sign), patients checking their cases (start
page, their case page) and billing (worklist page, the signed cases' packages). Pages are the
HTML pages over a signed-in session (CSRF token and Origin as a browser sends them); the rest
goes through ``/api/v1`` with a bearer token, as the phone app and integrations do.

``upload to thumbnail`` is a locust event of type METRIC: from the start of an upload to the
moment the case shows the attachment ``ready`` (its views made by the ``toothline worker``).

Signing in is argon2 (deliberately slow, 64 MiB a hash): at most two users sign in at once,
and the figures start when the last user has signed in (its stats reset), then run for
``BENCH_SECONDS`` before the last user stops locust. Read by locust only: ``BENCH_PASSWORD``,
``BENCH_IMAGES``, ``BENCH_IMAGE_DIR``, ``BENCH_USERS``, ``BENCH_SECONDS``.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import time
from pathlib import Path

import gevent
from gevent.lock import Semaphore
from locust import HttpUser, between, task
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

PASSWORD = os.environ.get("BENCH_PASSWORD", "bench-password-123")
IMAGES = int(os.environ.get("BENCH_IMAGES", "600"))
IMAGE_DIR = Path(os.environ.get("BENCH_IMAGE_DIR", "/tmp/toothline-mixed-images"))
PHOTOS_PER_CHILD = 4
RADIOGRAPHS_PER_CHILD = 2
POLL_S = 0.25
THUMBNAIL_TIMEOUT_S = 60.0
USERS = int(os.environ.get("BENCH_USERS", "58"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "60"))
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')

_uploaded = itertools.count(1)
_hygienists = itertools.count(0)
_dentists = itertools.count(0)
_patients = itertools.count(0)
_ready = itertools.count(1)
_signing_in = Semaphore(2)
SIGNED: list[str] = []
"""Cases the dentists signed in this run, for billing (one locust process: shared)."""


def make_images(folder: Path) -> None:
    """Eight files to cycle: six 3-megapixel phone photos and two 16-bit DICOM radiographs
    (synthetic, tests/bench/synth.py). Called by bench_mixed before locust starts."""
    from tests.bench.synth import make_dicom, make_phone_jpeg

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(6):
        make_phone_jpeg(folder / f"photo{i}.jpg", i, size=(2000, 1500))
    for i in range(2):
        make_dicom(folder / f"xray{i}.dcm", i)


def _files(prefix: str) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(IMAGE_DIR.glob(f"{prefix}*"))]


class PortalUser(HttpUser):
    abstract = True
    email = ""

    def on_start(self) -> None:
        # Browsers retry an idempotent request once when a kept-alive connection was closed
        # under it (the server's keep-alive timeout racing the next click); so does this.
        self.client.mount("http://", HTTPAdapter(max_retries=Retry(
            total=1, connect=1, read=1, status=0, other=0, raise_on_status=False)))
        try:
            self.setup()
        finally:
            self.ready()

    def setup(self) -> None:
        raise NotImplementedError

    def sign_in(self) -> None:
        """A browser session (cookie) and an API token, both for ``self.email``."""
        with _signing_in:
            self._sign_in()

    def _sign_in(self) -> None:
        self.client.headers["Origin"] = self.host or ""
        page = self.client.get("/login", name="sign-in page")
        match = CSRF.search(page.text)
        self.client.post("/login", name="sign in", allow_redirects=False, data={
            "email": self.email, "password": PASSWORD, "_csrf_token": match.group(1) if match
            else ""})
        token = self.client.post("/api/v1/tokens", name="api token", json={
            "email": self.email, "password": PASSWORD, "name": "bench"}).json()["token"]
        self.api = {"Authorization": f"Bearer {token}"}

    def ready(self) -> None:
        """The last user to be ready starts the measured window and ends it later."""
        if next(_ready) != USERS or self.environment.runner is None:
            return
        runner = self.environment.runner
        runner.stats.reset_all()

        def stop() -> None:
            gevent.sleep(SECONDS)
            runner.quit()

        gevent.spawn(stop)

    def metric(self, name: str, started: float) -> None:
        self.environment.events.request.fire(
            request_type="METRIC", name=name, response_time=(time.monotonic() - started) * 1000,
            response_length=0, exception=None, context={})

    def watch(self, case_id: str, attachment_id: str, started: float) -> None:
        """Polls the case until the attachment is ready: the upload-to-thumbnail figure."""
        deadline = started + THUMBNAIL_TIMEOUT_S
        while time.monotonic() < deadline:
            case = self.client.get(f"/api/v1/cases/{case_id}", headers=self.api,
                                   name="api case (status)").json()
            status = next((a["status"] for a in case.get("attachments", [])
                           if a["id"] == attachment_id), "processing")
            if status != "processing":
                self.metric("upload to thumbnail", started)
                return
            gevent.sleep(POLL_S)
        self.environment.events.request.fire(
            request_type="METRIC", name="upload to thumbnail", response_time=THUMBNAIL_TIMEOUT_S
            * 1000, response_length=0, exception=TimeoutError("views not made"), context={})

    def upload(self, case_id: str, kind: str, name: str, data: bytes) -> gevent.Greenlet | None:
        """Uploads one file; the returned greenlet ends when its views are made."""
        started = time.monotonic()
        with self.client.post(f"/api/v1/cases/{case_id}/attachments", headers=self.api,
                              name="upload", files={"file": (name, data)},
                              data={"kind": kind, "view": "other"},
                              catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return None
            attachment_id: str = response.json()["id"]
        return gevent.spawn(self.watch, case_id, attachment_id, started)


class HygienistUser(PortalUser):
    """One of four hygienists: a child after the other, six images each, until the day's
    ``BENCH_IMAGES`` are uploaded."""

    wait_time = between(1, 3)
    fixed_count = 4

    def setup(self) -> None:
        n = next(_hygienists)
        self.email = "hygienist@demo.test" if n == 0 else f"hygienist{n}@bench.test"
        self.sign_in()
        self.photos, self.xrays = _files("photo"), _files("xray")

    @task
    def screen_child(self) -> None:
        if next(_uploaded) > IMAGES:
            return
        child = random.randrange(10**6)
        patient = self.client.post("/api/v1/patients", headers=self.api, name="api register",
                                   json={"first_name": f"Kid{child}", "last_name": "Bench",
                                         "date_of_birth": "2016-03-02", "state": "CA",
                                         "guardian_name": "Gia Bench",
                                         "guardian_phone": "+1 916 555 0100"}).json()
        form = self.client.get("/api/v1/consent-forms/teledentistry", headers=self.api,
                               name="api consent form").json()
        self.client.post("/api/v1/consents", headers=self.api, name="api consent", json={
            "form": "teledentistry", "version": form["version"], "patient_id": patient["id"],
            "given_by": "guardian", "given_by_name": "Gia Bench"})
        case = self.client.post("/api/v1/cases", headers=self.api, name="api case create",
                                json={"kind": "post_op", "patient_id": patient["id"]}).json()
        plan = ([("photo", random.choice(self.photos)) for _ in range(PHOTOS_PER_CHILD)]
                + [("radiograph", random.choice(self.xrays)) for _ in range(RADIOGRAPHS_PER_CHILD)])
        watching = []
        for index, (kind, (name, data)) in enumerate(plan):
            if index and next(_uploaded) > IMAGES:
                break
            watching.append(self.upload(case["id"], kind, name, data))
        # The phone app sends the case once its pictures show: the dentist then has views.
        gevent.joinall([g for g in watching if g is not None])
        self.client.post(f"/api/v1/cases/{case['id']}/submit", headers=self.api,
                         name="api case submit")


class DentistUser(PortalUser):
    """One of three dentists (the two demo dentists' accounts, the first one twice)."""

    wait_time = between(1, 3)
    fixed_count = 3

    def setup(self) -> None:
        self.email = ("dentist@demo.test", "dentist2@demo.test")[next(_dentists) % 2]
        self.sign_in()

    @task
    def review_next(self) -> None:
        self.client.get("/review", name="page review queue")
        with self.client.post("/api/v1/queue/claim", headers=self.api, name="api claim next",
                              catch_response=True) as response:
            if response.status_code in (204, 404) or not response.content:
                response.success()
                return
            case_id = response.json()["id"]
        self.client.get(f"/review/cases/{case_id}", name="page review case")
        case = self.client.get(f"/api/v1/cases/{case_id}", headers=self.api,
                               name="api case").json()
        unviewed = {}
        for attachment in case.get("attachments", []):
            if attachment["status"] != "ready":  # e.g. a DICOM held for its identity
                unviewed[attachment["id"]] = "not displayable"
                continue
            self.client.get(f"/api/v1/cases/{case_id}/attachments/{attachment['id']}/display",
                            headers=self.api, name="api image display")
        self.client.put(f"/api/v1/cases/{case_id}/evaluation", headers=self.api,
                        name="api evaluation draft", json={
                            "findings": "Healing well.", "diagnosis": "Normal healing.",
                            "advice": "Rinse with salt water."})
        with self.client.post(f"/api/v1/cases/{case_id}/evaluation/sign", headers=self.api,
                              name="api sign", json={"password": PASSWORD, "attest": True,
                                    "unviewed_reasons": unviewed},
                              catch_response=True) as signed:
            if signed.status_code == 200:
                SIGNED.append(case_id)
            else:
                signed.failure(f"{signed.status_code}: {signed.text[:200]}")


class PatientUser(PortalUser):
    """One of fifty patients: sends a case with one photo, then looks at it now and then."""

    wait_time = between(5, 15)
    fixed_count = int(os.environ.get("BENCH_PATIENTS", "50"))

    def setup(self) -> None:
        self.email = f"patient{next(_patients)}@bench.test"
        self.sign_in()
        form = self.client.get("/api/v1/consent-forms/teledentistry", headers=self.api,
                               name="api consent form").json()
        self.client.post("/api/v1/consents", headers=self.api, name="api consent",
                         json={"form": "teledentistry", "version": form["version"]})
        self.case_id = self.client.post("/api/v1/cases", headers=self.api,
                                        name="api case create",
                                        json={"kind": "post_op"}).json()["id"]
        name, data = random.choice(_files("photo"))
        watching = self.upload(self.case_id, "photo", name, data)
        if watching is not None:
            watching.join()
        self.client.post(f"/api/v1/cases/{self.case_id}/submit", headers=self.api,
                         name="api case submit")

    @task
    def check_case(self) -> None:
        self.client.get("/patient", name="page patient start")
        self.client.get(f"/patient/cases/{self.case_id}", name="page patient case")


class BillingUser(PortalUser):
    """Billing: the worklist, then the documentation PDF and claim attachment of a signed
    case (202 while the package is still being built counts as answered)."""

    wait_time = between(3, 6)
    fixed_count = 1

    def setup(self) -> None:
        self.email = "billing@demo.test"
        self.sign_in()

    @task
    def download(self) -> None:
        self.client.get("/billing", name="page billing worklist")
        if not SIGNED:
            return
        case_id = random.choice(SIGNED)
        self.client.get(f"/api/v1/cases/{case_id}/claim-packages", headers=self.api,
                        name="api claim packages")
        for what in ("documentation.pdf", "claim-attachment.zip"):
            self.client.get(f"/api/v1/cases/{case_id}/{what}", headers=self.api,
                            name=f"api {what}")


