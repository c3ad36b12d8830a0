"""ReceiveWatcher (disconnect detection) and ShutdownCoordinator (drain, deadline), without a server."""

from __future__ import annotations

import asyncio
import gc
import signal
import weakref

from voxtral_gateway.lifecycle import ReceiveWatcher, expects_body
from voxtral_gateway.runtime import ShutdownCoordinator


class FakeReceive:
    def __init__(self, messages: list[dict]):
        self.queue: asyncio.Queue[dict] = asyncio.Queue()
        for message in messages:
            self.queue.put_nowait(message)

    async def __call__(self) -> dict:
        return await self.queue.get()


def test_expects_body():
    assert expects_body({"headers": [(b"content-length", b"10")], "http_version": "1.1"})
    assert not expects_body({"headers": [(b"content-length", b"0")], "http_version": "1.1"})
    assert not expects_body({"headers": [], "http_version": "1.1"})
    assert expects_body({"headers": [(b"transfer-encoding", b"chunked")], "http_version": "1.1"})
    assert expects_body({"headers": [], "http_version": "2"})


async def test_the_app_reads_its_body_then_a_disconnect_is_noticed():
    receive = FakeReceive([{"type": "http.request", "body": b"ab", "more_body": True}])
    left: list[bool] = []
    watcher = ReceiveWatcher(receive, lambda: left.append(True), body_expected=True)
    watcher.start()  # body not read yet: nothing to watch
    assert (await watcher.receive())["body"] == b"ab"
    receive.queue.put_nowait({"type": "http.request", "body": b"c", "more_body": False})
    assert (await watcher.receive())["body"] == b"c"
    await asyncio.sleep(0)
    assert not left
    receive.queue.put_nowait({"type": "http.disconnect"})
    await asyncio.wait_for(watcher.disconnected.wait(), 1)
    assert left == [True]
    assert (await watcher.receive())["type"] == "http.disconnect"
    await watcher.close()


async def test_without_a_body_watching_starts_at_once_and_the_app_still_gets_its_empty_body():
    receive = FakeReceive([{"type": "http.request", "body": b"", "more_body": False}])
    left: list[bool] = []
    watcher = ReceiveWatcher(receive, lambda: left.append(True), body_expected=False)
    watcher.start()
    assert await watcher.receive() == {"type": "http.request", "body": b"", "more_body": False}
    receive.queue.put_nowait({"type": "http.disconnect"})
    await asyncio.wait_for(watcher.disconnected.wait(), 1)
    assert left == [True]
    await watcher.close()


async def test_a_closed_watcher_is_freed_without_the_garbage_collector():
    receive = FakeReceive([{"type": "http.request", "body": b"", "more_body": False}])
    watcher = ReceiveWatcher(receive, lambda: None, body_expected=False)
    watcher.start()
    await asyncio.sleep(0.01)  # the watcher task now waits in receive(): cancelling it raises there
    watched = weakref.ref(watcher)
    gc.disable()
    try:
        await watcher.close()
        del watcher
        assert watched() is None, "a reference cycle keeps the closed watcher (and its request) alive"
    finally:
        gc.enable()


async def test_shutdown_waits_for_streams_then_hands_over_then_cancels_late_requests():
    handed_over: list[tuple[bool, bool]] = []  # (the stream had ended, the deadline had passed)
    coordinator = ShutdownCoordinator(
        1.0, hand_over=lambda: handed_over.append((stream_task.done(), coordinator.deadline_passed))
    )

    async def stream() -> None:
        await coordinator.draining.wait()
        await asyncio.sleep(0.05)  # its goodbye: final messages, close

    async def slow_request() -> None:
        await asyncio.sleep(10)

    stream_task = asyncio.create_task(stream())
    request_task = asyncio.create_task(slow_request())
    coordinator.track_stream(stream_task)
    coordinator.track_request(request_task)
    coordinator.begin()
    coordinator.begin()  # a second SIGTERM changes nothing
    await stream_task
    await asyncio.gather(request_task, return_exceptions=True)
    assert stream_task.done() and not stream_task.cancelled()
    assert request_task.cancelled() and coordinator.deadline_passed
    assert handed_over == [(True, False)]  # once, after the stream, not at the deadline
    await coordinator.close()


async def test_sigterm_stays_taken_over_until_the_runtime_has_closed():
    """granian's main process sends its own SIGTERM to a worker that is already shutting down; arriving
    while the runtime closes (handing jobs back), it must not kill the worker with SIGTERM's default
    action. Only `give_back_signal`, the lifespan's last step, restores it."""
    coordinator = ShutdownCoordinator(1.0, hand_over=lambda: None)
    assert coordinator.install_signal_handler()  # the test's loop runs in the main thread
    try:
        coordinator.begin()
        await coordinator.close()
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    finally:
        coordinator.give_back_signal()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
