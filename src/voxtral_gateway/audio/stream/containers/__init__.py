"""Readers for containers FFmpeg cannot follow incrementally without a blocking reader: Ogg, Matroska, WAV."""
