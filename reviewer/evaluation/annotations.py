"""Dentists' annotations on a case's images: drawn, measured, versioned, never burned in.

* **Who.** Any dentist who may open the case (organizations served) reads them: other dentists
  see what the reviewer drew. Only the dentist holding the case, licensed where the patient
  is, draws, and only while the evaluation can still be edited: once it is signed the image's
  annotations are part of what was signed (the claim attachment prints the chosen ones), so a
  later change is refused (409 ``invalid_transition``) and a correction goes in an addendum.
  Only its author edits an annotation (403).
* **Versions.** Saving with ``replaces`` (a lineage id) writes version n+1 of that annotation;
  every earlier version stays. ``withdrawn`` takes it off the image (still a new version).
* **Measurements** are worked out here from the original's size and, for a DICOM, its pixel
  spacing (read from the stored file once, then kept in the attachment's ``provenance``).
* **Audit.** ``annotation.saved`` (ids, version, shape types, the two choices; never the note
  or a text shape's words) in the chained trail; reading them is an ``annotation.viewed`` row.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import get_case
from reviewer.actor import Actor
from reviewer.cases.state import CaseAction, transition
from reviewer.errors import Forbidden, Invalid, NotFound
from reviewer.evaluation.shapes import MAX_NOTE, PixelSpacing, clean_shapes
from reviewer.intake.identity import is_held
from reviewer.queue.claims import NotLicensed, held_case, holds
from reviewer.queue.scope import review_scope
from storage.audit import AuditContext, record_event, record_view
from storage.blobs import BlobStore
from storage.media.calibration import dicom_pixel_spacing
from storage.models import Annotation, Attachment, Case, Role

DICOM = "application/dicom"


@dataclass(frozen=True)
class AnnotationInput:
    shapes: Any
    note: str = ""
    include_in_claim: bool = False
    show_to_patient: bool = False
    replaces: uuid.UUID | None = None
    withdrawn: bool = False


@dataclass(frozen=True)
class Calibration:
    """How lengths on this image are measured."""

    spacing: PixelSpacing | None

    def as_dict(self) -> dict[str, Any]:
        if self.spacing is None:
            return {"unit": "px", "calibration": "uncalibrated, px", "pixel_spacing": None}
        return {"unit": "mm", "calibration": self.spacing.describe(),
                "pixel_spacing": [self.spacing.row_mm, self.spacing.column_mm]}


@dataclass(frozen=True)
class ImageAnnotations:
    attachment: Attachment
    annotations: list[Annotation]
    calibration: Calibration
    editable: bool


def current_versions(rows: Iterable[Annotation]) -> list[Annotation]:
    """The highest version of each lineage, withdrawn ones left out, oldest lineage first."""
    latest: dict[uuid.UUID, Annotation] = {}
    first_seen: dict[uuid.UUID, datetime] = {}
    for row in rows:
        first_seen.setdefault(row.lineage_id, row.created_at)
        first_seen[row.lineage_id] = min(first_seen[row.lineage_id], row.created_at)
        if row.lineage_id not in latest or row.version > latest[row.lineage_id].version:
            latest[row.lineage_id] = row
    current = [a for a in latest.values() if not a.withdrawn]
    return sorted(current, key=lambda a: (first_seen[a.lineage_id], a.lineage_id))


async def _image(db: AsyncSession, case: Case, attachment_id: uuid.UUID) -> Attachment:
    attachment = await db.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.case_id == case.id)
    )
    if attachment is None or is_held(attachment):
        raise NotFound("No such image.")
    return attachment


async def calibration_of(db: AsyncSession, blobs: BlobStore | None,
                         attachment: Attachment) -> Calibration:
    """A DICOM's pixel spacing (read from the stored file the first time, then kept in
    ``provenance["pixel_spacing"]``); anything else is uncalibrated."""
    if attachment.content_type != DICOM:
        return Calibration(None)
    kept = (attachment.provenance or {}).get("pixel_spacing")
    if kept is None and blobs is not None:
        data = await blobs.read(attachment.original_key)
        found = await anyio.to_thread.run_sync(dicom_pixel_spacing, data)
        kept = ({"row_mm": found.row_mm, "column_mm": found.column_mm, "source": found.source}
                if found else {})
        attachment.provenance = {**(attachment.provenance or {}), "pixel_spacing": kept}
        await db.flush()
    if not kept:
        return Calibration(None)
    return Calibration(PixelSpacing(float(kept["row_mm"]), float(kept["column_mm"]),
                                    str(kept.get("source") or "DICOM Pixel Spacing")))


async def _may_draw(db: AsyncSession, actor: Actor, case_id: uuid.UUID, now: datetime) -> Case:
    """The case, if the actor may draw on its images now (see the module docstring)."""
    if actor.role != Role.DENTIST:
        raise Forbidden("Only a dentist annotates images.")
    case = await held_case(db, actor, case_id)
    transition(case.status, CaseAction.EDIT_EVALUATION)
    scope = await review_scope(db, actor, now)
    if not scope.covers(case):
        raise NotLicensed("You hold no current license where this patient is located.")
    return case


async def list_annotations(
    db: AsyncSession, actor: Actor, context: AuditContext, blobs: BlobStore | None,
    case_id: uuid.UUID, attachment_id: uuid.UUID, *, now: datetime,
) -> ImageAnnotations:
    """The image's current annotations and its calibration; 404 outside the actor's reach."""
    case = await get_case(db, actor, case_id)
    attachment = await _image(db, case, attachment_id)
    rows = await db.scalars(select(Annotation).where(Annotation.attachment_id == attachment.id))
    record_view(db, "annotation.viewed", context, organization_id=case.organization_id,
                subject_type="attachment", subject_id=attachment.id, case_id=case.id,
                attachment_id=attachment.id)
    editable = (actor.role == Role.DENTIST and holds(case, actor.user_id, now)
                and (await review_scope(db, actor, now)).covers(case))
    return ImageAnnotations(attachment, current_versions(rows),
                            await calibration_of(db, blobs, attachment), editable)


async def save_annotation(
    db: AsyncSession, actor: Actor, context: AuditContext, blobs: BlobStore | None,
    case_id: uuid.UUID, attachment_id: uuid.UUID, data: AnnotationInput, *, now: datetime,
) -> Annotation:
    """A new annotation, or the next version of ``data.replaces`` (the author's own only)."""
    case = await _may_draw(db, actor, case_id, now)
    attachment = await _image(db, case, attachment_id)
    if attachment.kind == "document":
        raise Invalid("Documents are not annotated.", code="invalid_annotation")
    note = (data.note or "").strip()
    if len(note) > MAX_NOTE:
        raise Invalid(f"The note is longer than {MAX_NOTE} characters.",
                      code="invalid_annotation")
    calibration = await calibration_of(db, blobs, attachment)
    shapes = clean_shapes(data.shapes, width=max(attachment.width, 1),
                          height=max(attachment.height, 1), spacing=calibration.spacing)
    version, lineage = 1, uuid.uuid4()
    if data.replaces is not None:
        previous = list(await db.scalars(
            select(Annotation).where(Annotation.lineage_id == data.replaces,
                                     Annotation.attachment_id == attachment.id)
            .order_by(Annotation.version.desc()).limit(1)
        ))
        if not previous:
            raise NotFound("No such annotation on this image.")
        if previous[0].author_id != actor.user_id:
            raise Forbidden("Only its author changes an annotation.")
        version, lineage = previous[0].version + 1, previous[0].lineage_id
    measured = [s["calibration"] for s in shapes if s["type"] == "measure"]
    annotation = Annotation(
        attachment_id=attachment.id, case_id=case.id, organization_id=case.organization_id,
        author_id=actor.user_id, lineage_id=lineage, version=version, shapes=shapes,
        note=note, include_in_claim=bool(data.include_in_claim),
        show_to_patient=bool(data.show_to_patient), withdrawn=bool(data.withdrawn),
        calibration=measured[0][:120] if measured else "",
    )
    db.add(annotation)
    await db.flush()
    await record_event(
        db, "annotation.saved", context, organization_id=case.organization_id,
        subject_type="attachment", subject_id=attachment.id,
        details={"case_id": str(case.id), "annotation_id": str(annotation.id),
                 "lineage_id": str(lineage), "version": version,
                 "shapes": [s["type"] for s in shapes],
                 "include_in_claim": annotation.include_in_claim,
                 "show_to_patient": annotation.show_to_patient,
                 "withdrawn": annotation.withdrawn},
    )
    return annotation


async def chosen_annotations(
    db: AsyncSession, attachment_ids: Iterable[uuid.UUID], *, for_claim: bool = False,
    for_patient: bool = False,
) -> dict[uuid.UUID, list[Annotation]]:
    """The current annotations of these images that the dentist chose for the claim
    attachment (``for_claim``) or the patient's page (``for_patient``)."""
    ids = list(attachment_ids)
    if not ids:
        return {}
    rows = await db.scalars(select(Annotation).where(Annotation.attachment_id.in_(ids)))
    by_image: dict[uuid.UUID, list[Annotation]] = defaultdict(list)
    for row in rows:
        by_image[row.attachment_id].append(row)
    out: dict[uuid.UUID, list[Annotation]] = {}
    for image_id, image_rows in by_image.items():
        chosen = [a for a in current_versions(image_rows)
                  if (not for_claim or a.include_in_claim)
                  and (not for_patient or a.show_to_patient)]
        if chosen:
            out[image_id] = chosen
    return out


def annotation_json(annotation: Annotation) -> dict[str, Any]:
    return {
        "id": str(annotation.id),
        "lineage_id": str(annotation.lineage_id),
        "version": annotation.version,
        "author_id": str(annotation.author_id),
        "shapes": annotation.shapes,
        "note": annotation.note,
        "include_in_claim": annotation.include_in_claim,
        "show_to_patient": annotation.show_to_patient,
        "withdrawn": annotation.withdrawn,
        "calibration": annotation.calibration,
        "created_at": annotation.created_at.isoformat() if annotation.created_at else None,
    }


async def shown_to_submitter(
    db: AsyncSession, attachments: Iterable[Attachment], signed: bool,
) -> list[tuple[Attachment, list[Annotation]]]:
    """The images of a signed case with the annotations the dentist chose to show the patient
    (their advice page); nothing before signing."""
    if not signed:
        return []
    images = [a for a in attachments if a.kind != "document"]
    chosen = await chosen_annotations(db, (a.id for a in images), for_patient=True)
    return [(a, chosen[a.id]) for a in images if a.id in chosen]
