"""Incremental decoding of a live audio stream that arrives as byte pieces cut anywhere.

`AudioStreamDecoder.feed(piece)` returns the 16 kHz mono int16 samples that piece completes; nothing is
decoded twice. How each container is followed:

- WAV: the RIFF header is read, then the samples are converted as they come (any bit depth, rate, layout);
- raw PCM16 (the voice-agent path): samples straight through, resampled only if not 16 kHz;
- MP3, ADTS AAC, FLAC: FFmpeg's own frame parser (`CodecContext.parse`) splits the bytes into frames;
- Ogg (Opus, Vorbis) and WebM/Matroska (Opus, Vorbis, MP3, AAC, PCM): the pages/blocks are followed by
  small readers here (FFmpeg's demuxers need the whole file or a blocking reader thread per stream), and
  the packets go to FFmpeg's decoders.

A piece that is itself the start of a WAV file (a RIFF header) starts a new WAV segment; so does a piece
starting with another container's unmistakable header (OggS, EBML, fLaC, ID3) of a different kind."""

from __future__ import annotations

import numpy as np

from voxtral_gateway.audio.limits import TARGET_SAMPLE_RATE, AudioLimits
from voxtral_gateway.audio.sniff import new_file_container, sniff_container
from voxtral_gateway.audio.stream.codecs import EMPTY, joined
from voxtral_gateway.audio.stream.formats import ContainerDecoder, PcmDecoder, RawPcmDecoder, decoder_for
from voxtral_gateway.audio.stream.raw_pcm import RAW_PCM_ENCODINGS
from voxtral_gateway.errors import AudioUndecodable

PCM_FORMATS = frozenset({"pcm_s16le"})
_SNIFF_BYTES = 16
# With this much input and not one sample out, the bytes are not the audio they claim to be.
_UNDECODABLE_AFTER_BYTES = 256 * 1024


class AudioStreamDecoder:
    """The stream's decoder: picks the container from the first bytes (the declared format is a hint)
    and starts a new segment when a piece begins a new file."""

    def __init__(
        self,
        declared_format: str | None,
        limits: AudioLimits,
        pcm_sample_rate: int = TARGET_SAMPLE_RATE,
        *,
        raw_only: bool = False,
    ):
        """`raw_only`: the stream is raw PCM in `declared_format` (one of `RAW_PCM_ENCODINGS`) and
        nothing else; its bytes are never sniffed for a container (G.711 bytes can look like "RIFF")."""
        self._declared = declared_format
        self._limits = limits
        self._pcm_rate = pcm_sample_rate
        self._raw_only = raw_only
        self._current: ContainerDecoder | None = None
        if raw_only:
            if declared_format not in RAW_PCM_ENCODINGS:
                raise ValueError(f"{declared_format!r} is not a raw PCM encoding")
            self._current = RawPcmDecoder(declared_format, pcm_sample_rate, limits)
        elif declared_format in PCM_FORMATS:
            self._current = PcmDecoder(pcm_sample_rate, limits)
        self._pending = b""
        self.bytes_in = 0
        self.samples_out = 0

    @property
    def current(self) -> ContainerDecoder | None:
        return self._current

    def feed(self, data: bytes) -> np.ndarray:
        """The samples (16 kHz mono int16) that `data` completes."""
        if not data:
            return EMPTY
        self.bytes_in += len(data)
        if self._raw_only:
            assert self._current is not None
            samples = joined(self._current.feed(data))
            self.samples_out += len(samples)
            return samples
        out: list[np.ndarray] = []
        strong = new_file_container(data)
        current = self._current
        if strong is not None and current is not None and (strong == "wav" or strong != current.container):
            out += current.finish()
            self._current = current = None
            self._pending = b""
        if current is None:
            data = self._pending + data
            label = sniff_container(data) if len(data) >= _SNIFF_BYTES or strong else None
            if label is None and len(data) < _SNIFF_BYTES:
                self._pending = data
                return joined(out)
            self._pending = b""
            current = self._current = self._open(label or self._fallback(data))
        out += current.feed(data)
        samples = joined(out)
        self.samples_out += len(samples)
        if self.samples_out == 0 and self.bytes_in > _UNDECODABLE_AFTER_BYTES:
            raise AudioUndecodable(
                f"no audio could be decoded from the first {self.bytes_in} bytes of the stream "
                f"({current.container})"
            )
        return samples

    def finish(self) -> np.ndarray:
        """Samples still held at the end of the stream."""
        out: list[np.ndarray] = []
        if self._current is None and self._pending:
            self._current = self._open(sniff_container(self._pending) or self._fallback(self._pending))
            out += self._current.feed(self._pending)
            self._pending = b""
        if self._current is not None:
            out += self._current.finish()
        samples = joined(out)
        self.samples_out += len(samples)
        return samples

    def _open(self, label: str) -> ContainerDecoder:
        if label == "pcm":
            return PcmDecoder(self._pcm_rate, self._limits)
        return decoder_for(label, self._limits)

    def _fallback(self, data: bytes) -> str:
        # Raw MP3/AAC frames cut mid-frame carry no header to sniff; the parser finds the next frame.
        if self._declared in ("mp3", "aac"):
            return self._declared
        if self._declared in PCM_FORMATS:
            return "pcm"
        raise AudioUndecodable(
            "the stream's first bytes are not a known audio container"
            + (f" (declared format: {self._declared})" if self._declared else "")
        )
