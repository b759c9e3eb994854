"""Synthetic benchmark inputs: 16-bit intra-oral DICOMs and 12-megapixel phone JPEGs.

Made by code, never real patient data. Each DICOM has its own study, series and instance
UIDs so an image archive stores them as distinct instances."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

DICOM_SIDE = 1730  # 1730 x 1730 x 2 bytes ~ 6 MB of pixel data


def radiograph_pixels(seed: int, side: int = DICOM_SIDE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side]
    base = 9000 + 20000 * np.exp(-(((x - side / 2) ** 2 + (y - side / 2) ** 2) / (side**2 / 6)))
    teeth = 15000 * ((np.sin(x / (side / 9)) > 0.6) & (y > side * 0.3) & (y < side * 0.7))
    noise = rng.normal(0, 900, size=(side, side))
    return np.clip(base + teeth + noise, 0, 65535).astype(np.uint16)


def make_dicom(path: Path, seed: int) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    now = datetime(2026, 11, 20, 9, 30, 0)
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = f"Synthetic^Bench{seed}"
    ds.PatientID = f"BENCH-{seed:05d}"
    ds.Modality = "IO"
    ds.StudyDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.StudyTime = ds.ContentTime = now.strftime("%H%M%S")
    pixels = radiograph_pixels(seed)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.WindowCenter = 24000
    ds.WindowWidth = 30000
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def make_phone_jpeg(path: Path, seed: int, size: tuple[int, int] = (4000, 3000)) -> Path:
    """A 12-megapixel photo with camera-like detail (noise compresses like a real photo)."""
    rng = np.random.default_rng(seed)
    width, height = size
    small = rng.integers(0, 255, size=(height // 8, width // 8, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)
    grain = rng.integers(0, 24, size=(height, width, 3), dtype=np.uint8)
    image = Image.fromarray(np.asarray(image, dtype=np.uint8) // 2 + grain + 60)
    exif = Image.Exif()
    exif[0x0110] = "BenchPhone"  # Model
    exif[0x0112] = 1
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, exif=exif.tobytes())
    path.write_bytes(buffer.getvalue())
    return path


def make_big_radiograph_png(path: Path, target_bytes: int = 40 * 1024 * 1024) -> Path:
    """A 16-bit grayscale PNG of about ``target_bytes`` (noise keeps it from compressing)."""
    side = int((target_bytes * 1.08 / 2) ** 0.5)  # PNG filtering saves a few percent
    pixels = radiograph_pixels(7, side)
    noise = np.random.default_rng(8).integers(0, 4096, size=pixels.shape, dtype=np.uint16)
    Image.fromarray(pixels ^ noise).save(path, "PNG", compress_level=1)
    return path
