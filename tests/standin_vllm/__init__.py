"""A stand-in for vLLM's OpenAI-compatible server serving mistralai/Voxtral-Mini-3B-2507.

It is a real aiohttp server on loopback that answers the routes the gateway uses the way
vLLM does, field for field: ``GET /health``, ``GET /v1/models``,
``POST /v1/audio/transcriptions`` (multipart form) and ``POST /v1/chat/completions``
(JSON, optionally streamed as server-sent events), its load as vLLM publishes it: ``GET /metrics``
(running/waiting/KV-cache gauges with real counts) and ``GET /load`` (``load.py``), and for a realtime
model (``realtime=True``) vLLM's ``WS /v1/realtime`` (``realtime.py``).  Audio really is decoded (PyAV, to
16 kHz mono float32) so tests can prove it arrived intact, and every request is
recorded for assertions.  Instead of a model, a ``transcriber`` / ``answerer`` callable
produces the text; ``speed`` and ``delay_seconds`` simulate the time a GPU would take.

Mimicked from the source of vLLM 0.33.0 (the PyPI wheel), read, not copied:

- ``entrypoints/speech_to_text/transcription/api_router.py``, ``base/utils.py``,
  ``base/serving.py``, ``transcription/protocol.py``: form fields, the upload size cap
  (``VLLM_MAX_AUDIO_CLIP_FILESIZE_MB``, 25), ``response_format`` checks, the duration
  usage, streaming ``transcription.chunk`` events.  Note: vLLM answers
  ``response_format=text`` with the same JSON body as ``json``.
- ``multimodal/media/audio.py`` and ``envs.py``: decode errors and the decode duration cap
  (``VLLM_MAX_AUDIO_DECODE_DURATION_S``, 600) with their messages.
- ``model_executor/models/voxtral.py`` and ``interfaces.py``: Voxtral's languages, the
  5-audio-per-prompt limit, ~12.5 audio tokens per second.
- ``entrypoints/openai/chat_completion/{api_router,protocol,serving}.py`` and
  ``renderers/chat_utils/``: chat request parsing, response and chunk shapes.
- ``entrypoints/serve/exception_handling/`` and ``serve/engine/protocol.py``: the error
  body ``{"error": {"message", "type", "param", "code"}}`` and status codes.

- ``entrypoints/launchers/api_server/entry.py``, ``envs.py``, ``v1/engine/async_llm.py``,
  ``serve/instrumentator/health.py`` (``engine.py`` here): idle keep-alive connections closed after
  ``VLLM_HTTP_TIMEOUT_KEEP_ALIVE`` (5 s; ``keepalive_seconds``), 503 ``QueueOverflowError`` past
  ``--max-num-queued-reqs`` (``max_num_queued_reqs``), a dead engine (``engine.dead``: ``/health`` 503,
  requests 500), and connections dropped unanswered (``engine.drop_next``: what a client sees when the
  server closed an idle connection as its request went out).
- mistral_common 1.13.1's validator (``mistral_validation.py``): tokenizer v7 (Voxtral Mini 3B) refuses a
  system message beside audio, 400.

A streamed transcription or chat completion spends ``prefill_fraction`` (10 %) of its simulated time before the first
token and spreads the rest evenly over the tokens, as a GPU decodes them.

What it does not do: run a model (token counts are estimates: words of text, and Voxtral's
12.5 audio tokens per second with audio padded to 30 s chunks as mistral_common does), fetch
remote ``http(s)`` audio URLs, or serve the other vLLM routes.

Run standalone (until killed): ``python -m tests.standin_vllm --port 8000 --speed 27``.
"""

from tests.standin_vllm.audio import INVALID_AUDIO
from tests.standin_vllm.realtime import DEFAULT_REALTIME_MODEL
from tests.standin_vllm.records import RecordedAudio, RecordedRequest
from tests.standin_vllm.server import StandInVLLM
from tests.standin_vllm.voxtral import (
    DEFAULT_MODEL,
    MODEL_SAMPLE_RATE,
    audio_prompt_tokens,
    default_answerer,
    default_transcriber,
)

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_REALTIME_MODEL",
    "INVALID_AUDIO",
    "MODEL_SAMPLE_RATE",
    "RecordedAudio",
    "RecordedRequest",
    "StandInVLLM",
    "audio_prompt_tokens",
    "default_answerer",
    "default_transcriber",
]
