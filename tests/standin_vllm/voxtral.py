"""What the stand-in knows of Voxtral (``model_executor/models/voxtral.py``, ``interfaces.py``):
its languages, the audio-per-prompt limit, token estimates, and the text it answers instead of a model."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tests.standin_vllm.errors import VLLMError

VLLM_VERSION = "0.33.0"
DEFAULT_MODEL = "mistralai/Voxtral-Mini-3B-2507"
MODEL_SAMPLE_RATE = 16_000
SAMPLES_PER_AUDIO_TOKEN = 1280  # 16 kHz / Voxtral's 12.5 Hz audio frame rate
AUDIO_CHUNK_SAMPLES = 30 * MODEL_SAMPLE_RATE  # mistral_common pads audio to whole 30 s chunks
AUDIOS_PER_PROMPT = 5  # VoxtralProcessingInfo.get_supported_mm_limits
VOXTRAL_LANGUAGES = ("ar", "nl", "en", "fr", "de", "hi", "it", "pt", "es")
# Whisper's language map (transformers): accepted by vLLM with a warning when not native.
_WHISPER_CODES = (
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur "
    "hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si "
    "km sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha "
    "ba jw su yue"
)
WHISPER_LANGUAGES = frozenset(_WHISPER_CODES.split())

Transcriber = Callable[[np.ndarray, "str | None"], str]
Answerer = Callable[[list[np.ndarray], str], str]


def pseudo_tokens(text: str) -> list[str]:
    """Split text into word-sized pieces ("Hello", " world.") that join back to ``text``."""
    return re.findall(r"\s*\S+|\s+", text)


def audio_prompt_tokens(num_samples: int) -> int:
    """[BEGIN_AUDIO] plus one token per 80 ms, the audio padded to whole 30 s chunks."""
    chunks = max(1, math.ceil(num_samples / AUDIO_CHUNK_SAMPLES))
    return 1 + chunks * AUDIO_CHUNK_SAMPLES // SAMPLES_PER_AUDIO_TOKEN


@dataclass
class Completion:
    """The generated text split as it is streamed, and how generation ended."""

    pieces: list[str]
    finish_reason: str  # "stop" or "length"
    tokens: int  # vLLM counts the end-of-sequence token when generation stops by itself

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def complete(answer: str, max_tokens: int | None) -> Completion:
    pieces = pseudo_tokens(answer)
    if max_tokens is not None and len(pieces) >= max_tokens:
        return Completion(pieces[:max_tokens], "length", max_tokens)
    return Completion(pieces, "stop", len(pieces) + 1)


def default_transcriber(audio: np.ndarray, language: str | None) -> str:
    text = f"audio of {audio.size / MODEL_SAMPLE_RATE:.2f} seconds"
    return f"{text} in {language}" if language else text


def words_transcriber(audio: np.ndarray, language: str | None) -> str:
    """One word per half second of audio heard: a transcript that only grows as audio arrives, as a
    real model's does (the default's "audio of N seconds" changes its last words at every step)."""
    return " ".join(f"word{i}" for i in range(int(audio.size / (MODEL_SAMPLE_RATE / 2))))


def default_answerer(audios: list[np.ndarray], question: str) -> str:
    total = sum(a.size for a in audios) / MODEL_SAMPLE_RATE
    return f"{len(audios)} audio(s) totalling {total:.2f} seconds; question: {question}"


def check_language(language: str | None) -> None:
    """VoxtralForConditionalGeneration.validate_language (SupportsTranscription)."""
    if language is None or language in VOXTRAL_LANGUAGES or language in WHISPER_LANGUAGES:
        return
    raise VLLMError(f"Unsupported language: {language!r}.  Must be one of {list(VOXTRAL_LANGUAGES)}.")
