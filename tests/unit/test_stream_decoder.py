"""The incremental stream decoder: files cut anywhere decode like the whole file, in every container."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from tests.audio_fixtures import FixtureSet
from voxtral_gateway.audio import AudioLimits, decode_audio
from voxtral_gateway.audio.stream.codecs import UnsupportedStreamFormat
from voxtral_gateway.audio.stream.containers.matroska import _unlace
from voxtral_gateway.audio.stream.decoder import AudioStreamDecoder
from voxtral_gateway.errors import AudioRejected, AudioUndecodable

RATE = 16_000
LIMITS = AudioLimits(max_bytes=1 << 30, max_duration_seconds=3600)


def _feed(data: bytes, seed: int = 0, max_piece: int = 3000, declared: str | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    decoder = AudioStreamDecoder(declared, LIMITS)
    out, position = [], 0
    while position < len(data):
        size = int(rng.integers(1, max_piece))
        out.append(decoder.feed(data[position : position + size]))
        position += size
    out.append(decoder.finish())
    return np.concatenate(out)


def _similarity(ours: np.ndarray, reference: np.ndarray) -> float:
    """Peak normalised cross-correlation within ±100 ms (codecs and resamplers shift audio a little)."""
    a = ours.astype(np.float64) / 32768.0
    b = reference.astype(np.float64)
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    correlation = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    window = int(0.1 * RATE)
    best = max(np.max(correlation[:window]), np.max(correlation[-window:]))
    return float(best / (np.linalg.norm(a) * np.linalg.norm(b)))


def _reference(path) -> np.ndarray:
    return decode_audio(path.read_bytes(), None, LIMITS).samples


CASES = [
    ("wav", None, 16000, 1),
    ("wav", None, 44100, 2),
    ("mp3", None, 16000, 1),
    ("mp3", None, 48000, 2),
    ("ogg", "opus", 16000, 1),
    ("ogg", "opus", 48000, 2),
    ("ogg", "vorbis", 22050, 2),
    ("webm", None, 16000, 1),
    ("webm", None, 44100, 2),
    ("flac", None, 8000, 2),
]


@pytest.mark.parametrize(("container", "codec", "rate", "channels"), CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_a_file_cut_at_random_offsets_decodes_like_the_whole_file(
    audio_fixtures: FixtureSet, container, codec, rate, channels, seed
):
    clip = audio_fixtures.speech(container, rate=rate, channels=channels, codec=codec)
    ours = _feed(clip.path.read_bytes(), seed)
    reference = _reference(clip.path)
    assert abs(len(ours) - len(reference)) / RATE < 0.16  # MP3's priming frames add ~0.1 s
    assert _similarity(ours, reference) > 0.97
    if (container, rate, channels) == ("wav", 16000, 1):
        assert np.array_equal(ours, np.round(reference * 32768).astype(np.int16))


@pytest.mark.parametrize(
    ("container", "codec"), [("mp3", None), ("ogg", "opus"), ("webm", None), ("wav", None)]
)
def test_one_byte_at_a_time_gives_the_same_samples_as_large_pieces(audio_fixtures, container, codec):
    data = audio_fixtures.speech(container, codec=codec).path.read_bytes()[:20_000]
    whole = _feed(data, max_piece=20_001)
    decoder = AudioStreamDecoder(None, LIMITS)
    tiny = np.concatenate([decoder.feed(data[i : i + 1]) for i in range(len(data))] + [decoder.finish()])
    assert np.array_equal(tiny, whole)
    assert len(whole) > 0


def test_a_chunk_with_a_riff_header_starts_a_new_wav_segment(audio_fixtures):
    first = audio_fixtures.speech("wav", rate=16000, channels=1).path.read_bytes()
    second = audio_fixtures.speech("wav", rate=44100, channels=2).path.read_bytes()
    decoder = AudioStreamDecoder("wav", LIMITS)
    pieces = [first[i : i + 4001] for i in range(0, len(first), 4001)]
    pieces += [second[i : i + 7777] for i in range(0, len(second), 7777)]
    out = np.concatenate([decoder.feed(piece) for piece in pieces] + [decoder.finish()])
    expected = len(_reference(audio_fixtures.speech("wav").path)) * 2
    assert abs(len(out) - expected) < 0.02 * RATE
    assert decoder.current is not None and decoder.current.sample_rate == 44100


def test_raw_pcm16_in_odd_pieces_passes_through_unchanged_and_other_rates_are_resampled():
    rng = np.random.default_rng(5)
    samples = (rng.standard_normal(RATE) * 3000).astype("<i2")
    raw = samples.tobytes()
    decoder = AudioStreamDecoder("pcm_s16le", LIMITS)
    out = np.concatenate(
        [decoder.feed(raw[i : i + 333]) for i in range(0, len(raw), 333)] + [decoder.finish()]
    )
    assert np.array_equal(out, samples)
    slow = AudioStreamDecoder("pcm_s16le", LIMITS, pcm_sample_rate=8000)
    resampled = np.concatenate([slow.feed(raw), slow.finish()])
    assert abs(len(resampled) - 2 * len(samples)) < 64


def test_a_lost_piece_of_an_ogg_stream_costs_only_that_audio(audio_fixtures):
    data = audio_fixtures.speech("ogg", codec="opus").path.read_bytes()
    middle = len(data) // 2
    damaged = data[:middle] + data[middle + 3000 :]
    whole = _feed(data)
    out = _feed(damaged)
    assert 0.6 * len(whole) < len(out) < len(whole)


def test_a_lost_piece_of_a_webm_stream_resumes_at_the_next_cluster(tmp_path, audio_fixtures):
    # Clusters every 200 ms, like a MediaRecorder with a short timeslice.
    source = audio_fixtures.speech("wav").path
    webm = tmp_path / "clusters.webm"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(source), "-c:a", "libopus", "-b:a", "32k",
         "-cluster_time_limit", "200", "-f", "webm", str(webm)],
        check=True,
    )  # fmt: skip
    data = webm.read_bytes()
    middle = len(data) // 2
    out = _feed(data[:middle] + data[middle + 2000 :])
    assert 0.5 * len(_feed(data)) < len(out) < len(_feed(data))


def test_webm_written_to_a_pipe_with_unknown_sizes_decodes(tmp_path, audio_fixtures):
    source = audio_fixtures.speech("wav").path
    piped = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(source), "-c:a", "libopus", "-f", "webm", "pipe:1"],
        check=True,
        capture_output=True,
    ).stdout
    assert b"\x01\xff\xff\xff\xff\xff\xff\xff" in piped  # the Segment's size is "unknown"
    ours = _feed(piped)
    assert _similarity(ours, _reference(source)) > 0.97


def test_a_restarted_recorder_starts_a_new_webm_segment(audio_fixtures):
    data = audio_fixtures.speech("webm").path.read_bytes()
    once = _feed(data)
    twice = _feed(data + data)
    assert abs(len(twice) - 2 * len(once)) < 0.02 * RATE


@pytest.mark.parametrize("declared", [None, "wav", "ogg", "mp3"])
def test_bytes_that_are_not_audio_are_refused(declared):
    # Random bytes may look like an MP3 frame sync; then the MP3 decoder's errors give it away.
    garbage = np.random.default_rng(1).integers(0, 256, 1_000_000, dtype=np.uint8).tobytes()
    decoder = AudioStreamDecoder(declared, LIMITS)
    with pytest.raises(AudioUndecodable):
        for start in range(0, len(garbage), 10_000):
            decoder.feed(garbage[start : start + 10_000])


def test_containers_that_cannot_be_streamed_are_refused_by_name(audio_fixtures):
    decoder = AudioStreamDecoder("m4a", LIMITS)
    with pytest.raises(UnsupportedStreamFormat, match="m4a") as caught:
        decoder.feed(audio_fixtures.speech("m4a").path.read_bytes()[:4096])
    assert caught.value.code == "unsupported_stream_format"


def test_sample_rates_outside_the_limits_are_rejected(audio_fixtures):
    decoder = AudioStreamDecoder(None, LIMITS)
    with pytest.raises(AudioRejected, match="96000 Hz"):
        decoder.feed(audio_fixtures.malformed["wav_96k"].path.read_bytes()[:8192])


def test_matroska_lacing_schemes_split_frames():
    frames = [b"a" * 300, b"b" * 20, b"c" * 7]
    xiph = bytes([2]) + b"\xff" + bytes([45]) + bytes([20]) + b"".join(frames)
    assert _unlace(xiph, 0, 1) == frames
    # EBML lacing: the first size as a vint (300), then signed differences (20 - 300, 2-byte bias 8191).
    difference = (0x4000 | (20 - 300 + 8191)).to_bytes(2, "big")
    ebml = bytes([2]) + (0x4000 | 300).to_bytes(2, "big") + difference + b"".join(frames)
    assert _unlace(ebml, 0, 3) == frames
    fixed = bytes([2]) + b"x" * 30
    assert _unlace(fixed, 0, 2) == [b"x" * 10] * 3


def test_an_mp3_stream_whose_rate_changes_midway_keeps_decoding(audio_fixtures):
    def frames_only(data: bytes) -> bytes:  # without the ID3 tag: two files simply joined
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        return data[10 + size :] if data[:3] == b"ID3" else data

    first = frames_only(audio_fixtures.speech("mp3", rate=16000).path.read_bytes())
    second = frames_only(audio_fixtures.speech("mp3", rate=44100, channels=2).path.read_bytes())
    out = _feed(first + second, declared="mp3")
    assert abs(len(out) / RATE - 2 * audio_fixtures.speech("mp3").duration) < 0.3
