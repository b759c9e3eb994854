"""A D9961 electronic copy holds the patient's FHIR $everything Bundle (fhir/everything.json):
it parses with fhir.resources, holds the Patient, the ImagingStudy and the DocumentReference of
the case in the copy (pointing at the record PDF inside the ZIP), is listed in the index and
audited; a paper copy released by mail does not hold it (docs/records.md)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import zipfile

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing.packages import build_current_package
from reviewer.coding.rules import EncounterType
from reviewer.records import services
from reviewer.records.assemble import BUNDLE_NAME
from reviewer.records.services import NewRequest, Verification
from storage.blobs import BlobStore
from storage.models import Patient, ViewEvent
from tests.integration.records.seeding import (
    BASE,
    CTX,
    actor_for,
    demo_patient,
    other_org_patient,
    signed_case,
)

RECEIVED = dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.UTC)


def _zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def _prepared(db: AsyncSession, blobs: BlobStore, patient: Patient, fmt: str,
                    method: str):
    desk = await actor_for(db, "billing@demo.test")
    req = await services.log_request(db, desk, CTX, NewRequest.from_dict({
        "requester": "patient", "records": "all", "format": fmt,
        "patient_id": str(patient.id), "requester_name": "Someone",
    }), now=RECEIVED)
    await services.verify(db, desk, CTX, req.id,
                          Verification("portal_login", "state_id", "4821", "self"), now=RECEIVED)
    await services.quote(db, desk, CTX, req.id, now=RECEIVED)
    await services.waive(db, desk, CTX, req.id, "hardship", now=RECEIVED)
    await services.prepare(db, blobs, desk, CTX, req.id, base_url=BASE, now=RECEIVED)
    delivery = await services.deliver(db, desk, CTX, req.id, delivery_method=method,
                                      now=RECEIVED)
    await db.commit()
    return req, delivery


async def test_electronic_copy_holds_the_everything_bundle(
    demo_db: AsyncSession, blobs: BlobStore
):
    patient = await demo_patient(demo_db)
    seeded = await signed_case(demo_db, blobs, patient, collected_on=dt.date(2026, 1, 10))
    package = await build_current_package(demo_db, blobs, EncounterType.ASYNCHRONOUS,
                                          seeded.case_id)
    assert package is not None
    await demo_db.commit()
    req, delivery = await _prepared(demo_db, blobs, patient, "electronic", "portal")
    assert delivery.token
    outcome = await services.use_link(demo_db, CTX, delivery.token, now=RECEIVED)
    files = _zip(await blobs.read(outcome.key or ""))
    index = json.loads(files.pop("index.json"))
    [entry] = [e for e in index["files"] if e["name"] == BUNDLE_NAME]
    data = files[BUNDLE_NAME]
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["media_type"] == "application/fhir+json"

    bundle = Bundle.model_validate_json(data)
    assert bundle.type == "collection" and bundle.id == str(req.id)
    resources = [e.resource for e in bundle.entry or []]
    kinds = [r.get_resource_type() for r in resources]
    assert kinds[0] == "Patient" and "ImagingStudy" in kinds and "DocumentReference" in kinds
    assert resources[0].id == str(patient.id)
    assert bundle.entry[0].fullUrl == f"{BASE}/api/v1/fhir/Patient/{patient.id}"
    [document] = [r for r in resources if r.get_resource_type() == "DocumentReference"]
    assert document.masterIdentifier.value == package.attachment_control_number
    attachment = document.content[0].attachment
    # the record points at its PDF inside this copy, and the hash is of those bytes
    assert attachment.url.endswith("/D9996-record.pdf") and attachment.url in files
    sha1 = hashlib.sha1(files[attachment.url], usedforsecurity=False).digest()
    assert attachment.hash == sha1  # the model decodes base64Binary
    raw = json.loads(data)["entry"][-1]["resource"]["content"][0]["attachment"]["hash"]
    assert base64.b64decode(raw) == sha1

    views = (await demo_db.scalars(
        select(ViewEvent).where(ViewEvent.action == "fhir.exported"))).all()
    assert [(v.subject_id, v.details["resource"], v.details["records_request"]) for v in views] \
        == [(str(patient.id), "$everything", str(req.id))]
    assert views[0].details["count"] == len(resources)


async def test_paper_copy_by_mail_has_no_bundle(demo_db: AsyncSession, blobs: BlobStore):
    patient = await demo_patient(demo_db)
    await signed_case(demo_db, blobs, patient, collected_on=dt.date(2026, 1, 10))
    req, delivery = await _prepared(demo_db, blobs, patient, "paper", "mail")
    assert delivery.token is None
    view = await services.get_request(demo_db, await actor_for(demo_db, "billing@demo.test"),
                                      CTX, req.id)
    files = _zip(await blobs.read(view.request.package_key or ""))
    assert BUNDLE_NAME not in files
    assert BUNDLE_NAME not in {f["name"] for f in json.loads(files["index.json"])["files"]}
    assert (await demo_db.scalars(
        select(ViewEvent).where(ViewEvent.action == "fhir.exported"))).all() == []


async def test_bundle_holds_only_this_organizations_patient(
    demo_db: AsyncSession, blobs: BlobStore
):
    """The Bundle is the request's patient's: another organization's patient is never in it."""
    patient = await demo_patient(demo_db)
    other = await other_org_patient(demo_db)
    await signed_case(demo_db, blobs, patient, collected_on=dt.date(2026, 1, 10))
    _, delivery = await _prepared(demo_db, blobs, patient, "electronic", "email")
    outcome = await services.use_link(demo_db, CTX, delivery.token or "", now=RECEIVED)
    data = _zip(await blobs.read(outcome.key or ""))[BUNDLE_NAME]
    assert str(other.id).encode() not in data and b"Olga" not in data
    bundle = Bundle.model_validate_json(data)
    subjects = {r.subject.reference for r in (e.resource for e in bundle.entry or [])
                if r.get_resource_type() != "Patient"}
    assert subjects == {f"Patient/{patient.id}"}
