"""Questionnaire responses, items and scores in the store (filled in by the questionnaires work)."""

from __future__ import annotations


class ResponsesMixin:
    """Study methods for questionnaires."""
