"""Real audio fixtures for the test-suite, generated with espeak-ng + ffmpeg.

``build_fixture_set(cache_dir)`` synthesises a small, deterministic set of audio files
(speech with known text in many containers / rates / channel layouts, a ~20 s
multi-utterance clip with per-sentence timings, and a collection of malformed / edge-case
files) and returns a typed :class:`FixtureSet` describing them.

Files are generated once into ``cache_dir/<key>/`` where ``<key>`` combines
:data:`FIXTURE_VERSION` with a hash of the generation settings; a ``manifest.json`` written
last records every file's size and sha256 and is used to validate and reuse the cache.
Bump :data:`FIXTURE_VERSION` whenever the generation code changes in a way the settings hash
does not capture.

``make_tone`` / ``make_silence`` create arbitrary-length files quickly via ffmpeg lavfi.

This module deliberately does not import pytest; ``tests/conftest.py`` wraps it in the
session-scoped ``audio_fixtures`` fixture.
"""

from __future__ import annotations

import array
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import wave
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

FIXTURE_VERSION = 1

# --- speech synthesis settings --------------------------------------------------------
# Chosen by measuring faster-whisper tiny.en (int8, greedy, language="en") word error rate on
# candidate sentences / voices / speeds: "en-us" at 140 wpm with a 50 ms extra gap between
# words transcribes these sentences with 0 % WER at 16 kHz+ in every container.
ESPEAK_VOICE = "en-us"
ESPEAK_SPEED_WPM = 140
ESPEAK_WORD_GAP_10MS = 5  # espeak-ng -g: extra pause between words, in units of 10 ms
ESPEAK_AMPLITUDE = 100  # espeak-ng -a (0-200), default 100
ESPEAK_ARGS: tuple[str, ...] = (
    "-v",
    ESPEAK_VOICE,
    "-s",
    str(ESPEAK_SPEED_WPM),
    "-g",
    str(ESPEAK_WORD_GAP_10MS),
    "-a",
    str(ESPEAK_AMPLITUDE),
)
MASTER_RATE = 22050  # espeak-ng's native output rate

#: Text of the primary ~5 s ``speech`` clip.
SPEECH_TEXT = "It is going to rain this afternoon, so bring your umbrella."

#: Sentences of the ``multi_utterance`` clip, in order, separated by 1 s of silence.
MULTI_UTTERANCE_SENTENCES: tuple[str, ...] = (
    "Thank you very much for your help.",
    "We will meet again next Tuesday.",
    "She bought two books and a new pen.",
    "The sky is clear and the wind is calm.",
    "My favorite color is blue.",
    "Please close the door when you leave.",
)

SPEECH_LEAD_S = 0.3  # silence before the speech in the primary clip
SPEECH_TAIL_S = 0.3  # silence after the speech in the primary clip
MULTI_LEAD_S = 0.5
MULTI_GAP_S = 1.0
MULTI_TAIL_S = 0.5
MULTI_RATE = 16000

SPEECH_RATES: tuple[int, ...] = (8000, 16000, 22050, 44100, 48000)
CHANNEL_COUNTS: tuple[int, ...] = (1, 2)
SILENT_LONG_SECONDS = 2100.0  # 35 minutes
TRUNCATE_FRACTION = 0.4

_BITEXACT = ("-fflags", "+bitexact", "-flags:a", "+bitexact")

# --- formats ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AudioFormat:
    """How to produce one container/codec combination with ffmpeg."""

    key: str  # the ``fmt`` name used by make_tone/make_silence and FixtureSet.speech lookups
    container: str  # short container name: mp3, wav, flac, m4a, ogg, webm
    codec: str  # codec name as PyAV reports it (stream.codec_context.codec.canonical_name)
    extension: str  # file suffix without the dot
    av_format: str  # container.format.name as reported by PyAV / libavformat
    mime: str  # what a well-behaved client declares
    ffmpeg_args: tuple[str, ...]  # codec/muxer arguments
    native_rates: tuple[int, ...] | None = None  # None = any rate is stored as-is


