"""Decoded frames of any rate, layout and sample format → mono float32 at one rate, in large frames.

The same conversion `av.AudioResampler` does (an `abuffer → aformat → abuffersink` filter graph,
libswresample with its defaults), arranged for less work per decoded frame: the sink hands out
`frame_samples`-long frames, and the graph is only asked for one when enough input has gone in
for it to be ready. Asking after every input frame, as `AudioResampler` does, costs a failed pull
(a raised EAGAIN) per frame; an MP3 has ~38 frames a second."""

from __future__ import annotations

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
