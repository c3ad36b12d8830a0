"""``python -m tests.standin_vllm --port 8000 --speed 27 [--realtime] [--words]``: serve until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tests.standin_vllm.realtime import DEFAULT_REALTIME_MODEL
from tests.standin_vllm.server import StandInVLLM
from tests.standin_vllm.voxtral import DEFAULT_MODEL, words_transcriber


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Stand-in vLLM server (Voxtral, OpenAI-compatible API).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--model", default=None, help=f"default {DEFAULT_MODEL}, or with --realtime {DEFAULT_REALTIME_MODEL}"
    )
    parser.add_argument("--speed", type=float, default=None, help="audio seconds processed per second")
    parser.add_argument(
        "--delay-seconds", "--delay", type=float, default=0.0, help="extra seconds per request"
    )
    parser.add_argument("--max-audio-seconds", type=float, default=600)
    parser.add_argument("--max-file-size-mb", type=float, default=25)
    parser.add_argument(
        "--realtime", action="store_true", help="a realtime model: serve vLLM's WS /v1/realtime"
    )
    parser.add_argument(
        "--realtime-step-seconds", type=float, default=0.48, help="audio per simulated realtime decoding step"
    )
    parser.add_argument(
        "--realtime-done-delay-seconds", type=float, default=0.0, help="extra time before each realtime done"
    )
    parser.add_argument(
        "--words",
        action="store_true",
        help="transcripts of one word per half second of audio (a growing text)",
    )
    parser.add_argument("--keepalive-seconds", type=float, default=5.0, help="VLLM_HTTP_TIMEOUT_KEEP_ALIVE")
    parser.add_argument("--max-num-queued-reqs", type=int, default=None)
    parser.add_argument(
        "--prefill-fraction",
        type=float,
        default=0.1,
        help="of a streamed request's work, before the first token",
    )
    parser.add_argument("--max-num-seqs", type=int, default=256, help="batch places (more wait)")
    parser.add_argument("--enable-server-load-tracking", action="store_true", help="count /load")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    model = args.model or (DEFAULT_REALTIME_MODEL if args.realtime else DEFAULT_MODEL)
    server = StandInVLLM(
        model=model,
        speed=args.speed,
        delay_seconds=args.delay_seconds,
        max_audio_seconds=args.max_audio_seconds,
        max_file_size_mb=args.max_file_size_mb,
        realtime=args.realtime,
        realtime_step_seconds=args.realtime_step_seconds,
        realtime_done_delay_seconds=args.realtime_done_delay_seconds,
        transcriber=words_transcriber if args.words else None,
        keepalive_seconds=args.keepalive_seconds,
        max_num_queued_reqs=args.max_num_queued_reqs,
        prefill_fraction=args.prefill_fraction,
        max_num_seqs=args.max_num_seqs,
        server_load_tracking=args.enable_server_load_tracking,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"stand-in vLLM ({model}) listening on {await server.start(args.host, args.port)}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_parse_args(argv)))


if __name__ == "__main__":
    main()
