"""Typed submission metadata, validation issues, and the field-by-field check of sample lines.

Everything a submitter sends is checked before anything is trusted: the metadata record
(`metadata_schema.py`: `SubmissionMetadata`, from JSON) and each line of `samples.jsonl`
(`sample_schema.py`: a `SampleRecord`), both written with `field_checks.py`. Problems are
returned as `ValidationIssue`s, never raised, so one pass reports all of them. This module
gathers the public names in one place.
"""

from __future__ import annotations

from .field_checks import ERROR, INFO, WARNING, ValidationIssue
from .metadata_schema import (
    CLAIMABLE,
    MAX_EPISODE_TOKENS,
    MAX_K,
    MAX_MODEL_NAME,
    MAX_NOTES,
    MAX_SHORT_TEXT,
    RUN_FIELDS,
    SUBMITTER_FIELDS,
    Decoding,
    MetadataCheck,
    RunSettings,
    SubmissionMetadata,
    check_metadata,
    is_submitter_issue,
    parse_metadata,
)
from .sample_schema import SAMPLE_FIELDS, TERMINATIONS, parse_sample

__all__ = ["CLAIMABLE", "ERROR", "INFO", "MAX_EPISODE_TOKENS", "MAX_K", "MAX_MODEL_NAME",
           "MAX_NOTES", "MAX_SHORT_TEXT", "RUN_FIELDS", "SAMPLE_FIELDS", "SUBMITTER_FIELDS",
           "TERMINATIONS", "WARNING", "Decoding", "MetadataCheck", "RunSettings",
           "SubmissionMetadata", "ValidationIssue", "check_metadata", "is_submitter_issue",
           "parse_metadata", "parse_sample"]
