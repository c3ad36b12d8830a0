"""Logging (and, later, metrics and request ids)."""
