"""The live core's turns (services/live): speech start/stop events, client commits with and without the
VAD, clearing, per-session VAD rules, and `TurnDone` per ended turn, on real speech."""

from __future__ import annotations

import wave

import pytest

from tests.audio_fixtures import FixtureSet
from tests.unit.test_live_session import RATE, NumberingBackend, _check_language, _language_of
from voxtral_gateway.audio import AudioLimits
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.services.live import (
    AudioInput,
    ClientTurns,
    Done,
    Final,
    LiveCollaborators,
    LiveEvent,
    LiveSession,
    ServerVad,
    SpeechStarted,
    SpeechStopped,
    TurnDetection,
    TurnDone,
)
from voxtral_gateway.services.live.config import StreamConfig
from voxtral_gateway.services.live.turns import endpoint_rules

PIECE = RATE // 10 * 2  # 100 ms of 16-bit samples


def _session(events: list[LiveEvent], turn_detection: TurnDetection | None = None) -> LiveSession:
    collaborators = LiveCollaborators(
        backend=NumberingBackend(),
        cpu_pool=CpuPool("decode", 1, 8),
        audio_limits=AudioLimits(max_bytes=1 << 30, max_duration_seconds=3600),
        check_language=_check_language,
        language_of=_language_of,
    )
    session = LiveSession(
        session_id="turns",
        config=StreamConfig(partial_interval_seconds=0),
        collaborators=collaborators,
        emit=events.append,
        turn_detection=turn_detection,
    )
    session.declare_audio(AudioInput(format="pcm_s16le", sample_rate=RATE, raw=True))
    return session


@pytest.fixture(scope="module")
def multi(audio_fixtures: FixtureSet) -> bytes:
    with wave.open(str(audio_fixtures.multi_utterance.path), "rb") as handle:
        return handle.readframes(handle.getnframes())


def _of(events: list[LiveEvent], kind: type) -> list:
    return [event for event in events if isinstance(event, kind)]


