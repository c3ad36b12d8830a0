"""Voice activity detection: where the speech is, with WebRTC's VAD (a GMM speech/noise model in C).

Two ways in, one set of rules:
- `speech_regions(samples)` for a whole clip (e.g. to cut long audio into utterance-sized pieces);
- `FrameVad` + `Endpointer` for live audio fed piece by piece (the live session's segmenter, `services/live/segmenter.py`).

A region opens when a few of the last frames are voiced, ends after `silence_seconds` without speech,
keeps `padding_seconds` of context on both sides, is dropped when it holds too little voiced audio
(clicks, breaths), and is cut at its quietest frame when it reaches `max_region_seconds`.

Cost: about 5 µs of CPU per 30 ms frame (~0.2 ms per second of audio), so hundreds of live streams fit
on one core; that is why WebRTC's model is used rather than a neural one."""

from __future__ import annotations

import math
from collections import deque
from typing import Literal

import msgspec
import numpy as np
import webrtcvad

from voxtral_gateway.audio.limits import TARGET_SAMPLE_RATE

FRAME_SECONDS = 0.03
"""WebRTC's VAD classifies 10, 20 or 30 ms frames; 30 ms costs the fewest calls."""
VAD_SAMPLE_RATES = (8_000, 16_000, 32_000, 48_000)


class EndpointRules(msgspec.Struct, kw_only=True, frozen=True):
    """When a speech region starts and ends."""

    silence_seconds: float = 0.5
    """Non-speech that ends a region."""
    max_region_seconds: float = 30.0
    """A region this long is cut at its quietest frame and a new one continues from there."""
    min_speech_seconds: float = 0.25
    """Regions with less voiced audio than this are dropped as noise."""
    padding_seconds: float = 0.2
    """Context kept before the first and after the last voiced frame (never more than the silence)."""
    start_voiced_frames: int = 3
    """Voiced frames among the last `start_window_frames` that open a region."""
    start_window_frames: int = 5
    aggressiveness: Literal[0, 1, 2, 3] = 2
    """WebRTC VAD mode: 0 lets the most through as speech, 3 is the strictest."""

    def frames(self, seconds: float) -> int:
        return max(1, math.ceil(seconds / FRAME_SECONDS - 1e-9))


class RegionOpened(msgspec.Struct, frozen=True):
    start_frame: int


class RegionClosed(msgspec.Struct, frozen=True):
    start_frame: int
    end_frame: int
    """Exclusive."""
    voiced_frames: int
    reason: Literal["silence", "max_length", "end_of_audio", "commit"]
    """`commit`: the client ended the turn itself (`Endpointer.close_now`)."""


class RegionDropped(msgspec.Struct, frozen=True):
    """A region that opened but held too little speech to be worth transcribing."""

    start_frame: int
    end_frame: int


EndpointEvent = RegionOpened | RegionClosed | RegionDropped


class FrameVad:
    """WebRTC VAD over consecutive frames of 16-bit mono PCM of one stream (it adapts to the noise
    floor as it goes, so use one per stream)."""

    def __init__(self, sample_rate: int = TARGET_SAMPLE_RATE, aggressiveness: int = 2):
        if sample_rate not in VAD_SAMPLE_RATES:
            raise ValueError(f"the VAD runs at {VAD_SAMPLE_RATES} Hz, not {sample_rate} Hz")
        self.sample_rate = sample_rate
        self.frame_samples = round(sample_rate * FRAME_SECONDS)
        self._vad = webrtcvad.Vad(aggressiveness)

    def set_aggressiveness(self, aggressiveness: int) -> None:
        """Change the mode from the next frame on (the noise estimate is kept)."""
        self._vad.set_mode(aggressiveness)

    def classify(self, pcm: np.ndarray) -> tuple[list[bool], np.ndarray]:
        """(voiced?, mean energy) per frame of `pcm`, int16 whose length is a multiple of a frame."""
        count = len(pcm) // self.frame_samples
        if count == 0:
            return [], np.empty(0, dtype=np.float32)
        frames = pcm[: count * self.frame_samples]
        raw = memoryview(np.ascontiguousarray(frames, dtype="<i2")).cast("B")
        step = self.frame_samples * 2
        is_speech = self._vad.is_speech
        rate = self.sample_rate
        voiced = [is_speech(raw[i * step : (i + 1) * step], rate) for i in range(count)]
        as_float = frames.reshape(count, self.frame_samples).astype(np.float32)
        energies = np.einsum("ij,ij->i", as_float, as_float) / self.frame_samples
        return voiced, energies


