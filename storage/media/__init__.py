"""The media pipeline: what an uploaded file really is, and what of it is kept.

Pure functions on files: no database, no blob store, no HTTP. ``process_upload`` decides the
real type from the bytes, refuses anything else with ``MediaRefused`` (a stable ``code`` and a
``status`` for the portal), writes a cleaned original (location and device identifiers
removed, losslessly where the format allows) and derives an upright display JPEG and a
thumbnail with no metadata at all. ``validate_and_clean`` is the part that may refuse (run it
before answering an upload); ``derive_views`` makes the views from the stored original later.
"""

from storage.media.errors import CODE_STATUS, MediaRefused, RefusalCode
from storage.media.limits import MediaLimits
from storage.media.pipeline import derive_views, process_upload, validate_and_clean
from storage.media.results import ProcessedMedia, Validated, Views
from storage.media.sniff import FORMATS, MediaType, sniff

__all__ = [
    "CODE_STATUS",
    "FORMATS",
    "MediaLimits",
    "MediaRefused",
    "MediaType",
    "ProcessedMedia",
    "RefusalCode",
    "Validated",
    "Views",
    "derive_views",
    "process_upload",
    "sniff",
    "validate_and_clean",
]
