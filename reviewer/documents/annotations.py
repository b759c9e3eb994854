"""The dentist's chosen annotations drawn onto the claim attachment's copy of a picture.

The stored original and the stored display picture are never touched: this draws on a copy of
the display JPEG in memory, just before the PDF embeds it, and the PDF lists each drawn
annotation's note (and a measurement's length with its calibration) under the picture.
Coordinates are fractions of the image (reviewer/evaluation/shapes.py), so they land where
the dentist drew them whatever the copy's size.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image, ImageDraw, ImageFont

COLOUR = (255, 196, 0)
"""One bright amber, readable on photos and on radiographs alike."""
OUTLINE = (0, 0, 0)


def _xy(point: Sequence[float], size: tuple[int, int]) -> tuple[float, float]:
    return point[0] * size[0], point[1] * size[1]


def _arrow(draw: ImageDraw.ImageDraw, start: tuple[float, float], end: tuple[float, float],
           width: int) -> None:
    draw.line([start, end], fill=COLOUR, width=width)
    angle = math.atan2(end[1] - start[1], end[0] - start[0])
    head = width * 5
    left = (end[0] - head * math.cos(angle - 0.45), end[1] - head * math.sin(angle - 0.45))
    right = (end[0] - head * math.cos(angle + 0.45), end[1] - head * math.sin(angle + 0.45))
    draw.polygon([end, left, right], fill=COLOUR)


def _label(draw: ImageDraw.ImageDraw, at: tuple[float, float], text: str,
           font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> None:
    draw.text(at, text, fill=COLOUR, font=font, stroke_width=2, stroke_fill=OUTLINE)


def draw_shapes(picture: Image.Image, number: int, shapes: Sequence[Mapping[str, Any]]) -> None:
    """Draw one annotation's shapes on ``picture`` (in place), numbered ``number``."""
    size = picture.size
    width = max(2, round(max(size) / 250))
    font = ImageFont.load_default(size=max(12, round(max(size) / 40)))
    draw = ImageDraw.Draw(picture)
    anchor: tuple[float, float] | None = None
    for shape in shapes:
        kind = shape.get("type")
        if kind in ("arrow", "measure"):
            start, end = _xy(shape["from"], size), _xy(shape["to"], size)
            if kind == "arrow":
                _arrow(draw, start, end, width)
                anchor = anchor or start
            else:
                draw.line([start, end], fill=COLOUR, width=width)
                for x, y in (start, end):
                    draw.ellipse([x - width * 2, y - width * 2, x + width * 2, y + width * 2],
                                 outline=COLOUR, width=width)
                middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
                _label(draw, middle, f"{shape.get('length')} {shape.get('unit')}", font)
                anchor = anchor or start
        elif kind == "circle":
            cx, cy = _xy(shape["center"], size)
            r = float(shape["radius"]) * size[0]
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=COLOUR, width=width)
            anchor = anchor or (cx + r * 0.7, cy - r * 0.7)
        elif kind == "freehand":
            points = [_xy(p, size) for p in shape["points"]]
            draw.line(points, fill=COLOUR, width=width, joint="curve")
            anchor = anchor or points[0]
        elif kind == "text":
            at = _xy(shape["at"], size)
            _label(draw, at, str(shape.get("text", "")), font)
    if anchor is not None:
        _label(draw, (anchor[0] + width * 2, anchor[1] + width * 2), str(number), font)


def draw_annotations(jpeg: bytes, annotations: Sequence[Mapping[str, Any]],
                     first_number: int = 1) -> bytes:
    """A JPEG copy of ``jpeg`` with every annotation drawn (numbered from ``first_number``)."""
    with Image.open(io.BytesIO(jpeg)) as im:
        picture = im.convert("RGB")
    for offset, annotation in enumerate(annotations):
        draw_shapes(picture, first_number + offset, annotation.get("shapes") or ())
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=92)
    return out.getvalue()


def annotation_lines(annotations: Sequence[Mapping[str, Any]],
                     first_number: int = 1) -> list[str]:
    """What the PDF prints under the picture: per annotation its number, what was drawn, the
    note, and each measurement with its unit and calibration."""
    lines = []
    for offset, annotation in enumerate(annotations):
        shapes = annotation.get("shapes") or ()
        kinds = ", ".join(dict.fromkeys(str(s.get("type")) for s in shapes))
        parts = [f"Annotation {first_number + offset} ({kinds})"]
        note = str(annotation.get("note") or "").strip()
        if note:
            parts.append(note)
        for shape in shapes:
            if shape.get("type") == "measure":
                parts.append(f"measured {shape.get('length')} {shape.get('unit')} "
                             f"(calibration: {shape.get('calibration')})")
            elif shape.get("type") == "text":
                parts.append(f"\"{shape.get('text')}\"")
        lines.append(": ".join(parts[:2]) + ("; " + "; ".join(parts[2:]) if parts[2:] else ""))
    return lines