class Endpointer:
    """The region state machine over per-frame VAD decisions; fed incrementally, it reports a region
    as soon as its end is certain (after `silence_seconds`), so callers can act on it at once."""

    def __init__(self, rules: EndpointRules):
        self.rules = rules
        self._silence = rules.frames(rules.silence_seconds)
        self._pad = min(rules.frames(rules.padding_seconds), self._silence)
        self._max = max(rules.frames(rules.max_region_seconds), 2 * self._silence)
        self._min_voiced = rules.frames(rules.min_speech_seconds)
        self._window: deque[tuple[int, bool, float]] = deque(maxlen=rules.start_window_frames)
        self.frames = 0
        """Frames seen so far."""
        self._floor = 0  # a new region may not start before the end of the previous one
        self._start: int | None = None
        self._last_voiced = 0
        self._voiced: list[bool] = []  # of the open region, frame by frame
        self._energy: list[float] = []

    @property
    def open_start(self) -> int | None:
        """The first frame of the region in progress, if one is open."""
        return self._start

    @property
    def keep_from(self) -> int:
        """The earliest frame a future region can include: audio before it may be discarded."""
        if self._start is not None:
            return self._start
        return max(self._floor, self.frames - self.rules.start_window_frames - self._pad)

    def push(self, voiced: list[bool], energies: np.ndarray) -> list[EndpointEvent]:
        events: list[EndpointEvent] = []
        for flag, energy in zip(voiced, energies.tolist(), strict=True):
            index = self.frames
            self.frames += 1
            if self._start is None:
                self._window.append((index, flag, energy))
                if sum(f for _, f, _ in self._window) >= self.rules.start_voiced_frames:
                    first = next(i for i, f, _ in self._window if f)
                    self._open(max(first - self._pad, self._floor), events)
                continue
            self._voiced.append(flag)
            self._energy.append(energy)
            if flag:
                self._last_voiced = index
            elif index - self._last_voiced >= self._silence:
                self._close(min(self._last_voiced + 1 + self._pad, index + 1), "silence", events)
                continue
            if self.frames - self._start >= self._max:
                self._cut(events)
        return events

    def finish(self) -> list[EndpointEvent]:
        """Close the region in progress at the end of the audio."""
        events: list[EndpointEvent] = []
        if self._start is not None:
            self._close(min(self._last_voiced + 1 + self._pad, self.frames), "end_of_audio", events)
        return events

    def close_now(self) -> list[EndpointEvent]:
        """Close the region in progress at the last frame seen, however little speech it holds (the
        client ended the turn). Nothing when no region is open."""
        events: list[EndpointEvent] = []
        if self._start is not None:
            self._close(self.frames, "commit", events, keep_short=True)
        return events

    def discard(self) -> bool:
        """Forget the region in progress (the client threw its audio away); True if one was open."""
        if self._start is None:
            return False
        self._floor = self.frames
        self._start = None
        self._voiced, self._energy = [], []
        self._window.clear()
        return True

    def continue_from(self, previous: Endpointer) -> None:
        """Take over a stream from `previous` (same stream, new rules) at its current frame; no region
        may be open in `previous`."""
        self.frames = previous.frames
        self._floor = previous.frames

    def skip_to(self, frame: int) -> None:
        """Frames up to `frame` were not looked at (no VAD ran): nothing can start before it."""
        self.frames = max(self.frames, frame)
        self._floor = max(self._floor, self.frames)
        self._window.clear()

    def _open(self, start: int, events: list[EndpointEvent]) -> None:
        self._start = start
        # Frames from the region's start up to now were already seen; replay them into its history
        # (padding older than the window counts as silence: it was, or the region would have opened).
        history = {i: (f, e) for i, f, e in self._window}
        replay = [history.get(i, (False, 0.0)) for i in range(start, self.frames)]
        self._voiced = [f for f, _ in replay]
        self._energy = [e for _, e in replay]
        self._last_voiced = max(i for i, f, _ in self._window if f)
        self._window.clear()
        events.append(RegionOpened(start))

    def _close(self, end: int, reason: str, events: list[EndpointEvent], keep_short: bool = False) -> None:
        assert self._start is not None
        voiced = sum(self._voiced[: end - self._start])
        if keep_short or voiced >= self._min_voiced:
            events.append(RegionClosed(self._start, end, voiced, reason))  # type: ignore[arg-type]
        else:
            events.append(RegionDropped(self._start, end))
        self._floor = end
        self._start = None
        self._voiced, self._energy = [], []
        self._window.clear()

    def _cut(self, events: list[EndpointEvent]) -> None:
        """Cut the region at its quietest frame in its latter half (a pause between words, with luck),
        preferring frames the VAD called non-speech."""
        assert self._start is not None
        begin = len(self._energy) // 2
        energy = np.asarray(self._energy[begin:], dtype=np.float32)
        unvoiced = ~np.asarray(self._voiced[begin:], dtype=bool)
        if unvoiced.any():
            energy = np.where(unvoiced, energy, np.inf)
        cut = self._start + begin + int(np.argmin(energy)) + 1
        start = self._start
        voiced = sum(self._voiced[: cut - start])
        events.append(RegionClosed(start, cut, voiced, "max_length"))
        offset = cut - start
        self._voiced, self._energy = self._voiced[offset:], self._energy[offset:]
        self._start = cut
        self._last_voiced = max(self._last_voiced, cut - 1)
        events.append(RegionOpened(cut))


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """int16 samples as they are; float samples in [-1, 1] scaled to int16."""
    if samples.dtype == np.int16:
        return samples
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


def speech_regions(
    samples: np.ndarray, sample_rate: int = TARGET_SAMPLE_RATE, rules: EndpointRules | None = None
) -> list[tuple[float, float]]:
    """(start, end) seconds of each speech region of a whole mono clip (float32 in [-1, 1] or int16),
    in order, each at most `rules.max_region_seconds` long. Runs at about 5000× real time."""
    rules = rules or EndpointRules()
    vad = FrameVad(sample_rate, rules.aggressiveness)
    endpointer = Endpointer(rules)
    pcm = to_pcm16(np.asarray(samples).reshape(-1))
    events = endpointer.push(*vad.classify(pcm))
    events += endpointer.finish()
    duration = len(pcm) / sample_rate
    frame = vad.frame_samples / sample_rate
    regions = []
    for event in events:
        if isinstance(event, RegionClosed):
            # A region still open at the last whole frame also takes the samples after it.
            end = duration if event.end_frame >= endpointer.frames else event.end_frame * frame
            regions.append((round(event.start_frame * frame, 3), round(min(end, duration), 3)))
    return regions