FORMATS: dict[str, AudioFormat] = {
    f.key: f
    for f in (
        AudioFormat("mp3", "mp3", "mp3", "mp3", "mp3", "audio/mpeg", ("-c:a", "libmp3lame", "-b:a", "64k")),
        AudioFormat("wav", "wav", "pcm_s16le", "wav", "wav", "audio/wav", ("-c:a", "pcm_s16le")),
        AudioFormat("flac", "flac", "flac", "flac", "flac", "audio/flac", ("-c:a", "flac")),
        AudioFormat(
            "m4a",
            "m4a",
            "aac",
            "m4a",
            "mov,mp4,m4a,3gp,3g2,mj2",
            "audio/mp4",
            ("-c:a", "aac", "-b:a", "64k", "-f", "ipod"),
        ),
        AudioFormat("ogg", "ogg", "vorbis", "ogg", "ogg", "audio/ogg", ("-c:a", "libvorbis", "-q:a", "4")),
        AudioFormat(
            "opus",
            "ogg",
            "opus",
            "opus",
            "ogg",
            "audio/ogg",
            ("-c:a", "libopus", "-b:a", "32k", "-f", "ogg"),
            native_rates=(48000,),
        ),
        AudioFormat(
            "webm",
            "webm",
            "opus",
            "webm",
            "matroska,webm",
            "audio/webm",
            ("-c:a", "libopus", "-b:a", "32k", "-f", "webm"),
            native_rates=(48000,),
        ),
    )
}
#: Which codec ``FixtureSet.speech(container=...)`` picks when no codec is given.
DEFAULT_CODEC = {
    "mp3": "mp3",
    "wav": "pcm_s16le",
    "flac": "flac",
    "m4a": "aac",
    "ogg": "vorbis",
    "webm": "opus",
}
_LIBOPUS_INPUT_RATES = (8000, 12000, 16000, 24000, 48000)


def _format_for(container: str, codec: str | None = None) -> AudioFormat:
    if container in FORMATS and codec is None:
        return FORMATS[container]
    codec = codec or DEFAULT_CODEC.get(container)
    for f in FORMATS.values():
        if f.container == container and f.codec == codec:
            return f
    raise KeyError(f"no audio format for container={container!r} codec={codec!r}")


# --- typed description ------------------------------------------------------------------

Expectation = Literal["ok", "partial", "reject_invalid", "reject_empty", "reject_too_long"]


@dataclass(frozen=True)
class SpeechClip:
    """The primary speech clip encoded in one container / rate / channel layout."""

    name: str  # unique id, e.g. "speech-16000-mono-mp3"
    path: Path
    container: str  # mp3 | wav | flac | m4a | ogg | webm
    codec: str  # mp3 | pcm_s16le | flac | aac | vorbis | opus
    av_format: str  # PyAV container.format.name
    mime: str
    source_rate: int  # the rate the audio was rendered at before encoding
    sample_rate: int  # the rate the stream declares / decodes at (48000 for any opus file)
    channels: int
    duration: float  # expected duration in seconds
    text: str
    speech_start: float  # approximate seconds where speech begins / ends
    speech_end: float

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def channel_label(self) -> str:
        return {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels}ch")


@dataclass(frozen=True)
class Utterance:
    text: str
    start: float  # seconds (approximate: first/last sample above a small amplitude threshold)
    end: float


@dataclass(frozen=True)
class MultiUtterance:
    """~20 s of several sentences separated by 1 s silences (16 kHz mono)."""

    path: Path  # WAV, pcm_s16le
    raw_path: Path  # same samples, headerless s16le (for streaming PCM)
    mp3_path: Path  # same audio as mp3
    sample_rate: int
    channels: int
    duration: float
    utterances: tuple[Utterance, ...]

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.utterances)


@dataclass(frozen=True)
class EdgeFile:
    """A malformed or unusual file plus what a gateway is expected to do with it."""

    name: str
    path: Path
    filename: str  # the name a client would upload it under
    mime: str  # the content type a client would declare
    expect: Expectation
    note: str  # what a gateway should do, in prose
    size: int
    declared_duration: float | None = None  # what the container header claims (None: no header)
    decodable_duration: float | None = None  # approx. seconds of audio that actually decode
    sample_rate: int | None = None
    channels: int | None = None
    codec: str | None = None
    text: str | None = None  # spoken text, if the file contains (decodable) speech


