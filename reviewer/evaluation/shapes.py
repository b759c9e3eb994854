"""What an annotation may hold, checked on the server: the browser's drawing is never trusted.

Every coordinate is a fraction of the image (0..1 from the left and the top), so one drawing
fits the thumbnail, the display picture, the original and the PDF's copy alike. Shapes:

* ``arrow``: ``from`` and ``to`` (the head at ``to``);
* ``circle``: ``center`` and ``radius`` (a fraction of the image's width);
* ``freehand``: ``points`` (2 to 500);
* ``text``: ``at`` and ``text`` (1 to 200 characters);
* ``measure``: ``from`` and ``to``; the server works out ``length``, ``unit`` and
  ``calibration`` itself (see :func:`measure`). A photo may carry ``reference``
  (``{"from", "to", "mm"}``: a segment of known length drawn on the same image) to calibrate.

A pure module: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reviewer.errors import Invalid

SHAPE_TYPES = ("arrow", "circle", "freehand", "text", "measure")
MAX_SHAPES = 20
MAX_POINTS = 500
MAX_TEXT = 200
MAX_NOTE = 1000


@dataclass(frozen=True)
class PixelSpacing:
    """Millimetres per pixel of the original: between rows (down) and between columns
    (across), as DICOM writes them; ``source`` names where they came from."""

    row_mm: float
    column_mm: float
    source: str = "DICOM Pixel Spacing"

    def describe(self) -> str:
        if math.isclose(self.row_mm, self.column_mm):
            return f"{self.source} {_number(self.row_mm)} mm"
        return f"{self.source} {_number(self.row_mm)} x {_number(self.column_mm)} mm"


def _number(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _bad(message: str) -> Invalid:
    return Invalid(message, code="invalid_annotation")


def _point(value: Any, what: str) -> list[float]:
    if (not isinstance(value, list | tuple) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise _bad(f"{what} must be a point [x, y].")
    x, y = float(value[0]), float(value[1])
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0) or math.isnan(x) or math.isnan(y):
        raise _bad(f"{what} must lie on the image (0 to 1).")
    return [round(x, 5), round(y, 5)]


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{what} must be text.")
    if len(value) > limit:
        raise _bad(f"{what} is longer than {limit} characters.")
    return value.strip()


def _segment_px(start: list[float], end: list[float], width: int, height: int) -> tuple[float,
                                                                                          float]:
    return (end[0] - start[0]) * width, (end[1] - start[1]) * height


def measure(start: list[float], end: list[float], width: int, height: int,
            spacing: PixelSpacing | None, reference: Mapping[str, Any] | None = None,
            ) -> dict[str, Any]:
    """The length of ``start``→``end`` on an image of ``width`` x ``height`` original pixels:
    in mm with the DICOM pixel spacing, else in mm from a drawn reference of known length,
    else in pixels ("uncalibrated")."""
    dx, dy = _segment_px(start, end, width, height)
    if spacing is not None:
        length = math.hypot(dx * spacing.column_mm, dy * spacing.row_mm)
        return {"length": round(length, 2), "unit": "mm", "calibration": spacing.describe()}
    if reference is not None:
        ref_from = _point(reference.get("from"), "The reference's start")
        ref_to = _point(reference.get("to"), "The reference's end")
        mm = reference.get("mm")
        if not isinstance(mm, int | float) or isinstance(mm, bool) or not 0 < mm <= 1000:
            raise _bad("The reference's length must be between 0 and 1000 mm.")
        ref_px = math.hypot(*_segment_px(ref_from, ref_to, width, height))
        if ref_px < 1:
            raise _bad("The reference is too short to calibrate with.")
        length = math.hypot(dx, dy) * float(mm) / ref_px
        return {"length": round(length, 2), "unit": "mm",
                "calibration": f"reference of {_number(float(mm))} mm",
                "reference": {"from": ref_from, "to": ref_to, "mm": float(mm)}}
    return {"length": round(math.hypot(dx, dy), 1), "unit": "px",
            "calibration": "uncalibrated, px"}


def clean_shape(raw: Any, *, width: int, height: int,
                spacing: PixelSpacing | None) -> dict[str, Any]:
    """One shape as stored, or :class:`Invalid` (``invalid_annotation``)."""
    if not isinstance(raw, Mapping):
        raise _bad("A shape must be an object.")
    kind = raw.get("type")
    if kind not in SHAPE_TYPES:
        raise _bad(f"A shape's type must be one of {', '.join(SHAPE_TYPES)}.")
    if kind == "arrow":
        return {"type": kind, "from": _point(raw.get("from"), "The arrow's tail"),
                "to": _point(raw.get("to"), "The arrow's head")}
    if kind == "circle":
        radius = raw.get("radius")
        if not isinstance(radius, int | float) or isinstance(radius, bool) or not (
                0 < radius <= 1):
            raise _bad("A circle's radius must be between 0 and 1.")
        return {"type": kind, "center": _point(raw.get("center"), "The circle's center"),
                "radius": round(float(radius), 5)}
    if kind == "freehand":
        points = raw.get("points")
        if not isinstance(points, list) or not 2 <= len(points) <= MAX_POINTS:
            raise _bad(f"A freehand line needs 2 to {MAX_POINTS} points.")
        return {"type": kind, "points": [_point(p, "A freehand point") for p in points]}
    if kind == "text":
        return {"type": kind, "at": _point(raw.get("at"), "The text's place"),
                "text": _text(raw.get("text"), "The text", MAX_TEXT)}
    start = _point(raw.get("from"), "The measurement's start")
    end = _point(raw.get("to"), "The measurement's end")
    reference = raw.get("reference")
    if reference is not None and not isinstance(reference, Mapping):
        raise _bad("A measurement's reference must be an object.")
    return {"type": kind, "from": start, "to": end,
            **measure(start, end, width, height, spacing, reference)}


def clean_shapes(raw: Any, *, width: int, height: int,
                 spacing: PixelSpacing | None) -> list[dict[str, Any]]:
    """Every shape checked (1 to 20 of them)."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SHAPES:
        raise _bad(f"An annotation holds 1 to {MAX_SHAPES} shapes.")
    return [clean_shape(s, width=width, height=height, spacing=spacing) for s in raw]
