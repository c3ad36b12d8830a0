"""The smoke test's clip: espeak-ng when installed, else the bundled clip, else a synthesized one."""

from __future__ import annotations

import io
import wave

import av

from voxtral_gateway.smoke import clip as clip_module
from voxtral_gateway.smoke.clip import speech_clip


def duration(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        return float(container.duration or 0) / 1_000_000


def test_without_espeak_the_bundled_speech_is_used(monkeypatch):
    monkeypatch.setattr(clip_module.shutil, "which", lambda name: None)
    clip = speech_clip()
    assert clip.format == "ogg" and "bundled" in clip.source and "smoke" in clip.words
    assert 3.0 < duration(clip.data) < 6.0


def test_without_either_a_clip_is_synthesized(monkeypatch):
    monkeypatch.setattr(clip_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(clip_module, "_bundled", lambda: None)
    clip = speech_clip()
    assert clip.format == "wav" and clip.words == ()
    with wave.open(io.BytesIO(clip.data)) as reader:
        assert (reader.getframerate(), reader.getnchannels()) == (16000, 1)


def test_a_given_file_is_sent_as_it_is(tmp_path):
    path = tmp_path / "mine.mp3"
    path.write_bytes(b"ID3...")
    clip = speech_clip(path)
    assert (clip.data, clip.format, clip.words) == (b"ID3...", "mp3", ())
