"""Decoded frames of any rate, layout and sample format → mono float32 at one rate, in large frames.

The same conversion `av.AudioResampler` does (an `abuffer → aformat → abuffersink` filter graph,
libswresample with its defaults), arranged for less work per decoded frame: the sink hands out
`frame_samples`-long frames, and the graph is only asked for one when enough input has gone in
for it to be ready. Asking after every input frame, as `AudioResampler` does, costs a failed pull
(a raised EAGAIN) per frame; an MP3 has ~38 frames a second."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator

import av
import numpy as np
from av.filter import Graph

# Output the resampler may still hold back (its filter delay) when a frame is expected.
_DELAY_MARGIN_SAMPLES = 64


class MonoResampler:
    def __init__(self, rate: int, frame_samples: int):
        self.rate = rate
        self.frame_samples = frame_samples
        self._graph: Graph | None = None
        self._input_rate = 0
        self._pushed = 0
        """Input samples pushed, at the input rate."""
        self._pulled = 0
        """Output samples pulled, at `rate`."""

    def push(self, frame: av.AudioFrame) -> Iterator[np.ndarray]:
        """Feed one decoded frame; yield the output frames now ready (views: copy them before the next)."""
        graph = self._graph or self._configure(frame)
        graph.push(frame)
        self._pushed += frame.samples
        ready = self._pushed * self.rate // self._input_rate - self._pulled
        if ready >= self.frame_samples + _DELAY_MARGIN_SAMPLES:
            yield from self._pull()

    def flush(self) -> Iterator[np.ndarray]:
        """Signal the end of the input and yield what is left."""
        if self._graph is None:
            return
        self._graph.push(None)
        yield from self._pull()

    def _pull(self) -> Iterator[np.ndarray]:
        assert self._graph is not None
        while True:
            try:
                out = self._graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            self._pulled += out.samples
            yield np.frombuffer(out.planes[0], dtype=np.float32, count=out.samples)

    def _configure(self, frame: av.AudioFrame) -> Graph:
        graph = Graph()
        extra = {"time_base": str(frame.time_base)} if frame.time_base is not None else {}
        source = graph.add(
            "abuffer",
            sample_rate=str(frame.sample_rate),
            sample_fmt=frame.format.name,
            channel_layout=frame.layout.name,
            **extra,
        )
        convert = graph.add("aformat", sample_rates=str(self.rate), sample_fmts="flt", channel_layouts="mono")
        sink = graph.add("abuffersink")
        source.link_to(convert)
        convert.link_to(sink)
        graph.configure()
        graph.set_audio_frame_size(self.frame_samples)
        self._graph = graph
        self._input_rate = frame.sample_rate
        return graph


class RatioResampler:
    """Mono int16 at `rate` → int16 at `target`, for rates a small ratio apart (24 → 16 kHz is 2:3): a
    polyphase FIR, one matrix product per call, its state carried from call to call, so a stream cut
    anywhere comes out sample for sample as if it had been resampled whole.

    The filter is a Kaiser-windowed sinc whose stopband starts at the lower rate's Nyquist frequency (no
    aliasing, ≥ 60 dB down) and whose passband reaches 80 % of it (6.4 kHz at 16 kHz); output sample `m`
    is centred on input time `m · rate / target`, so there is no delay to compensate. For 100 ms of
    24 kHz audio this costs about 20 µs (56 taps), less than half of a libswresample call."""

    MAX_FACTOR = 6
    """Up/down factors beyond this (44.1 kHz is 160:441) are left to libswresample."""

    def __init__(self, rate: int, target: int):
        if not self.supports(rate, target):
            raise ValueError(f"no small ratio between {rate} and {target} Hz")
        common = math.gcd(rate, target)
        self._up, self._down = target // common, rate // common
        self._half, self._kernels = _polyphase_kernels(self._up, self._down)
        # Input from absolute sample index `_start` on (negative at first: the zeros before the stream).
        self._buffer = np.zeros(self._half - 1, dtype=np.float32)
        self._start = 1 - self._half
        self._fed = 0
        self._cycles = 0
        """Whole cycles (`_up` outputs from `_down` inputs) emitted so far."""

    @staticmethod
    def supports(rate: int, target: int) -> bool:
        common = math.gcd(rate, target)
        return rate != target and max(rate, target) // common <= RatioResampler.MAX_FACTOR

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """The output `samples` (int16) completes."""
        self._buffer = np.concatenate((self._buffer, samples), dtype=np.float32)
        self._fed += len(samples)
        return self._emit(self._fed)

    def finish(self) -> np.ndarray:
        """The rest, up to the output sample for the input's last one (the input continued by zeros)."""
        total = -(-self._fed * self._up // self._down)
        emitted = self._cycles * self._up
        self._buffer = np.concatenate((self._buffer, np.zeros(self._half + self._down, dtype=np.float32)))
        out = self._emit(self._fed + self._half + self._down)
        return out[: max(0, total - emitted)]

    def _emit(self, available: int) -> np.ndarray:
        down, half = self._down, self._half
        width = self._kernels.shape[0]
        # Cycle k reads input from down·k − half + 1 for `width` samples.
        end = (available - width + half - 1) // down + 1
        count = end - self._cycles
        if count <= 0:
            return _EMPTY_PCM16
        first = down * self._cycles - half + 1 - self._start
        buffer = self._buffer
        step = buffer.strides[0]
        # Overlapping windows over the buffer (no copy), `down` samples apart; built with the ndarray
        # constructor, which costs a tenth of `as_strided` (this runs once per message, on the loop).
        windows = np.ndarray((count, width), np.float32, buffer, first * step, (down * step, step))
        out = np.dot(windows, self._kernels).reshape(-1)
        self._cycles = end
        keep = down * end - half + 1 - self._start
        self._buffer = buffer[keep:]
        self._start += keep
        np.rint(out, out=out)
        np.minimum(out, 32767, out=out)  # the ufuncs: np.clip's Python wrapper costs more than the work
        np.maximum(out, -32768, out=out)
        return out.astype(np.int16)


_EMPTY_PCM16 = np.empty(0, dtype=np.int16)
_STOPBAND_DB = 60.0
_PASSBAND_FRACTION = 0.8


@functools.cache
def _polyphase_kernels(up: int, down: int) -> tuple[int, np.ndarray]:
    """(half, M): M's column s gives output `up·k + s` from the `half·2 + down − 1` inputs starting at
    `down·k − half + 1` (the kernel of its fractional position, shifted by its whole input offset)."""
    nyquist = 0.5 * min(1.0, up / down)  # of the lower rate, in cycles per input sample
    transition = (1.0 - _PASSBAND_FRACTION) * nyquist
    cutoff = nyquist - transition / 2
    taps = math.ceil((_STOPBAND_DB - 7.95) / (2.285 * 2 * math.pi * transition))
    half = (taps + 1) // 2
    beta = 0.1102 * (_STOPBAND_DB - 8.7)
    width = 2 * half + down - 1
    kernels = np.zeros((width, up), dtype=np.float64)
    for s in range(up):
        offset, residue = divmod(s * down, up)
        # Input i of the window (from q − half + 1, q = the output's whole input position) sits at
        # distance t from the output's exact position.
        t = residue / up + half - 1 - np.arange(2 * half)
        window = np.i0(beta * np.sqrt(np.clip(1.0 - (t / half) ** 2, 0.0, None))) / np.i0(beta)
        kernel = 2 * cutoff * np.sinc(2 * cutoff * t) * window
        kernels[offset : offset + 2 * half, s] = kernel / kernel.sum()
    return half, kernels.astype(np.float32)
