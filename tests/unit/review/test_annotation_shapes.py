"""Annotation shapes and measurements (issue 21): pure checks, no database."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from reviewer.documents.annotations import annotation_lines, draw_annotations
from reviewer.errors import Invalid
from reviewer.evaluation.shapes import PixelSpacing, clean_shape, clean_shapes, measure
from storage.media.calibration import dicom_pixel_spacing
from tests.support.dicoms import write_dicom


def test_measure_uses_row_and_column_spacing_separately() -> None:
    spacing = PixelSpacing(row_mm=0.2, column_mm=0.1)
    across = measure([0.0, 0.0], [1.0, 0.0], 100, 50, spacing)
    down = measure([0.0, 0.0], [0.0, 1.0], 100, 50, spacing)
    assert across == {"length": 10.0, "unit": "mm",
                      "calibration": "DICOM Pixel Spacing 0.2 x 0.1 mm"}
    assert down["length"] == 10.0  # 50 rows x 0.2 mm
    assert measure([0, 0], [0.3, 0.4], 100, 100, None) == {
        "length": 50.0, "unit": "px", "calibration": "uncalibrated, px"}


def test_client_lengths_are_ignored_and_coordinates_rounded() -> None:
    shape = clean_shape({"type": "measure", "from": [0.1, 0.5], "to": [0.6, 0.5],
                         "length": 1234, "unit": "mm", "calibration": "trust me"},
                        width=200, height=100, spacing=PixelSpacing(0.1, 0.1))
    assert (shape["length"], shape["calibration"]) == (10.0, "DICOM Pixel Spacing 0.1 mm")
    arrow = clean_shape({"type": "arrow", "from": [0.123456789, 0], "to": [1, 1]},
                        width=10, height=10, spacing=None)
    assert arrow["from"] == [0.12346, 0.0]


@pytest.mark.parametrize("shape", [
    {"type": "arrow", "from": [0, 0], "to": [True, 0]},
    {"type": "arrow", "from": [0, 0], "to": [float("nan"), 0]},
    {"type": "arrow", "from": [0, 0]},
    {"type": "measure", "from": [0, 0], "to": [1, 1], "reference": {"from": [0, 0],
                                                                    "to": [0, 0], "mm": 5}},
    {"type": "measure", "from": [0, 0], "to": [1, 1], "reference": {"from": [0, 0],
                                                                    "to": [1, 0], "mm": -1}},
    {"type": "text", "at": [0.5, 0.5], "text": "   "},
    "arrow",
])
def test_bad_shapes(shape: object) -> None:
    with pytest.raises(Invalid):
        clean_shapes([shape], width=100, height=100, spacing=None)


def test_dicom_spacing_pixel_spacing_first_then_imager(tmp_path: Path) -> None:
    plain = write_dicom(tmp_path / "a.dcm").read_bytes()
    assert dicom_pixel_spacing(plain) is None
    spaced = write_dicom(tmp_path / "b.dcm", pixel_spacing=(0.1, 0.12)).read_bytes()
    found = dicom_pixel_spacing(spaced)
    assert found is not None
    assert (found.row_mm, found.column_mm, found.source) == (0.1, 0.12, "DICOM Pixel Spacing")
    assert dicom_pixel_spacing(b"not a dicom at all") is None


def test_drawing_is_on_a_copy() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), (30, 30, 30)).save(buffer, "JPEG")
    original = buffer.getvalue()
    digest = hashlib.sha256(original).hexdigest()
    annotations = [{"shapes": [{"type": "arrow", "from": [0.1, 0.1], "to": [0.9, 0.9]},
                               {"type": "circle", "center": [0.5, 0.5], "radius": 0.2},
                               {"type": "freehand", "points": [[0.1, 0.9], [0.5, 0.8]]},
                               {"type": "text", "at": [0.1, 0.5], "text": "pus"},
                               {"type": "measure", "from": [0.2, 0.2], "to": [0.4, 0.2],
                                "length": 2.4, "unit": "mm",
                                "calibration": "DICOM Pixel Spacing 0.1 mm"}],
                    "note": "Check here"}]
    drawn = draw_annotations(original, annotations)
    assert drawn != original and hashlib.sha256(original).hexdigest() == digest
    with Image.open(io.BytesIO(drawn)) as im:
        assert im.size == (120, 80)
    assert annotation_lines(annotations) == [
        'Annotation 1 (arrow, circle, freehand, text, measure): Check here; "pus"; measured '
        "2.4 mm (calibration: DICOM Pixel Spacing 0.1 mm)"]