@dataclass(frozen=True)
class FixtureSet:
    root: Path
    speech_text: str
    clips: tuple[SpeechClip, ...]
    multi_utterance: MultiUtterance
    malformed: dict[str, EdgeFile]
    espeak_args: tuple[str, ...] = ESPEAK_ARGS
    _index: dict[tuple[str, str, int, int], SpeechClip] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for c in self.clips:
            self._index[(c.container, c.codec, c.source_rate, c.channels)] = c

    @property
    def sentences(self) -> tuple[str, ...]:
        """Every reference sentence used by the fixture set."""
        return (self.speech_text, *(u.text for u in self.multi_utterance.utterances))

    def speech(
        self, container: str = "wav", rate: int = 16000, channels: int = 1, codec: str | None = None
    ) -> SpeechClip:
        """Look up the primary speech clip, e.g. ``speech(container="ogg", codec="opus")``.

        ``container`` may also be a format key ("opus" = Ogg/Opus). ``rate`` is the source rate.
        """
        fmt = _format_for(container, codec)
        try:
            return self._index[(fmt.container, fmt.codec, rate, channels)]
        except KeyError:
            raise KeyError(
                f"no speech clip for container={fmt.container} codec={fmt.codec} rate={rate} "
                f"channels={channels}"
            ) from None

    def all_speech(self) -> tuple[SpeechClip, ...]:
        """All speech clips (use with ``pytest.mark.parametrize(..., ids=lambda c: c.name)``)."""
        return self.clips

    def speech_where(self, **attrs: Any) -> tuple[SpeechClip, ...]:
        """Clips whose attributes equal the given values, e.g. ``speech_where(sample_rate=16000)``."""
        return tuple(c for c in self.clips if all(getattr(c, k) == v for k, v in attrs.items()))


# --- text helpers -----------------------------------------------------------------------

_SMALL_NUMBERS = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen"),
    *("nineteen", "twenty"),
)


