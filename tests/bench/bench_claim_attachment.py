"""How long a claim attachment takes for a 10-image case (figures, not assertions).

    .venv/bin/python -m tests.bench.bench_claim_attachment [--runs 3]

Ten display pictures made by the real media pipeline from the upload fixtures (photos and
radiographs, cycled), default payer profile (one attachment PDF) and a profile that also wants
separate JPEGs. Prints wall time per build and the sizes of what was built.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from reviewer.cases.enums import CaseKind, OriginatingSite
from reviewer.coding.payer import DEFAULT_PROFILE, PayerProfile
from reviewer.coding.rules import (
    AsyncReviewFacts,
    ProblemStatus,
    Provider,
    ProviderRole,
    propose_async_lines,
)
from reviewer.documents.model import (
    AsyncRecord,
    Clinician,
    GatheredItem,
    PatientIdentity,
    Practice,
    Site,
)
from reviewer.documents.package import build_claim_package
from storage.media import MediaLimits, process_upload
from tests.support.fixtures import GOOD

FILES = ("phone_postop_rotated_gps.jpg", "xray_bitewing_16bit.png", "phone_postop_upright.jpg",
         "xray_periapical_16bit.tif", "intraoral_camera.png", "xray_8bit.jpg", "progressive.jpg",
         "xray_intraoral.dcm", "cmyk.jpg", "phone_postop.heic")
SIGNED = dt.datetime(2026, 11, 21, 17, 30, tzinfo=dt.UTC)


def ten_image_record() -> AsyncRecord:
    items = []
    with tempfile.TemporaryDirectory() as work:
        for index, name in enumerate(FILES):
            media = process_upload(GOOD / name, MediaLimits(), Path(work))
            items.append(GatheredItem(
                ref=f"att-{index}", kind="radiograph" if "xray" in name else "photo",
                view="periapical", teeth="3", captured_at=media.captured_at,
                sha256=media.original_sha256, content_type=media.original_content_type,
                display_jpeg=media.display_jpeg,
            ))
    dentist = Provider("1326044579", "Dr. Dana Demo", ProviderRole.DENTIST)
    facts = AsyncReviewFacts("case-bench", CaseKind.POST_OP, ProblemStatus.NEW, dentist,
                             SIGNED.date(), OriginatingSite.HOME)
    return AsyncRecord(
        encounter_id="case-bench", case_kind="post_op",
        practice=Practice("Demo Dental Clinic", "1234567893", "100 Main Street"),
        dentist=Clinician("Dr. Dana Demo", "dentist", "1326044579", "CA DDS 100001"),
        patient=PatientIdentity("ref", "Zoë Nguyễn", dt.date(2017, 3, 2)),
        originating_site=Site("home", "home"), distant_site=Site("practice", "clinic"),
        items=tuple(items), questionnaire=(), history=(), screening=(),
        collected_by=Clinician("Zoë Nguyễn", "patient"), collected_on=SIGNED.date(),
        sent_at=SIGNED, reviewed_at=SIGNED, signed_at=SIGNED, findings="Healing.",
        teeth_findings=(), diagnosis="Normal healing.", recommendations=(), advice="Rinse.",
        referral="", follow_up="", lines=tuple(propose_async_lines(facts)), attestation="",
        content_sha256="",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    record = ten_image_record()
    display = sum(len(i.display_jpeg or b"") for i in record.items)
    print(f"10-image case, display pictures {display / 1e6:.2f} MB in all")
    separate = dataclasses.replace(DEFAULT_PROFILE, name="Separate", wants_separate_images=True,
                                   attachment_max_files=12)
    for label, profile in (("default profile", DEFAULT_PROFILE), ("separate JPEGs", separate)):
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            built = build_claim_package(record, PayerProfile.from_dict(profile.as_dict()),
                                        attachment_control_number="TLBENCH")
            times.append(time.perf_counter() - start)
        sizes = ", ".join(f"{f.name} {len(f.data) / 1e6:.2f} MB" for f in built.files[:2])
        print(f"{label:16s} median {statistics.median(times):.2f} s (min {min(times):.2f}, "
              f"max {max(times):.2f}) over {args.runs} runs; zip {len(built.zip_bytes) / 1e6:.2f}"
              f" MB, {len(built.files)} files; {sizes}")


if __name__ == "__main__":
    main()
