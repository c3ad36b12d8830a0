"""`python -m voxtral_gateway.smoke --url URL [--api-key KEY]`: exercise every feature of a deployed
gateway, print a PASS/FAIL/SKIP line per check, exit 1 if anything failed (2 for bad arguments)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import aiohttp

from voxtral_gateway.smoke.checks import CHECKS, CheckFailed, Skip, SmokeContext
from voxtral_gateway.smoke.clip import speech_clip
from voxtral_gateway.smoke.report import CheckResult, Report

API_KEY_VARIABLE = "VOXTRAL_GATEWAY_API_KEY"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m voxtral_gateway.smoke",
        description="Smoke-test a running voxtral-gateway: health, transcribe, batch, understand, the "
        "OpenAI route, the WebSocket stream and metrics.",
    )
    parser.add_argument("--url", default="http://localhost:8080", help="the gateway's base URL")
    parser.add_argument(
        "--api-key", default=os.environ.get(API_KEY_VARIABLE), help=f"API key (or {API_KEY_VARIABLE})"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per check (default 120)")
    parser.add_argument("--clip", type=Path, help="an audio file to send instead of the generated speech")
    parser.add_argument("--language", default="en", help="language sent with the clip ('' for none)")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> bool:
    clip = speech_clip(args.clip)
    base_url = args.url.rstrip("/")
    report = Report(total=len(CHECKS))
    report.header(base_url, clip.source)
    started = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=args.timeout, connect=min(10.0, args.timeout))
    async with aiohttp.ClientSession(base_url=base_url, timeout=timeout) as session:
        ctx = SmokeContext(
            base_url=base_url,
            clip=clip,
            session=session,
            api_key=args.api_key,
            timeout_seconds=args.timeout,
            language=args.language or None,
        )
        unreachable: str | None = None
        for name, check in CHECKS:
            if unreachable is not None:
                report.add(
                    CheckResult(
                        name=name, status="fail", seconds=0.0, detail="not run: the server is unreachable"
                    )
                )
                continue
            check_started = time.perf_counter()
            async with report.running(name):
                try:
                    detail, status = await check(ctx), "pass"
                except Skip as exc:
                    detail, status = f"skipped: {exc}", "skip"
                except CheckFailed as exc:
                    detail, status = str(exc), "fail"
                except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
                    unreachable = f"{base_url} is unreachable ({exc})"
                    detail, status = unreachable, "fail"
                except TimeoutError:
                    detail, status = f"no answer within {args.timeout:g} s", "fail"
                except Exception as exc:
                    detail, status = f"{type(exc).__name__}: {exc}", "fail"
            report.add(
                CheckResult(
                    name=name, status=status, seconds=time.perf_counter() - check_started, detail=detail
                )
            )
    return report.summary(time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.clip is not None and not args.clip.is_file():
        print(f"smoke: --clip {args.clip} is not a file", file=sys.stderr)
        return 2
    try:
        ok = asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130
    return 0 if ok else 1