async def _feed(session: LiveSession, pcm: bytes) -> None:
    for start in range(0, len(pcm), PIECE):
        await session.feed(pcm[start : start + PIECE], start // PIECE + 1)


async def test_server_vad_reports_speech_starting_and_stopping_before_each_final(multi, audio_fixtures):
    events: list[LiveEvent] = []
    session = _session(events)

    async def receive() -> None:
        await _feed(session, multi)

    assert await session.run(receive) is None
    truth = audio_fixtures.multi_utterance.utterances
    started, stopped, finals = _of(events, SpeechStarted), _of(events, SpeechStopped), _of(events, Final)
    assert (
        [e.segment_id for e in started] == [e.segment_id for e in stopped] == [f.segment_id for f in finals]
    )
    assert len(finals) == len(truth)
    for start, stop, final, utterance in zip(started, stopped, finals, truth, strict=True):
        assert events.index(start) < events.index(stop) < events.index(final)
        assert start.start == final.start and stop.end == final.end
        assert start.start == pytest.approx(utterance.start, abs=0.6)
        assert stop.reason in ("silence", "end_of_audio")
    assert not _of(events, TurnDone)  # turns end only when asked
    assert isinstance(events[-1], Done)


async def test_without_vad_a_commit_is_one_utterance_and_clear_drops_the_audio(multi):
    events: list[LiveEvent] = []
    session = _session(events, ClientTurns())
    half = len(multi) // 2 // PIECE * PIECE

    async def receive() -> None:
        assert session.commit() is None  # nothing yet
        await _feed(session, multi[: PIECE * 20])
        session.clear()
        await _feed(session, multi[:half])
        assert session.commit() == 2
        await _feed(session, multi[half:])
        assert session.commit() == 3
        assert session.commit() is None

    assert await session.run(receive) is None
    stopped = _of(events, SpeechStopped)
    assert [(e.segment_id, e.reason) for e in stopped] == [(1, "cleared"), (2, "commit"), (3, "commit")]
    finals = _of(events, Final)
    assert [f.segment_id for f in finals] == [2, 3]
    # The whole audio between commits, silence included: no VAD trimmed it.
    assert finals[0].text == f"{half / 2 / RATE:.1f} s"
    assert finals[1].text == f"{(len(multi) - half) / 2 / RATE:.1f} s"
    assert finals[0].start == pytest.approx(2.0) and finals[1].start == finals[0].end


async def test_end_turn_emits_turn_done_after_the_turns_finals_and_the_session_goes_on(multi, audio_fixtures):
    events: list[LiveEvent] = []
    session = _session(events)
    truth = audio_fixtures.multi_utterance.utterances
    cut = round((truth[1].end + truth[2].start) / 2 * RATE) * 2 // PIECE * PIECE

    async def receive() -> None:
        await _feed(session, multi[:cut])
        session.end_turn()
        await _feed(session, multi[cut:])
        session.end_turn()

    assert await session.run(receive) is None
    turns = _of(events, TurnDone)
    assert [t.segments for t in turns] == [2, len(truth) - 2]
    finals = _of(events, Final)
    assert turns[0].text == " ".join(f.text for f in finals[:2])
    assert turns[1].text == " ".join(f.text for f in finals[2:])
    assert events.index(turns[0]) > events.index(finals[1])
    assert turns[0].audio_seconds == pytest.approx(cut / 2 / RATE, abs=0.001)
    assert isinstance(events[-1], Done) and events.index(turns[1]) < len(events) - 1


async def test_a_mid_utterance_commit_with_vad_transcribes_what_was_said_so_far(multi, audio_fixtures):
    events: list[LiveEvent] = []
    session = _session(events)
    first = audio_fixtures.multi_utterance.utterances[0]
    middle = round((first.start + first.end) / 2 * RATE) * 2 // PIECE * PIECE

    async def receive() -> None:
        await _feed(session, multi[:middle])
        assert session.commit() == 1

    await session.run(receive)
    stopped = _of(events, SpeechStopped)
    assert stopped[0].reason == "commit" and stopped[0].end == pytest.approx(middle / 2 / RATE, abs=0.001)


def test_openai_style_vad_parameters_map_onto_the_endpoint_rules():
    base = StreamConfig().endpoint
    rules = endpoint_rules(base, ServerVad(threshold=0.9, prefix_padding_seconds=0.3, silence_seconds=0.35))
    assert (rules.aggressiveness, rules.padding_seconds, rules.silence_seconds) == (3, 0.3, 0.35)
    assert endpoint_rules(base, ServerVad()) == base
    assert endpoint_rules(base, ServerVad(threshold=0.5)).aggressiveness == 2
    assert endpoint_rules(base, ServerVad(threshold=0.1)).aggressiveness == 0


async def test_a_shorter_silence_ends_utterances_sooner(multi):
    """The utterance's end is its last voiced frame either way; the VAD decides sooner."""
    decided: dict[float, list[int]] = {}
    for silence in (0.3, 0.6):
        fed = [0]
        stops: list[int] = []

        def emit(event: LiveEvent, stops: list[int] = stops, fed: list[int] = fed) -> None:
            if isinstance(event, SpeechStopped):
                stops.append(fed[0])

        session = _session([], ServerVad(silence_seconds=silence))
        session._emit_event = emit

        async def receive(session: LiveSession = session, fed: list[int] = fed) -> None:
            for start in range(0, len(multi), PIECE):
                fed[0] = start + PIECE
                await session.feed(multi[start : start + PIECE], None)

        await session.run(receive)
        decided[silence] = stops
    assert len(decided[0.3]) == len(decided[0.6]) == 6
    for sooner, later in zip(decided[0.3], decided[0.6], strict=True):
        assert later - sooner == pytest.approx(0.3 * RATE * 2, abs=2 * PIECE)
