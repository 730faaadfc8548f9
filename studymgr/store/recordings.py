"""Scans (recordings), their pairing and events in the store (filled in by the scans work)."""

from __future__ import annotations


class RecordingsMixin:
    """Study methods for scans and events."""
