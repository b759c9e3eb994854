"""The annotations API of the dentist's viewer: read an image's drawings (and how lengths on it
are calibrated), save one more or the next version of one. Thin: one service call each
(``reviewer/evaluation/annotations.py`` decides who may and checks every shape)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from portal.accounts.guards import require_roles
from portal.requests import ActorDep, AuditDep, BlobsDep, DbDep
from reviewer.evaluation.annotations import (
    AnnotationInput,
    annotation_json,
    list_annotations,
    save_annotation,
)
from storage.models import Role


class AnnotationIn(msgspec.Struct, forbid_unknown_fields=True):
    """One annotation: its shapes (checked on the server), a note, the two choices;
    ``replaces`` (a ``lineage_id``) saves the next version of an existing one."""

    shapes: list[dict[str, Any]]
    note: str = ""
    include_in_claim: bool = False
    show_to_patient: bool = False
    replaces: uuid.UUID | None = None
    withdrawn: bool = False


class AnnotationsApiController(Controller):
    path = "/cases"
    tags = ["review"]
    guards = [require_roles(Role.DENTIST)]

    @get("/{case_id:uuid}/attachments/{attachment_id:uuid}/annotations")
    async def annotations(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, blobs: BlobsDep,
        case_id: FromPath[uuid.UUID], attachment_id: FromPath[uuid.UUID],
    ) -> dict[str, Any]:
        """``{"annotations": [...current versions], "calibration": {unit, calibration,
        pixel_spacing}, "editable"}`` (audited ``annotation.viewed``)."""
        found = await list_annotations(db_session, who, audit, blobs, case_id, attachment_id,
                                       now=datetime.now(UTC))
        return {"attachment_id": str(found.attachment.id),
                "annotations": [annotation_json(a) for a in found.annotations],
                "calibration": found.calibration.as_dict(), "editable": found.editable}

    @post("/{case_id:uuid}/attachments/{attachment_id:uuid}/annotations", status_code=201)
    async def save(
        self, db_session: DbDep, who: ActorDep, audit: AuditDep, blobs: BlobsDep,
        case_id: FromPath[uuid.UUID], attachment_id: FromPath[uuid.UUID],
        data: JSONBody[AnnotationIn],
    ) -> dict[str, Any]:
        """201 with the saved version; 400 ``invalid_annotation``; 409 ``not_claimant`` /
        ``invalid_transition`` (signed); 403 another author's annotation."""
        saved = await save_annotation(
            db_session, who, audit, blobs, case_id, attachment_id,
            AnnotationInput(shapes=data.shapes, note=data.note,
                            include_in_claim=data.include_in_claim,
                            show_to_patient=data.show_to_patient, replaces=data.replaces,
                            withdrawn=data.withdrawn),
            now=datetime.now(UTC))
        return annotation_json(saved)
