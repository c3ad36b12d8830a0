"""The embedded engine streams one delta per whisper segment, as faster-whisper decodes them; the
deltas add up to the transcript, which comes last and equals `transcribe`'s."""

from __future__ import annotations

import numpy as np

from tests.audio_fixtures import FixtureSet
from voxtral_gateway.audio import AudioLimits
from voxtral_gateway.audio.decode import decode_audio
from voxtral_gateway.backends import Transcript, TranscriptDelta, TranscriptionOptions
from voxtral_gateway.backends.embedded import EmbeddedBackend
from voxtral_gateway.settings import load_settings


async def test_deltas_per_whisper_segment_add_up_to_the_transcript(audio_fixtures: FixtureSet):
    audio = decode_audio(
        audio_fixtures.multi_utterance.path.read_bytes(),
        None,
        AudioLimits(max_bytes=10 << 20, max_duration_seconds=60),
    )
    settings = load_settings({"BACKEND": "embedded"})
    backend = EmbeddedBackend(settings.embedded, cpu_queue_limit=4)
    await backend.start()
    try:
        pieces = [piece async for piece in backend.transcribe_stream(audio, TranscriptionOptions())]
        whole = await backend.transcribe(audio, TranscriptionOptions())
    finally:
        await backend.close()
    deltas = [p.text for p in pieces if isinstance(p, TranscriptDelta)]
    assert isinstance(pieces[-1], Transcript) and all(isinstance(p, TranscriptDelta) for p in pieces[:-1])
    assert len(deltas) == len(whole.segments) >= 2
    assert "".join(deltas) == pieces[-1].text == whole.text
    assert pieces[-1].segments == whole.segments and np.isclose(pieces[-1].confidence, whole.confidence)
