"""Shared fixtures for the whole test-suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.audio_fixtures import FixtureSet, build_fixture_set

FIXTURE_CACHE_DIR = Path(__file__).resolve().parent / ".fixture-cache"


@pytest.fixture(scope="session")
def audio_fixtures() -> FixtureSet:
    """Real audio files (espeak-ng speech in many containers, edge cases), built once and cached."""
    return build_fixture_set(FIXTURE_CACHE_DIR)
