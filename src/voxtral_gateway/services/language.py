"""Identify the language of a transcript, among the languages the API supports."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from typing import Literal

LanguageCode = Literal["en", "es", "fr", "pt", "hi", "de", "nl", "it", "ar"]
"""The languages Voxtral transcribes and understands (and the API accepts): vLLM 0.33's
`ISO639_1_SUPPORTED_LANGS` for Voxtral (model_executor/models/voxtral.py)."""
SUPPORTED_LANGUAGES: tuple[str, ...] = LanguageCode.__args__


@functools.cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(SUPPORTED_LANGUAGES))
    return identifier


def identify_language(text: str) -> str | None:
    """The most likely supported language of `text`, or None when there is too little text."""
    if len(text.split()) < 2:
        return None
    language, _probability = _identifier().classify(text)
    return str(language)


def majority_language(languages: Iterable[str | None]) -> str | None:
    """The language most pieces of one transcript were reported in (the first seen wins a tie)."""
    votes = Counter(language for language in languages if language)
    return votes.most_common(1)[0][0] if votes else None