def normalize_text(text: str) -> str:
    """Lower-case, drop punctuation, spell out standalone numbers 0-20: for WER comparisons."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    words = [_SMALL_NUMBERS[int(w)] if w.isdigit() and int(w) <= 20 else w for w in text.split()]
    return " ".join(words)


# --- ffmpeg / espeak helpers ------------------------------------------------------------


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")


def _ffmpeg(*args: str) -> list[str]:
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]


def _encode_args(fmt: AudioFormat, rate: int, channels: int, bitrate: str | None = None) -> list[str]:
    out_rate = rate
    if fmt.native_rates is not None and rate not in _LIBOPUS_INPUT_RATES:
        out_rate = fmt.native_rates[0]
    args = list(fmt.ffmpeg_args)
    if bitrate is not None:
        if "-b:a" in args:
            args[args.index("-b:a") + 1] = bitrate
        else:
            args = [*args[:2], "-b:a", bitrate, *args[2:]]
    return ["-ar", str(out_rate), "-ac", str(channels), *args, *_BITEXACT]


def _lavfi_file(
    source: str, path: Path, seconds: float, rate: int, channels: int, fmt: str, bitrate: str | None
) -> Path:
    spec = FORMATS[fmt]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _run(
        _ffmpeg(
            "-f",
            "lavfi",
            "-i",
            source,
            "-t",
            f"{seconds}",
            *_encode_args(spec, rate, channels, bitrate),
            str(path),
        )
    )
    return path


# Timing on 2 cores: a 30-minute 16 kHz WAV takes ~0.5 s (57.6 MB), a 30-minute 16 kHz 64 kbit/s
# mp3 ~4-6 s (14 MB), an 8 kHz 8 kbit/s mp3 (bitrate="8k") ~1 s for 35 minutes (2 MB).


def make_tone(
    path: Path | str,
    seconds: float,
    rate: int = 16000,
    channels: int = 1,
    fmt: str = "wav",
    *,
    frequency: float = 440.0,
    bitrate: str | None = None,
) -> Path:
    """Write a sine tone of ``seconds`` length. ``fmt`` is a key of :data:`FORMATS`."""
    src = f"sine=frequency={frequency}:sample_rate={rate}"
    return _lavfi_file(src, Path(path), seconds, rate, channels, fmt, bitrate)


def make_silence(
    path: Path | str,
    seconds: float,
    rate: int = 16000,
    channels: int = 1,
    fmt: str = "wav",
    *,
    bitrate: str | None = None,
) -> Path:
    """Write digital silence of ``seconds`` length. ``fmt`` is a key of :data:`FORMATS`."""
    src = f"anullsrc=r={rate}:cl=mono"
    return _lavfi_file(src, Path(path), seconds, rate, channels, fmt, bitrate)


def _read_wav(path: Path) -> tuple[array.array, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono")
        samples = array.array("h", w.readframes(w.getnframes()))
        rate = w.getframerate()
    if sys.byteorder == "big":
        samples.byteswap()
    return samples, rate


def _write_wav(path: Path, samples: array.array, rate: int) -> None:
    data = samples
    if sys.byteorder == "big":
        data = array.array("h", samples)
        data.byteswap()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())


def _trim(samples: array.array, threshold: int = 200) -> array.array:
    idx = [i for i, s in enumerate(samples) if abs(s) > threshold]
    if not idx:
        raise ValueError("espeak-ng produced silence")
    return samples[idx[0] : idx[-1] + 1]


def _synth(text: str, out: Path) -> array.array:
    """espeak-ng -> 22050 Hz mono s16 samples with leading/trailing silence removed."""
    _run(["espeak-ng", *ESPEAK_ARGS, "-w", str(out), text])
    samples, rate = _read_wav(out)
    if rate != MASTER_RATE:
        raise RuntimeError(f"espeak-ng produced {rate} Hz, expected {MASTER_RATE}")
    out.unlink()
    return _trim(samples)


def _zeros(seconds: float, rate: int) -> array.array:
    return array.array("h", bytes(2 * round(seconds * rate)))


def _pseudo_random_bytes(n: int, seed: bytes = b"voxtral-gateway-fixtures") -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:n])


def _id3v2_only(title: str = "header only") -> bytes:
    """An ID3v2.4 tag with one TIT2 frame and nothing after it."""
    payload = b"\x03" + title.encode()  # encoding byte 3 = UTF-8

    def syncsafe(n: int) -> bytes:
        return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])

    frame = b"TIT2" + syncsafe(len(payload)) + b"\x00\x00" + payload
    return b"ID3\x04\x00\x00" + syncsafe(len(frame)) + frame


def _wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


# --- building ---------------------------------------------------------------------------


def _settings_key() -> str:
    settings = {
        "version": FIXTURE_VERSION,
        "espeak": ESPEAK_ARGS,
        "speech": SPEECH_TEXT,
        "multi": MULTI_UTTERANCE_SENTENCES,
        "rates": SPEECH_RATES,
        "channels": CHANNEL_COUNTS,
        "formats": [dataclasses.astuple(f) for f in FORMATS.values()],
        "timing": (SPEECH_LEAD_S, SPEECH_TAIL_S, MULTI_LEAD_S, MULTI_GAP_S, MULTI_TAIL_S, MULTI_RATE),
        "edge": (SILENT_LONG_SECONDS, TRUNCATE_FRACTION),
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return f"v{FIXTURE_VERSION}-{digest}"


def _parallel(jobs: list[Callable[[], Any]]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = [pool.submit(j) for j in jobs]
        return [f.result() for f in futures]


def _generate(root: Path) -> FixtureSet:
    root.mkdir(parents=True)
    work = root / "_work"
    work.mkdir()
    speech_dir = root / "speech"
    speech_dir.mkdir()
    edge_dir = root / "edge"
    edge_dir.mkdir()

    # 1. synthesise every sentence (in parallel) and compose the two masters at 22050 Hz.
    texts = (SPEECH_TEXT, *MULTI_UTTERANCE_SENTENCES)
    synthesised = _parallel([lambda t=t, i=i: _synth(t, work / f"s{i}.wav") for i, t in enumerate(texts)])
    speech_samples, multi_samples = synthesised[0], synthesised[1:]

    master = _zeros(SPEECH_LEAD_S, MASTER_RATE) + speech_samples + _zeros(SPEECH_TAIL_S, MASTER_RATE)
    master_path = work / "speech-master.wav"
    _write_wav(master_path, master, MASTER_RATE)
    speech_duration = len(master) / MASTER_RATE
    speech_start = SPEECH_LEAD_S
    speech_end = SPEECH_LEAD_S + len(speech_samples) / MASTER_RATE

    multi = _zeros(MULTI_LEAD_S, MASTER_RATE)
    spans: list[tuple[int, int]] = []
    for i, s in enumerate(multi_samples):
        if i:
            multi += _zeros(MULTI_GAP_S, MASTER_RATE)
        spans.append((len(multi), len(multi) + len(s)))
        multi += s
    multi += _zeros(MULTI_TAIL_S, MASTER_RATE)
    multi_master = work / "multi-master.wav"
    _write_wav(multi_master, multi, MASTER_RATE)

    # 2. speech clips: WAV at every rate/layout first, then every other format from that WAV.
    def clip_path(fmt: AudioFormat, rate: int, channels: int) -> Path:
        layout = {1: "mono", 2: "stereo"}[channels]
        return speech_dir / f"speech-{rate}-{layout}-{fmt.key}.{fmt.extension}"

    wav = FORMATS["wav"]
    combos = [(r, c) for r in SPEECH_RATES for c in CHANNEL_COUNTS]
    _parallel(
        [
            lambda r=r, c=c: _run(
                _ffmpeg("-i", str(master_path), *_encode_args(wav, r, c), str(clip_path(wav, r, c)))
            )
            for r, c in combos
        ]
    )

    # multi-utterance at 16 kHz mono (+ raw PCM + mp3); edge-case sources.
    multi_wav = root / "multi_utterance.wav"
    multi_mp3 = root / "multi_utterance.mp3"
    multi_raw = root / "multi_utterance.s16le"
    long_mp3 = work / "multi-32k-cbr.mp3"
    mp3 = FORMATS["mp3"]
    side_jobs: list[Callable[[], Any]] = [
        lambda: _run(_ffmpeg("-i", str(multi_master), *_encode_args(wav, MULTI_RATE, 1), str(multi_wav))),
        lambda: _run(_ffmpeg("-i", str(multi_master), *_encode_args(mp3, MULTI_RATE, 1), str(multi_mp3))),
        # a CBR mp3 with a LAME/Info (Xing) header declaring the full length, to be truncated
        lambda: _run(
            _ffmpeg("-i", str(multi_master), *_encode_args(mp3, MULTI_RATE, 1, "32k"), str(long_mp3))
        ),
        lambda: _run(
            _ffmpeg("-i", str(master_path), *_encode_args(wav, 96000, 1), str(edge_dir / "wav_96k.wav"))
        ),
        lambda: _run(
            _ffmpeg("-i", str(master_path), *_encode_args(wav, 4000, 1), str(edge_dir / "wav_4k.wav"))
        ),
        lambda: _run(
            _ffmpeg(
                "-i",
                str(master_path),
                "-af",
                "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0",
                *_encode_args(wav, 16000, 6),
                str(edge_dir / "wav_6ch.wav"),
            )
        ),
        lambda: make_silence(
            edge_dir / "silent_35min.mp3", SILENT_LONG_SECONDS, 8000, 1, "mp3", bitrate="8k"
        ),
        lambda: _run(
            _ffmpeg(
                "-i",
                str(clip_path(wav, 16000, 1)),
                *_encode_args(FORMATS["ogg"], 16000, 1),
                "-f",
                "ogg",
                str(edge_dir / "mislabelled.mp3"),
            )
        ),
    ]
    encode_jobs: list[Callable[[], Any]] = []
    clips: list[SpeechClip] = []
    for fmt in FORMATS.values():
        for r, c in combos:
            out = clip_path(fmt, r, c)
            if fmt.key != "wav":
                src = clip_path(wav, r, c)
                encode_jobs.append(
                    lambda src=src, out=out, fmt=fmt, r=r, c=c: _run(
                        _ffmpeg("-i", str(src), *_encode_args(fmt, r, c), str(out))
                    )
                )
            clips.append(
                SpeechClip(
                    name=out.stem,
                    path=out,
                    container=fmt.container,
                    codec=fmt.codec,
                    av_format=fmt.av_format,
                    mime=fmt.mime,
                    source_rate=r,
                    sample_rate=fmt.native_rates[0] if fmt.native_rates else r,
                    channels=c,
                    duration=round(speech_duration, 4),
                    text=SPEECH_TEXT,
                    speech_start=round(speech_start, 3),
                    speech_end=round(speech_end, 3),
                )
            )
    _parallel(side_jobs + encode_jobs)

    multi_samples_16k, _ = _read_wav(multi_wav)
    if sys.byteorder == "big":
        multi_samples_16k.byteswap()
    multi_raw.write_bytes(multi_samples_16k.tobytes())
    multi_duration = _wav_duration(multi_wav)
    utterances = tuple(
        Utterance(text, round(a / MASTER_RATE, 3), round(b / MASTER_RATE, 3))
        for text, (a, b) in zip(MULTI_UTTERANCE_SENTENCES, spans, strict=True)
    )
    multi_utt = MultiUtterance(
        path=multi_wav,
        raw_path=multi_raw,
        mp3_path=multi_mp3,
        sample_rate=MULTI_RATE,
        channels=1,
        duration=round(multi_duration, 4),
        utterances=utterances,
    )

    # 3. malformed / edge-case files
    long_bytes = long_mp3.read_bytes()
    (edge_dir / "truncated.mp3").write_bytes(long_bytes[: int(len(long_bytes) * TRUNCATE_FRACTION)])
    full_wav = clip_path(wav, 16000, 1).read_bytes()
    (edge_dir / "truncated.wav").write_bytes(full_wav[: int(len(full_wav) * TRUNCATE_FRACTION)])
    (edge_dir / "empty.wav").write_bytes(b"")
    (edge_dir / "random_bytes.bin").write_bytes(_pseudo_random_bytes(64 * 1024))
    _write_wav(edge_dir / "header_only.wav", array.array("h"), 16000)
    (edge_dir / "header_only.mp3").write_bytes(_id3v2_only())
    (edge_dir / "text_file.txt").write_text(
        "This is a plain UTF-8 text file, not audio.\nÜnïcödé ✓ — 音声ではありません。\n" * 20,
        encoding="utf-8",
    )

    def edge(name: str, filename: str, mime: str, expect: Expectation, note: str, **kw: Any) -> EdgeFile:
        path = edge_dir / filename
        return EdgeFile(
            name=name,
            path=path,
            filename=kw.pop("upload_name", filename),
            mime=mime,
            expect=expect,
            note=note,
            size=path.stat().st_size,
            **kw,
        )

    long_duration = len(multi) / MASTER_RATE
    malformed = {
        e.name: e
        for e in (
            edge(
                "truncated_mp3",
                "truncated.mp3",
                "audio/mpeg",
                "partial",
                f"First {TRUNCATE_FRACTION:.0%} of the bytes of a CBR mp3 whose LAME/Info header declares "
                "the full length. Gateway must not trust the header duration for billing/timeouts and "
                "must not hang or 500: decode what is present (or 400 if strict) and report the "
                "decoded duration.",
                declared_duration=round(long_duration, 3),
                decodable_duration=round(long_duration * TRUNCATE_FRACTION, 3),
                sample_rate=MULTI_RATE,
                channels=1,
                codec="mp3",
                text=" ".join(MULTI_UTTERANCE_SENTENCES),
            ),
            edge(
                "truncated_wav",
                "truncated.wav",
                "audio/wav",
                "partial",
                f"First {TRUNCATE_FRACTION:.0%} of speech-16000-mono.wav; the RIFF/data chunk sizes "
                "declare the full length (note: libavformat clamps the data size to the file size, so "
                "PyAV reports the *present* duration for this one). Decode the samples present "
                "(or 400 if strict); never 500.",
                declared_duration=round(speech_duration, 3),
                decodable_duration=round(speech_duration * TRUNCATE_FRACTION, 3),
                sample_rate=16000,
                channels=1,
                codec="pcm_s16le",
                text=SPEECH_TEXT,
            ),
            edge(
                "empty",
                "empty.wav",
                "audio/wav",
                "reject_empty",
                "0-byte upload. Reject with 400 (empty file) before touching the decoder.",
            ),
            edge(
                "random_bytes",
                "random_bytes.bin",
                "audio/mpeg",
                "reject_invalid",
                "64 KiB of deterministic pseudo-random bytes (sha256 counter stream) declared as mp3. "
                "PyAV cannot open it; reject with 400/415 'could not decode audio', not 500.",
                upload_name="random.mp3",
            ),
            edge(
                "header_only_wav",
                "header_only.wav",
                "audio/wav",
                "reject_empty",
                "Valid 44-byte WAV header (16 kHz mono s16) with a 0-length data chunk: opens fine but "
                "contains no samples. Reject with 400 'no audio' (or return an empty transcript).",
                declared_duration=0.0,
                decodable_duration=0.0,
                sample_rate=16000,
                channels=1,
                codec="pcm_s16le",
            ),
            edge(
                "header_only_mp3",
                "header_only.mp3",
                "audio/mpeg",
                "reject_invalid",
                "An ID3v2.4 tag (one TIT2 frame) and no MPEG frames; PyAV fails to open it. "
                "Reject with 400/415, not 500.",
            ),
            edge(
                "wav_96k",
                "wav_96k.wav",
                "audio/wav",
                "ok",
                "The speech clip at 96 kHz mono. Resample to 16 kHz and transcribe normally.",
                declared_duration=round(speech_duration, 3),
                decodable_duration=round(speech_duration, 3),
                sample_rate=96000,
                channels=1,
                codec="pcm_s16le",
                text=SPEECH_TEXT,
            ),
            edge(
                "wav_4k",
                "wav_4k.wav",
                "audio/wav",
                "ok",
                "The speech clip at 4 kHz (ffmpeg -ar 4000; content band-limited to 2 kHz). Resample "
                "to 16 kHz and transcribe (or reject with a clear 400 if a minimum rate is enforced); "
                "do not expect an accurate transcript.",
                declared_duration=round(speech_duration, 3),
                decodable_duration=round(speech_duration, 3),
                sample_rate=4000,
                channels=1,
                codec="pcm_s16le",
                text=SPEECH_TEXT,
            ),
            edge(
                "wav_6ch",
                "wav_6ch.wav",
                "audio/wav",
                "ok",
                "The speech clip as 16 kHz 6-channel (5.1) WAV with the speech copied into every "
                "channel. Downmix to mono and transcribe normally.",
                declared_duration=round(speech_duration, 3),
                decodable_duration=round(speech_duration, 3),
                sample_rate=16000,
                channels=6,
                codec="pcm_s16le",
                text=SPEECH_TEXT,
            ),
            edge(
                "silent_35min",
                "silent_35min.mp3",
                "audio/mpeg",
                "reject_too_long",
                "35 minutes of digital silence as an 8 kHz mono 8 kbit/s CBR mp3 (~2 MB) whose "
                "LAME/Info header declares 2100 s. A gateway with a max-duration limit below 35 min "
                "should reject it (413/400) from the declared duration, without decoding it all; "
                "if accepted, the transcript should be empty.",
                declared_duration=SILENT_LONG_SECONDS,
                decodable_duration=SILENT_LONG_SECONDS,
                sample_rate=8000,
                channels=1,
                codec="mp3",
                text="",
            ),
            edge(
                "mislabelled",
                "mislabelled.mp3",
                "audio/mpeg",
                "ok",
                "An Ogg/Vorbis file (the 16 kHz mono speech clip) named .mp3 and declared audio/mpeg. "
                "Gateway should sniff the content (PyAV probing) and transcribe normally.",
                declared_duration=round(speech_duration, 3),
                decodable_duration=round(speech_duration, 3),
                sample_rate=16000,
                channels=1,
                codec="vorbis",
                text=SPEECH_TEXT,
            ),
            edge(
                "text_file",
                "text_file.txt",
                "text/plain",
                "reject_invalid",
                "A UTF-8 text file. PyAV opens it (as the 'tty' ANSI-art demuxer) but it has no audio "
                "stream, so a gateway must check for one. Reject with 400/415 'not audio'; never 500.",
                upload_name="notes.txt",
            ),
        )
    }

    shutil.rmtree(work)
    return FixtureSet(
        root=root,
        speech_text=SPEECH_TEXT,
        clips=tuple(clips),
        multi_utterance=multi_utt,
        malformed=malformed,
    )


# --- manifest (cache) -------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _files_of(fs: FixtureSet) -> list[Path]:
    m = fs.multi_utterance
    return [
        *(c.path for c in fs.clips),
        m.path,
        m.raw_path,
        m.mp3_path,
        *(e.path for e in fs.malformed.values()),
    ]


def _encode(obj: Any, root: Path) -> Any:
    if isinstance(obj, Path):
        return {"__path__": obj.relative_to(root).as_posix()}
    if dataclasses.is_dataclass(obj):
        return {f.name: _encode(getattr(obj, f.name), root) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, dict):
        return {k: _encode(v, root) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_encode(v, root) for v in obj]
    return obj


def _path(obj: Any, root: Path) -> Path:
    return root / obj["__path__"]


def _decode(data: dict[str, Any], root: Path) -> FixtureSet:
    def dc(cls: type, d: dict[str, Any]) -> Any:
        kw = {k: (_path(v, root) if isinstance(v, dict) and "__path__" in v else v) for k, v in d.items()}
        return cls(**kw)

    mu = dict(data["multi_utterance"])
    mu["utterances"] = tuple(Utterance(**u) for u in mu["utterances"])
    return FixtureSet(
        root=root,
        speech_text=data["speech_text"],
        clips=tuple(dc(SpeechClip, c) for c in data["clips"]),
        multi_utterance=dc(MultiUtterance, mu),
        malformed={k: dc(EdgeFile, v) for k, v in data["malformed"].items()},
        espeak_args=tuple(data["espeak_args"]),
    )


def _load_cached(root: Path) -> FixtureSet | None:
    manifest = root / "manifest.json"
    try:
        data = json.loads(manifest.read_text())
        if data.get("key") != root.name:
            return None
        fs = _decode(data["fixtures"], root)
        for rel, (size, digest) in data["files"].items():
            p = root / rel
            if p.stat().st_size != size or _sha256(p) != digest:
                return None
        if {p.relative_to(root).as_posix() for p in _files_of(fs)} != set(data["files"]):
            return None
        return fs
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def _locked(cache_dir: Path) -> Iterator[None]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_fixture_set(cache_dir: Path | str) -> FixtureSet:
    """Generate (or reuse from ``cache_dir``) the fixture set and return its description.

    Safe to call concurrently from several processes (an flock serialises builders).
    """
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is required to build the audio fixtures")
    cache_dir = Path(cache_dir).resolve()
    key = _settings_key()
    root = cache_dir / key
    with _locked(cache_dir):
        cached = _load_cached(root)
        if cached is not None:
            return cached
        tmp = cache_dir / f".{key}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
        fs_tmp = _generate(tmp)
        files = {p.relative_to(tmp).as_posix(): [p.stat().st_size, _sha256(p)] for p in _files_of(fs_tmp)}
        manifest = {"key": key, "fixtures": _encode(fs_tmp, tmp), "files": files}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
        tmp.rename(root)
        fs = _decode(manifest["fixtures"], root)
        # drop caches of older versions / settings
        for old in cache_dir.iterdir():
            if (
                old.is_dir()
                and old.name != key
                and re.fullmatch(r"\.?v\d+-[0-9a-f]{10}(\.tmp-\d+)?", old.name)
            ):
                shutil.rmtree(old, ignore_errors=True)
        return fs
