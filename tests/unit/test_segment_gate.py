"""A long file's segments: a guaranteed share, more only while the worker's admission gate has room."""

from __future__ import annotations

import asyncio

from voxtral_gateway.services.admission import AdmissionGate, AdmissionLimits
from voxtral_gateway.services.segment_gate import SegmentGate


async def _run(gate: SegmentGate, count: int, release: asyncio.Event) -> None:
    async def one() -> None:
        async with gate.slot():
            await release.wait()

    await asyncio.gather(*(one() for _ in range(count)))


async def test_without_spare_capacity_only_the_share_runs():
    gate = SegmentGate(share=3, limit=10, spare=lambda own: False)
    release = asyncio.Event()
    run = asyncio.create_task(_run(gate, 8, release))
    await asyncio.sleep(0.02)
    assert gate.in_flight == 3
    release.set()
    await run
    assert gate.most == 3 and gate.in_flight == 0


async def test_with_spare_capacity_up_to_the_limit():
    gate = SegmentGate(share=3, limit=6, spare=lambda own: True)
    release = asyncio.Event()
    run = asyncio.create_task(_run(gate, 8, release))
    await asyncio.sleep(0.02)
    assert gate.in_flight == 6
    release.set()
    await run
    assert gate.most == 6


async def test_the_share_never_exceeds_the_limit():
    gate = SegmentGate(share=8, limit=4, spare=lambda own: True)
    assert gate.share == 4


def test_admission_lends_only_when_otherwise_idle_and_keeps_a_quarter_free():
    gate = AdmissionGate(AdmissionLimits(max_in_flight=8, queue_limit=4, max_wait_seconds=1))
    assert gate.has_spare(own=0)
    gate._in_flight = 5
    assert gate.has_spare(own=5)
    assert not gate.has_spare(own=4)  # one other request in flight: it has precedence
    gate._in_flight = 6  # 2 of 8 must stay free
    assert not gate.has_spare(own=6)
    gate._in_flight = 1
    gate._waiters.append(asyncio.Future(loop=asyncio.new_event_loop()))
    assert not gate.has_spare(own=1)  # someone is waiting: the slot is theirs


async def test_borrowing_follows_the_admission_gate():
    admission = AdmissionGate(AdmissionLimits(max_in_flight=8, queue_limit=4, max_wait_seconds=5))
    gate = SegmentGate(share=2, limit=16, spare=admission.has_spare)
    release = asyncio.Event()

    async def segment() -> None:
        async with gate.slot(), admission.slot():
            await release.wait()

    tasks = [asyncio.create_task(segment()) for _ in range(10)]
    await asyncio.sleep(0.02)
    assert gate.in_flight == admission.in_flight == 6  # 8 slots, 2 kept free
    async with admission.slot():  # a short request still gets a slot at once
        assert admission.in_flight == 7
        assert not admission.has_spare(own=gate.in_flight)  # and while it runs, no more is lent
    release.set()
    await asyncio.gather(*tasks)
    assert gate.most == 6
